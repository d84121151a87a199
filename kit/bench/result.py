"""The benchmark's result: the JSON-able dict, plus tables, a chart and a JSON file made from it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit.errors import BenchError

if TYPE_CHECKING:
    import pandas
    from matplotlib.figure import Figure

SCHEMA_VERSION = 1


def _spread(samples: list[float] | None) -> float | None:
    """How far apart the rounds of one strategy were (max - min, ms); None with a single round."""
    return round(max(samples) - min(samples), 3) if samples and len(samples) > 1 else None


def _require(data: dict[str, Any], part: str, present: bool) -> None:
    """Refuse a table or chart of a part this run did not measure, saying how to measure it."""
    if not present:
        measured = ", ".join(data.get("settings", {}).get("parts", [])) or "nothing"
        raise BenchError(
            f"this run did not measure the {part} part (it measured: {measured}); "
            f"run it with bench.run(parts={{{part!r}, ...}}) or without parts= to measure everything"
        )


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

    def to_frame(self) -> pandas.DataFrame:
        """The fixture strategies, cheapest first after the two empty-test baselines: per-test cost, ratios, one-time costs.

        ``spread_ms`` is how far apart the per-test costs of the rounds were (max - min), when there was more than one.

        ``compared_with`` names the baseline each strategy's cost is measured above (the empty test on the same loop).
        """
        import pandas as pd

        _require(self.data, "fixtures", bool(self.data["fixture_strategies"]))
        columns = [
            "label",
            "compared_with",
            "per_test_ms",
            "spread_ms",
            "ratio_to_cheapest",
            "per_test_mean_ms",
            "session_setup_ms",
            "amortized_per_test_ms",
            "absolute_per_test_ms",
            "session_s_median",
        ]
        rows = []
        for key in ("baseline", "baseline_session_loop"):
            base = self.data.get(key)
            if base:  # a baseline is its own zero; its absolute_per_test_ms is pytest's own cost per test
                rows.append(
                    {
                        "name": base["name"],
                        "label": base["label"],
                        "compared_with": None,
                        "per_test_ms": 0.0,
                        "spread_ms": None,
                        "ratio_to_cheapest": None,
                        "per_test_mean_ms": 0.0,
                        "session_setup_ms": 0.0,
                        "amortized_per_test_ms": 0.0,
                        "absolute_per_test_ms": base["per_test_ms"],
                        "session_s_median": base["session_s_median"],
                    }
                )
        rows += [
            {"name": row["name"], **{key: row.get(key) for key in columns}, "spread_ms": _spread(row.get("per_test_ms_samples"))}
            for row in sorted(self.data["fixture_strategies"], key=lambda r: r["per_test_ms"])
        ]
        return pd.DataFrame(rows, columns=["name", *columns]).set_index("name")

    def analyzer_frame(self) -> pandas.DataFrame:
        """Median milliseconds of the full report, each finder and the information_schema baseline, and whether they agree."""
        import pandas as pd

        a = self.data["analyzer"]
        _require(self.data, "analyzer", a is not None)
        rows = [("analyze_column_dependencies (full report)", a["report_ms_median"], a["foreign_keys_found"], a["same_result"])]
        rows += [(f"find_{name}", ms, None, None) for name, ms in a["finders_ms_median"].items()]
        rows.append(
            (
                "information_schema foreign keys (baseline)",
                a["information_schema_fk_ms_median"],
                a["information_schema_foreign_keys_found"],
                a["same_result"],
            )
        )
        frame = pd.DataFrame(rows, columns=["query", "ms_median", "foreign_keys_found", "same_result"]).set_index("query")
        frame.insert(1, "x_report", (frame["ms_median"] / a["report_ms_median"]).round(2))
        return frame

    def targets_frame(self) -> pandas.DataFrame:
        """The targets: what was required, what was measured, and whether it held (None: not measured)."""
        import pandas as pd

        return pd.DataFrame(self.data["targets"]).set_index("name")

    def plot(self) -> Figure:
        """A bar chart: per-test ms by fixture strategy, and the analyzer against information_schema (what was measured)."""
        from matplotlib.figure import Figure

        panels = [
            draw
            for draw, present in (
                (self._plot_fixtures, bool(self.data["fixture_strategies"])),
                (self._plot_analyzer, self.data["analyzer"] is not None),
            )
            if present
        ]
        _require(self.data, "fixtures", bool(panels))  # the chart needs the fixtures or the analyzer part
        both = len(panels) == 2
        fig = Figure(figsize=(13, 5) if both else (7, 5), layout="constrained")
        axes = fig.subplots(1, len(panels), width_ratios=[3, 2] if both else [1], squeeze=False)[0]
        for draw, ax in zip(panels, axes):
            draw(ax)
        machine = self.data["machine"]
        fig.suptitle(f"Loop Lab benchmark - Python {machine['python']}, {machine['cpus']} CPUs, PostgreSQL {machine['postgres']}")
        return fig

    def _plot_fixtures(self, ax: Any) -> None:
        from matplotlib.patches import Patch

        rows = sorted(self.data["fixture_strategies"], key=lambda r: r["per_test_ms"], reverse=True)
        colors = ["#55a868" if r["name"].startswith("session_loop") else "#4c72b0" for r in rows]  # shared loop: green
        bars = ax.barh([r["name"] for r in rows], [r["per_test_ms"] for r in rows], color=colors)
        labels = [
            f"{r['per_test_ms']:.2f} ms" + (f" ({r['ratio_to_cheapest']:.1f}x)" if r.get("ratio_to_cheapest") is not None else "")
            for r in rows
        ]
        ax.bar_label(bars, labels=labels, padding=3)
        ax.legend(
            handles=[
                Patch(color="#4c72b0", label="new connection per test"),
                Patch(color="#55a868", label="shared on the session loop"),
            ],
            loc="upper right",
        )
        ax.set_xlabel("ms per test above an empty async test on the same loop (median)")
        settings = self.data["settings"]
        ax.set_title(f"Fixture strategies: {settings['tests']} tests x {settings['repeats']} session(s) each")
        ax.margins(x=0.35)

    def _plot_analyzer(self, ax: Any) -> None:
        a = self.data["analyzer"]
        names = ["kit analyzer\nfull report", "information_schema\nforeign keys only"]
        values = [a["report_ms_median"], a["information_schema_fk_ms_median"]]
        bars = ax.bar(names, values, color=["#55a868", "#c44e52"])
        ax.bar_label(bars, labels=[f"{v:.1f} ms" for v in values], padding=3)
        ax.set_yscale("log")
        ax.set_ylabel("ms (median, log scale)")
        shape = a["schema"]
        ax.set_title(f"Analyzer, one column: {a['speedup']}x faster")
        ax.set_xlabel(
            f"{shape['tables']} tables, {shape['foreign_keys']} foreign keys,\n{shape['views']} views, {shape['indexes']} indexes"
        )
        ax.margins(y=0.3)

    def to_json(self, path: str | Path) -> Path:
        """Write the result as JSON (indented, UTF-8) and return the path."""
        path = Path(path)
        path.write_text(json.dumps(self.data, indent=2, default=str) + "\n", encoding="utf-8")
        return path
