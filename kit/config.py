"""Old import path, kept working: the code lives in :mod:`kit.db.config` (``docs/architecture.md``)."""

from kit.db.config import MASK, OWNED_COMMENT, SEED_DEFAULTS, Choice, DatabaseConfig, choose, mask_url
from kit.db.state import LEARNER_STATE_FILE, STATE_FILE, read_state, state_dir
from kit.errors import ConfigError, ServerNotStarted
