"""Connections the kit left open on the server, read from pg_stat_activity (shared by the suite's checks)."""

from __future__ import annotations

import asyncio
import time

import asyncpg


async def _left(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT datname, usename, application_name, state FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND (application_name = 'loop-lab' OR usename LIKE 'loop\\_lab\\_%')"
        )
    finally:
        await conn.close()
    return [f"{r['usename']}@{r['datname']} ({r['application_name']}, {r['state']})" for r in rows]


def kit_connections_left(url: str, *, grace_s: float = 5.0) -> list[str]:
    """The kit's connections still open, after giving just-closed ones ``grace_s`` seconds to go away."""
    deadline = time.monotonic() + grace_s
    while (left := asyncio.run(_left(url))) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left
