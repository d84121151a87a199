"""Connections the kit left open on the server, read from pg_stat_activity (shared by the suite's checks)."""

from __future__ import annotations

import asyncio
import time

from kit.db.connections import kit_connections


def kit_connections_left(url: str, *, grace_s: float = 5.0, this_database: bool = False) -> list[str]:
    """The kit's connections still open (to ``url``'s database only, with ``this_database``), after giving
    just-closed ones ``grace_s`` seconds to go away."""
    deadline = time.monotonic() + grace_s
    while (rows := asyncio.run(kit_connections(url, this_database=this_database))) and time.monotonic() < deadline:
        time.sleep(0.2)
    return [f"{r['usename']}@{r['datname']} ({r['application_name']}, {r['state']})" for r in rows]
