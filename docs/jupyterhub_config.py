# A Loop Lab room on one host: JupyterHub, the host's users, one central PostgreSQL (docs/deploying.md).
# `make test-hub` runs this very file (tests/hub/), with 30 learners at once.
#
# Start the hub as root, with the admin credential in the hub's environment only:
#   LOOP_LAB_ADMIN_URL=postgresql://looplab_admin:SECRET@db.internal:5432/postgres jupyterhub -f jupyterhub_config.py
# The hub's Python needs `pip install 'loop-lab[hub]'`; the learners' Python too (LOOP_LAB_SINGLEUSER names its
# jupyterhub-singleuser if it is not the hub's), and configurable-http-proxy on PATH (npm).
import os
from pathlib import Path

import kit.room

c = get_config()  # noqa: F821 (JupyterHub defines it)

# The host's users log in with their own passwords; each learner's server runs as that user.
c.JupyterHub.authenticator_class = "pam"
# Who may log in: the room's list (a file of user names), else every user of this host.
if os.environ.get("LOOP_LAB_LEARNERS_FILE"):
    c.Authenticator.allowed_users = set(Path(os.environ["LOOP_LAB_LEARNERS_FILE"]).read_text().split())
else:
    c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "localprocess"

# The hub creates each learner's role and database and gives the server only that learner's DATABASE_URL.
# LOOP_LAB_ADMIN_URL must not appear in c.Spawner.environment or c.Spawner.env_keep: the hook refuses to spawn.
c.Spawner.pre_spawn_hook = kit.room.pre_spawn_hook
# The instructor's live view (docs/instructor-guide.md): each check() records one row in this room. Not a secret.
c.Spawner.environment = {"LOOP_LAB_ROOM": os.environ.get("LOOP_LAB_ROOM", "workshop")}

# The course in each learner's home (`loop-lab notebooks ~/loop-lab-course`), opened in JupyterLab.
c.Spawner.cmd = [os.environ.get("LOOP_LAB_SINGLEUSER", "jupyterhub-singleuser")]
c.Spawner.notebook_dir = "~/loop-lab-course"
c.Spawner.default_url = "/lab/tree/00_check_your_setup.ipynb"
# A room pressing "Start" at once: a server takes seconds alone and longer when 30 start together on 2 cores.
c.Spawner.start_timeout = 300
c.Spawner.http_timeout = 300
c.JupyterHub.concurrent_spawn_limit = 100
