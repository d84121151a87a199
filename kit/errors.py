"""The kit's exceptions: one root, :class:`KitError`, so a caller catches one type.

Every exception the kit raises on purpose derives from :class:`KitError`; each also keeps the standard
base that says what kind of problem it is (a :class:`ValueError` for bad settings, a
:class:`ConnectionError` for a database that cannot be reached...), so ``except ValueError`` still works.
The loop guard's :class:`kit.diagnose.guard.LoopMismatchError` is a pytest outcome instead: it fails a
test, it is not raised to a caller.
"""

from __future__ import annotations


class KitError(Exception):
    """Something the kit was asked to do cannot be done; the message says what and how to fix it."""


class ConfigError(KitError, ValueError):
    """The database settings are wrong; the message says what and how to fix it."""


class ServerNotStarted(ConfigError):
    """No external database is configured and the kit's own server has not been started."""


class StateError(ConfigError):
    """The kit's state file or directory cannot be read or trusted."""


class UntrustedStateError(StateError):
    """The kit's state directory or file belongs to, or is writable by, another user: it could steer the kit."""


class ServerError(KitError, RuntimeError):
    """The kit's server could not be found, started or stopped; the message says how to fix it."""


class ServerInUse(ServerError):
    """The kit's server was not stopped: another client (another test run) holds a lease on it."""


class LearnerError(ServerError):
    """A learner's database could not be provided; the message says how to fix it."""


class DatabaseUnavailable(KitError, ConnectionError):
    """PostgreSQL could not be reached or refused the connection; the message says why and what to do."""


class InvalidDatabaseURL(ConfigError):
    """The DSN is malformed: asyncpg cannot parse it."""


class AnalyzerError(KitError):
    """The analysis could not be done; the message says what is wrong and how to fix it."""


class UnknownTableError(AnalyzerError):
    """The table (or view) named is empty or does not exist in the schema asked for."""


class UnknownSchemaError(UnknownTableError):
    """The schema named is empty or does not exist."""


class UnknownColumnError(AnalyzerError):
    """The column named is empty or does not exist in the table."""


class AuditError(KitError, ValueError):
    """The suite cannot be audited (missing path, collection error); the message says why."""


class NotebookError(KitError, RuntimeError):
    """The notebook helpers were used in a way that cannot work; the message says how to fix it."""


class NotebookUsageError(NotebookError, TypeError):
    """A notebook helper got an argument of the wrong kind (a string where a list of options belongs...)."""


class NotebookFileError(NotebookError, FileNotFoundError):
    """``run_file()`` was given a path that does not exist."""


class UnknownTestError(NotebookError, KeyError):
    """The last run has no test of that name; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class TimelineError(NotebookError, ValueError):
    """A table given to the timeline picture lacks the timeline's columns."""


class ScenarioError(KitError, ValueError):
    """run_scenarios() was asked for something it cannot run; the message says what to pass instead."""


class ExerciseError(KitError, KeyError):
    """No exercise has that key, or a key is registered twice; the message lists the known keys."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class MissingExtraError(KitError, ImportError):
    """An optional package a call needs is not installed; the message names the package and the install command."""


class SetupError(KitError, RuntimeError):
    """The kit is not installed the way the course needs; the message says how to set it up."""


class BenchError(KitError, ValueError):
    """Bad input to the benchmark; the message says what is wrong and how to fix it."""


class BenchRunError(KitError, RuntimeError):
    """A benchmark session failed; the message carries the end of its output."""


class BenchSchemaError(KitError, RuntimeError):
    """The benchmark schema cannot be built or replaced; the message says why and what to do."""


class CourseFilesError(KitError, FileNotFoundError):
    """The course's notebooks cannot be found or copied out; the message says why and what to do."""


class RoomError(ConfigError):
    """A room (a JupyterHub with one central PostgreSQL) is deployed in a way that is unsafe or cannot work."""
