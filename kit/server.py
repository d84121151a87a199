"""Old import path, kept working: the code lives in :mod:`kit.db.server` (``docs/architecture.md``)."""

from kit.db.config import OWNED_COMMENT
from kit.db.server import (
    DATABASE,
    ROOT_RUNTIME,
    SUPERUSER,
    Binaries,
    Server,
    ensure_server,
    find_binaries,
    server_status,
    stop_server,
)
from kit.errors import ServerError
