"""A room of learners on a JupyterHub: provisioned by the hub, watched by the instructor.

In ``jupyterhub_config.py``::

    from kit.room import pre_spawn_hook
    c.Spawner.pre_spawn_hook = pre_spawn_hook   # the hub's own LOOP_LAB_ADMIN_URL never reaches a learner

``python -m kit room provision NAMES...`` does the same ahead of time, ``python -m kit room status`` prints
the room's live view (``LOOP_LAB_ROOM``). See docs/deploying.md and docs/instructor-guide.md.
"""

from kit.room.hub import admin_url, pre_spawn_hook, provision
from kit.room.status import grid, recorded, stuck, table

__all__ = ["admin_url", "grid", "pre_spawn_hook", "provision", "recorded", "stuck", "table"]
