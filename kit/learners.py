"""Old import path, kept working: the code lives in :mod:`kit.db.learners` (``docs/architecture.md``)."""

from kit.db.learners import database_name, ensure_learner_database, learner_name
from kit.errors import LearnerError
