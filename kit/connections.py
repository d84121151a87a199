"""Old import path, kept working: the code lives in :mod:`kit.db.connections` (``docs/architecture.md``)."""

from kit.db.connections import APPLICATION_NAME, ConnectionManager, connect, create_pool, kit_connections, ping
from kit.errors import DatabaseUnavailable, InvalidDatabaseURL
