"""``python -m kit bench``: fixture strategies, the analyzer and start-up, measured (:mod:`kit.bench.command`).

From a notebook: ``from kit import bench; result = bench.run(quick=True)``.
"""

from kit.bench.command import PARTS, BenchError, BenchResult, main, run

__all__ = ["PARTS", "BenchError", "BenchResult", "main", "run"]
