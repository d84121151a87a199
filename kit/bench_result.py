"""The benchmark's result: the JSON-able dict, plus tables, a chart and a JSON file made from it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas
    from matplotlib.figure import Figure

SCHEMA_VERSION = 1


@dataclass
class BenchResult:
    """Everything one benchmark run measured; ``data`` follows the schema in docs/benchmarks.md."""

    data: dict[str, Any]

    @property
    def missed(self) -> list[dict[str, Any]]:
        """The targets that were checked and not met."""
        return [t for t in self.data["targets"] if t["ok"] is False]

    @property
    def ok(self) -> bool:
        """True when no checked target was missed (targets not measured in this run do not count)."""
        return not self.missed

    def to_frame(self) -> "pandas.DataFrame":
        """The fixture strategies, cheapest first: per-test cost above the empty-test baseline, ratios, one-time costs."""
        import pandas as pd

        base = self.data["baseline"]
        rows = [{"name": base["name"], "label": base["label"], "per_test_ms": 0.0, "ratio_to_cheapest": float("nan"),
                 "session_setup_ms": 0.0, "amortized_per_test_ms": 0.0, "absolute_per_test_ms": base["per_test_ms"],
                 "session_s_median": base["session_s_median"]}]
        columns = list(rows[0])
        rows += [{key: row[key] for key in columns} for row in sorted(self.data["fixture_strategies"], key=lambda r: r["per_test_ms"])]
        return pd.DataFrame(rows, columns=columns).set_index("name")

    def analyzer_frame(self) -> "pandas.DataFrame":
        """Median milliseconds of the full report, each finder and the information_schema baseline."""
        import pandas as pd

        a = self.data["analyzer"]
        rows = [("analyze_column_dependencies (full report)", a["report_ms_median"])]
        rows += [(f"find_{name}", ms) for name, ms in a["finders_ms_median"].items()]
        rows.append(("information_schema foreign keys (baseline)", a["information_schema_fk_ms_median"]))
        frame = pd.DataFrame(rows, columns=["query", "ms_median"]).set_index("query")
        frame["x_report"] = (frame["ms_median"] / a["report_ms_median"]).round(2)
        return frame

    def targets_frame(self) -> "pandas.DataFrame":
        """The targets: what was required, what was measured, and whether it held (None: not measured)."""
        import pandas as pd

        return pd.DataFrame(self.data["targets"]).set_index("name")

    def plot(self) -> "Figure":
        """A bar chart: per-test ms by fixture strategy, and the analyzer against information_schema."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(12, 4.8), layout="constrained")
        left, right = fig.subplots(1, 2, width_ratios=[3, 2])
        rows = sorted(self.data["fixture_strategies"], key=lambda r: r["per_test_ms"], reverse=True)
        bars = left.barh([r["name"] for r in rows], [r["per_test_ms"] for r in rows], color="#4c72b0")
        left.bar_label(bars, labels=[f"{r['per_test_ms']:.2f} ms ({r['ratio_to_cheapest']:.1f}x)" for r in rows], padding=3)
        left.set_xlabel("ms per test above an empty async test (median)")
        left.set_title(f"Fixture strategies, {self.data['settings']['tests']} tests per session")
        left.margins(x=0.3)

        a = self.data["analyzer"]
        names = ["kit analyzer\nfull report", "information_schema\nforeign keys only"]
        values = [a["report_ms_median"], a["information_schema_fk_ms_median"]]
        bars = right.bar(names, values, color=["#55a868", "#c44e52"])
        right.bar_label(bars, labels=[f"{v:.1f} ms" for v in values], padding=3)
        right.set_yscale("log")
        right.set_ylabel("ms (median, log scale)")
        shape = a["schema"]
        right.set_title(f"Analyzer, one column: {a['speedup']}x faster")
        right.set_xlabel(f"{shape['tables']} tables, {shape['foreign_keys']} foreign keys,\n{shape['views']} views, {shape['indexes']} indexes")
        right.margins(y=0.3)
        machine = self.data["machine"]
        fig.suptitle(f"Loop Lab benchmark - Python {machine['python']}, {machine['cpus']} CPUs, PostgreSQL {machine['postgres']}")
        return fig

    def to_json(self, path: str | Path) -> Path:
        """Write the result as JSON (indented, UTF-8) and return the path."""
        path = Path(path)
        path.write_text(json.dumps(self.data, indent=2, default=str) + "\n", encoding="utf-8")
        return path
