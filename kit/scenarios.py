"""Old import path, kept working: the code lives in :mod:`kit.course.scenarios` (``docs/architecture.md``)."""

from kit.course.scenarios import COLUMNS, DIFFERENT_LOOP, EXPECTED_ON, SCENARIOS, Scenario, classify, passing, run_scenarios
from kit.errors import ScenarioError
