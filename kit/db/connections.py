"""Opening asyncpg connections with errors a learner can act on, and a connection manager that cleans up.

:func:`connect` and :func:`create_pool` wrap :func:`asyncpg.connect` and :func:`asyncpg.create_pool`:

* every failure becomes :class:`DatabaseUnavailable` (or :class:`InvalidDatabaseURL` for a DSN
  asyncpg cannot parse) whose message says what went wrong and how to fix it, with the password
  masked; the original exception is chained;
* every connection carries ``application_name=loop-lab`` (unless the DSN names its own), so
  ``pg_stat_activity`` shows which connections the kit opened and leaks can be counted;
* loopback hosts get ``ssl=False`` unless the DSN or ``PGSSLMODE`` asks for SSL: asyncpg's default
  ``sslmode=prefer`` costs a round trip for nothing on a local server; remote hosts keep the default.

:class:`ConnectionManager` is the seed pattern's ``AsyncConnectionManager`` done right: it hands
out connections and *awaits* closing each one it handed out.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterable
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg

from kit.db.config import URL_SHAPE, mask_url
from kit.errors import DatabaseUnavailable, InvalidDatabaseURL

__all__ = [
    "APPLICATION_NAME",
    "ConnectionManager",
    "DatabaseUnavailable",
    "InvalidDatabaseURL",
    "connect",
    "create_pool",
    "kit_connections",
    "ping",
]

APPLICATION_NAME = "loop-lab"
_LOOPBACK_HOSTS = {"localhost", "::1"}
_START_HINT = "Start the kit's server with `python -m kit db start`, or set DATABASE_URL to a PostgreSQL server that is running."


def _query(dsn: str) -> dict[str, list[str]]:
    try:
        return parse_qs(urlsplit(dsn).query)
    except ValueError:
        return {}


def _is_loopback(dsn: str) -> bool:
    try:
        host = urlsplit(dsn).hostname
    except ValueError:
        return False
    return host is not None and (host in _LOOPBACK_HOSTS or host.startswith("127."))


def _connect_options(dsn: str, timeout: float, command_timeout: float) -> dict[str, Any]:
    """Keyword arguments shared by :func:`connect` and :func:`create_pool`."""
    options: dict[str, Any] = {"timeout": timeout, "command_timeout": command_timeout}
    query = _query(dsn)
    if "application_name" not in query:
        options["server_settings"] = {"application_name": APPLICATION_NAME}
    if _is_loopback(dsn) and "sslmode" not in query and not os.environ.get("PGSSLMODE"):
        options["ssl"] = False
    return options


def _translate(exc: BaseException, dsn: str, timeout: float) -> Exception | None:
    """The kit's error for a failed connection attempt, or ``None`` if ``exc`` is not a connect failure."""
    where = mask_url(dsn)
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return DatabaseUnavailable(
            f"PostgreSQL rejected the password for {where}: {exc}. "
            "Check the user and password in DATABASE_URL (for the kit's own server, unset DATABASE_URL "
            "and let `python -m kit db start` provide them)."
        )
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return DatabaseUnavailable(
            f"The server is up but the database in {where} does not exist ({exc}). "
            "Create it (createdb NAME) or fix the database name at the end of DATABASE_URL."
        )
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return DatabaseUnavailable(f"PostgreSQL refused the login for {where}: {exc}. Check the user name in DATABASE_URL.")
    if isinstance(exc, asyncpg.PostgresError):
        return DatabaseUnavailable(f"PostgreSQL refused the connection to {where}: {exc}. {_START_HINT}")
    if isinstance(exc, ValueError):  # asyncpg's ClientConfigurationError is a ValueError too
        return InvalidDatabaseURL(f"The database URL {where} is malformed: {exc}. Expected {URL_SHAPE}.")
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return DatabaseUnavailable(
            f"No answer from PostgreSQL at {where} within {timeout:g} s: the host is unreachable, the server hangs, or "
            "this machine was too busy to finish connecting in time. "
            f"{_START_HINT}"
        )
    if isinstance(exc, socket.gaierror):
        return DatabaseUnavailable(f"The host in {where} cannot be resolved ({exc}). Fix the host name in DATABASE_URL.")
    if isinstance(exc, ConnectionRefusedError):
        return DatabaseUnavailable(f"Connection refused by {where}: no PostgreSQL server listens there. {_START_HINT}")
    if isinstance(exc, OSError):
        return DatabaseUnavailable(f"Cannot reach PostgreSQL at {where}: {exc}. {_START_HINT}")
    return None


