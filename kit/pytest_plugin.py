"""Old import path, kept working: the code lives in :mod:`kit.plugin` (``docs/architecture.md``)."""

from kit.plugin import ALLOW_CLEANUP_ENV

pytest_plugins = ["kit.plugin"]  # for `-p kit.pytest_plugin` where plugin autoloading is off
