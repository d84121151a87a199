"""The hub's side of a room: it holds the admin credential and gives each single-user server one DATABASE_URL.

``LOOP_LAB_ADMIN_URL`` lives in the hub's own environment (or is passed to :func:`provision`). JupyterHub's
local process spawner passes a learner only ``Spawner.env_keep`` and ``Spawner.environment``; the hook refuses
to start a server when either would carry the admin credential.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from kit.db.config import ADMIN_ENV, ADMIN_FIX, DatabaseConfig
from kit.db.learners import provision_learner
from kit.db.room import ROOM_ENV, admit
from kit.errors import ConfigError, RoomError


def admin_url(environ: Mapping[str, str] | None = None) -> str:
    """The admin credential the hub holds: ``LOOP_LAB_ADMIN_URL`` in its environment, checked to be a URL."""
    env = os.environ if environ is None else environ
    url = env.get(ADMIN_ENV, "")
    if not url:
        raise ConfigError(
            f"{ADMIN_ENV} is not set in this process. Set it to a role on the central PostgreSQL that may create roles "
            "and databases, e.g. postgresql://looplab_admin:SECRET@db.internal:5432/postgres (docs/deploying.md)."
        )
    DatabaseConfig.from_url(url, source=ADMIN_ENV)  # a clear error now, not at the first spawn
    return url


async def provision(learner: str, *, admin: str | None = None, room: str | None = None) -> DatabaseConfig:
    """Create (or refresh, with a new password) ``learner``'s role and database; admit it to ``room`` if given.

    Returns the learner's own settings; ``admin`` defaults to :func:`admin_url`.
    """
    url = admin or admin_url()
    config = await provision_learner(url, learner)
    if room:
        await admit(url, room, config.user, learner)
    return config


def refuse_admin_credential(spawner: Any) -> None:
    """Raise :class:`RoomError` if the spawner would hand a learner the admin credential."""
    if ADMIN_ENV in spawner.environment or ADMIN_ENV in spawner.env_keep:
        where = "c.Spawner.environment" if ADMIN_ENV in spawner.environment else "c.Spawner.env_keep"
        raise RoomError(f"{ADMIN_ENV} is in {where}: every learner could read the admin credential. {ADMIN_FIX}")


async def pre_spawn_hook(spawner: Any) -> None:
    """JupyterHub's ``Spawner.pre_spawn_hook``: provision the user's database, pass only its ``DATABASE_URL``.

    With ``LOOP_LAB_ROOM`` in ``c.Spawner.environment`` the learner is admitted to that room's live view too.
    """
    refuse_admin_credential(spawner)
    room = spawner.environment.get(ROOM_ENV) or None
    config = await provision(spawner.user.name, room=room)
    # A new dict: the configured one may be shared by every spawner, and must never carry a learner's password.
    spawner.environment = {**spawner.environment, "DATABASE_URL": config.url}
