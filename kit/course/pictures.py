"""Pictures for the course: the loop timeline of a run as a matplotlib figure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kit.diagnose.recorder import TIMELINE_COLUMNS
from kit.errors import TimelineError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


def plot(df: pd.DataFrame) -> Figure:
    """Draw a timeline: one row per fixture set-up and test, a bar from start to end, coloured by loop.

    A session fixture on ``loop 1`` used by tests on ``loop 2``, ``loop 3``... shows as bars of
    different colours; when fixture and tests share a loop the bars share a colour.
    """
    import pandas as pd
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    missing = set(TIMELINE_COLUMNS) - set(df.columns)
    if missing:
        raise TimelineError(f"plot() needs a timeline DataFrame with columns {TIMELINE_COLUMNS}; missing {sorted(missing)}.")
    rows = df.sort_values("start").reset_index(drop=True)
    loops = sorted({label for label in rows["loop"] if label.startswith("loop ")}, key=lambda label: int(label.split()[1]))
    palette = {label: f"C{(int(label.split()[1]) - 1) % 10}" for label in loops}
    figure = Figure(figsize=(9, 0.45 * len(rows) + 1.4), layout="constrained")
    axes = figure.add_subplot()
    for y, row in rows.iterrows():
        end = rows["start"].max() + 1 if pd.isna(row["end"]) else row["end"]
        colour = palette.get(row["loop"], "lightgrey")
        axes.barh(y, end - row["start"], left=row["start"], color=colour, edgecolor="black", height=0.6)
        axes.text(row["start"] + 0.1, y, row["loop"], va="center", fontsize=8)
    axes.set_yticks(range(len(rows)), [_row_label(row) for _, row in rows.iterrows()])
    axes.invert_yaxis()
    axes.set_xlabel("order of events (set-up ... teardown)")
    axes.set_title("Which event loop ran each fixture and test")
    handles = [Patch(color=colour, label=label) for label, colour in palette.items()]
    if handles:
        axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, title="event loop")
    return figure


def _row_label(row: Any) -> str:
    if row["kind"] == "test":
        return f"test {row['item']}"
    return f"fixture {row['item']} ({row['scope']})"
