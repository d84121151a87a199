"""Tables as pandas DataFrames: pandas is optional for the library (the course extra brings it)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from kit.errors import MissingExtraError

if TYPE_CHECKING:
    import pandas


def data_frame(rows: Iterable[Sequence[Any] | dict[str, Any]], columns: Sequence[str], *, caller: str) -> pandas.DataFrame:
    """``rows`` as a DataFrame with ``columns``; without pandas, a :class:`MissingExtraError` naming ``caller``."""
    try:
        import pandas
    except ImportError:
        raise MissingExtraError(
            f"{caller} needs pandas, which is not installed here: pip install pandas (or pip install 'loop-lab[course]')"
        ) from None
    return pandas.DataFrame(list(rows), columns=list(columns))
