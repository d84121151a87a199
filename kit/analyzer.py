"""Old import path, kept working: the code lives in :mod:`kit.db.analyzer` (``docs/architecture.md``)."""

from kit.db.analyzer import (
    FRAME_COLUMNS,
    ConstraintDependency,
    DependencyAnalyzer,
    DependencyReport,
    DependencyType,
    ForeignKeyDependency,
    ImpactLevel,
    IndexDependency,
    TriggerDependency,
    ViewDependency,
)
from kit.errors import AnalyzerError, UnknownColumnError, UnknownSchemaError, UnknownTableError