async def connect(dsn: str, *, timeout: float = 5.0, command_timeout: float = 30.0) -> asyncpg.Connection:
    """Open one asyncpg connection to ``dsn``; fail within ``timeout`` seconds with a clear error.

    ``command_timeout`` bounds every query run on the connection. Raises
    :class:`DatabaseUnavailable` when the server cannot be reached or refuses the login, and
    :class:`InvalidDatabaseURL` when ``dsn`` is malformed.
    """
    try:
        return await asyncpg.connect(dsn, **_connect_options(dsn, timeout, command_timeout))
    except Exception as exc:
        error = _translate(exc, dsn, timeout)
        if error is None:
            raise
        raise error from exc


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 4, timeout: float = 5.0, command_timeout: float = 30.0
) -> asyncpg.Pool:
    """Create an asyncpg pool with the same settings and errors as :func:`connect`.

    The pool belongs to the event loop running this call: use it only from that loop.
    """
    try:
        return await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, **_connect_options(dsn, timeout, command_timeout)
        )
    except Exception as exc:
        error = _translate(exc, dsn, timeout)
        if error is None:
            raise
        raise error from exc


async def ping(dsn: str, query: str = "SELECT 1", *, timeout: float = 5.0) -> Any:
    """Connect, run one query, close; return the query's value (the probe every "does it answer?" uses)."""
    conn = await connect(dsn, timeout=timeout)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


# The kit's connections: its application_name, or a learner role it created. The asking connection is left out.
_KIT_CONNECTIONS_SQL = r"""
SELECT pid, datname, usename, application_name, state FROM pg_stat_activity
WHERE pid <> pg_backend_pid()
  AND (application_name = $1 OR usename LIKE 'loop\_lab\_%')
  AND (NOT $2::bool OR datname = current_database())
  AND pid <> ALL($3::int[])
  AND ($4::int[] IS NULL OR pid = ANY($4::int[]))
ORDER BY pid
"""


async def kit_connections(
    dsn: str, *, this_database: bool = False, exclude: Iterable[int] = (), only: Iterable[int] | None = None
) -> list[asyncpg.Record]:
    """The kit's connections open on the server now, from ``pg_stat_activity`` (one row each).

    ``this_database`` keeps those to the DSN's database; ``exclude`` and ``only`` filter by server pid.
    Each row has ``pid, datname, usename, application_name, state``.
    """
    conn = await connect(dsn)
    try:
        pids = None if only is None else list(only)
        return await conn.fetch(_KIT_CONNECTIONS_SQL, APPLICATION_NAME, this_database, list(exclude), pids)
    finally:
        await conn.close()


class ConnectionManager:
    """Hands out asyncpg connections and closes every one of them, awaited.

    Each :meth:`get_connection` call opens a *new* connection that the caller owns: the caller may
    close it when done (the kit's DependencyAnalyzer does), and the manager closes whatever is
    still open in :meth:`close_all_connections`. A new connection per call (about 5 ms on a local
    server) means concurrent callers never share one connection, which asyncpg forbids
    ("another operation is in progress"), and a connection closed by its user is never handed out again.

    Connections belong to the event loop that opened them: close the manager from that loop.
    Use it as ``async with ConnectionManager(url) as manager: ...``.
    """

    def __init__(self, database_url: str, *, timeout: float = 5.0, command_timeout: float = 30.0) -> None:
        self.database_url = database_url
        self._timeout = timeout
        self._command_timeout = command_timeout
        self._connections: list[asyncpg.Connection] = []

    def __repr__(self) -> str:
        return f"ConnectionManager({mask_url(self.database_url)!r}, open_connections={self.open_connections})"

    @property
    def open_connections(self) -> int:
        """How many connections this manager handed out that are still open."""
        return sum(not conn.is_closed() for conn in self._connections)

    async def get_connection(self) -> asyncpg.Connection:
        """Open and return a new connection; the manager tracks it and closes it if the caller does not."""
        conn = await connect(self.database_url, timeout=self._timeout, command_timeout=self._command_timeout)
        self._connections = [c for c in self._connections if not c.is_closed()]
        self._connections.append(conn)
        return conn

    async def close_all_connections(self, timeout: float = 5.0) -> int:
        """Close every connection still open, waiting for each; return how many were closed.

        A connection that does not close gracefully within ``timeout`` seconds is aborted (asyncpg's
        ``close`` does that itself), so no connection outlives this call.
        """
        still_open = [conn for conn in self._connections if not conn.is_closed()]
        self._connections = []
        await asyncio.gather(*(conn.close(timeout=timeout) for conn in still_open), return_exceptions=True)
        return len(still_open)

    async def __aenter__(self) -> ConnectionManager:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close_all_connections()
