"""Old import path, kept working: the code lives in :mod:`kit.diagnose.audit` (``docs/architecture.md``)."""

from kit.diagnose.audit import AuditResult, Finding, audit, main
from kit.errors import AuditError
