"""The ini line that gives async fixtures the loop of their own scope, under the installed pytest-asyncio.

pytest-asyncio 1.x spells it ``asyncio_default_fixture_loop_scope = fixture-scope``; 0.24 to 0.26 reject that
value (``KeyError: 'fixture-scope'``) and do the same when the option is unset (with a deprecation warning).
"""

from __future__ import annotations

from kit.diagnose.rules import asyncio_version

_MAJOR = int((asyncio_version() or "0").split(".")[0])
FIXTURE_SCOPE_INI = "asyncio_default_fixture_loop_scope = fixture-scope" if _MAJOR >= 1 else ""
FIXTURE_SCOPE_SETTING = "'fixture-scope'" if _MAJOR >= 1 else "unset"  # how the guard names it
