"""Loop Lab: a workshop kit on event loops, async pytest fixtures and asyncpg.

What your own code needs is importable from here; each name is loaded on first use, so ``import kit``
costs nothing until then::

    import kit
    dsn = kit.ensure_server()                 # the kit's PostgreSQL (or $DATABASE_URL), started if needed
    conn = await kit.connect(dsn)             # asyncpg, with errors that say what to do

The pytest plugin (:mod:`kit.plugin`) registers itself through the ``kit`` entry point; the loop guard
is ``pytest --loop-guard``, the audit ``python -m kit audit``. ``docs/architecture.md`` maps the package.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "ConnectionManager",
    "DatabaseConfig",
    "DependencyAnalyzer",
    "KitError",
    "connect",
    "create_pool",
    "ensure_server",
]

_WHERE = {
    "ConnectionManager": "kit.db.connections",
    "DatabaseConfig": "kit.db.config",
    "DependencyAnalyzer": "kit.db.analyzer",
    "KitError": "kit.errors",
    "connect": "kit.db.connections",
    "create_pool": "kit.db.connections",
    "ensure_server": "kit.db.server",
}

if TYPE_CHECKING:
    from kit.db.analyzer import DependencyAnalyzer
    from kit.db.config import DatabaseConfig
    from kit.db.connections import ConnectionManager, connect, create_pool
    from kit.db.server import ensure_server
    from kit.errors import KitError


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
