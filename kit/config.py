"""Where the database is: one place that decides which PostgreSQL the kit talks to.

Order of precedence:

1. ``DATABASE_URL`` if it is set;
2. the seed's ``DB_HOST``/``DB_PORT``/``DB_USER``/``DB_PASSWORD``/``DB_NAME`` if ``DB_HOST`` is set;
3. with ``LOOP_LAB_ADMIN_URL`` set, this learner's own database on that central server (:mod:`kit.learners`);
4. the kit's own private server, recorded in a state file by :mod:`kit.server`.

The kit never probes ``localhost:5432`` on its own. Passwords are masked in every ``repr`` and
message; only :attr:`DatabaseConfig.url` holds the full secret, and asking for it is explicit.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
STATE_FILE = "server.json"
LEARNER_STATE_FILE = "learner.json"

# The seed document's defaults, kept so test suites written against it mean the same thing.
SEED_DEFAULTS = {"DB_PORT": "5434", "DB_USER": "test_user", "DB_PASSWORD": "test_password", "DB_NAME": "kailash_test"}


class ConfigError(ValueError):
    """The database settings are wrong; the message says what and how to fix it."""


class ServerNotStarted(ConfigError):
    """No external database is configured and the kit's own server has not been started."""


def state_dir() -> Path:
    """The private directory holding the kit's state file, lock and (when not root) its server."""
    explicit = os.environ.get("LOOP_LAB_HOME")
    if explicit:
        return Path(explicit).expanduser().absolute()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "loop-lab"


def mask_url(url: str) -> str:
    """Return ``url`` with its password replaced by ``***`` (unparseable URLs are masked whole)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0].split(":", 1)[0]
        return parts._replace(netloc=f"{user}:{MASK}@{netloc[1]}").geturl()
    except ValueError:
        return "<unparseable URL, hidden>"


@dataclass(frozen=True)
class DatabaseConfig:
    """Connection settings for one PostgreSQL database, and where they came from."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    source: str
    socket_dir: str | None = None

    @property
    def url(self) -> str:
        """The full DSN, password included; asyncpg accepts it."""
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgresql://{auth}@{host}:{self.port}/{quote(self.database, safe='')}"

    @property
    def socket_url(self) -> str | None:
        """The DSN over the unix socket, if the server has one the kit knows of."""
        if not self.socket_dir:
            return None
        auth = quote(self.user, safe="") + (":" + quote(self.password, safe="") if self.password else "")
        return f"postgresql://{auth}@/{quote(self.database, safe='')}?host={quote(self.socket_dir)}&port={self.port}"

    @property
    def masked_url(self) -> str:
        """The DSN with the password replaced by ``***``: safe to print."""
        return mask_url(self.url)

    def __repr__(self) -> str:
        return f"DatabaseConfig({self.masked_url!r}, source={self.source!r})"

    @classmethod
    def from_url(cls, url: str, source: str = "DATABASE_URL") -> "DatabaseConfig":
        """Parse a ``postgresql://`` URL, with an error that says what is wrong with it."""
        where = f"{source}={mask_url(url)!r}"
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"{where} is not a valid URL ({exc}). Expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE") from None
        if parts.scheme not in ("postgresql", "postgres"):
            raise ConfigError(
                f"{where} must start with postgresql:// (got scheme {parts.scheme or 'none'!r}). "
                "Expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
            )
        if not parts.hostname:
            raise ConfigError(f"{where} names no host. Expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
        database = unquote(parts.path.lstrip("/"))
        if not database:
            raise ConfigError(f"{where} names no database. Add it after the host: .../DATABASE")
        return cls(
            host=parts.hostname,
            port=port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            database=database,
            source=source,
        )

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "DatabaseConfig":
        """Build the configuration of the kit's own server (or a learner's database) from its state record."""
        return cls(
            host=state["host"],
            port=int(state["port"]),
            user=state["user"],
            password=state["password"],
            database=state["database"],
            source=state.get("source", "kit"),
            socket_dir=state.get("socket_dir"),
        )

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> "DatabaseConfig":
        """Resolve the settings: ``DATABASE_URL``, else ``DB_HOST`` and friends, else the kit's server.

        Raises :class:`ServerNotStarted` when neither variable is set and the kit's server has not
        been started; :func:`kit.server.ensure_server` starts it.
        """
        env = os.environ if environ is None else environ
        if env.get("DATABASE_URL"):
            return cls.from_url(env["DATABASE_URL"])
        if env.get("DB_HOST"):
            port = env.get("DB_PORT", SEED_DEFAULTS["DB_PORT"])
            if not port.isdigit():
                raise ConfigError(f"DB_PORT={port!r} is not a port number. Set it to a number such as 5432.")
            return cls(
                host=env["DB_HOST"],
                port=int(port),
                user=env.get("DB_USER", SEED_DEFAULTS["DB_USER"]),
                password=env.get("DB_PASSWORD", SEED_DEFAULTS["DB_PASSWORD"]),
                database=env.get("DB_NAME", SEED_DEFAULTS["DB_NAME"]),
                source="DB_HOST",
            )
        state = read_state(LEARNER_STATE_FILE if env.get("LOOP_LAB_ADMIN_URL") else STATE_FILE)
        if state is None:
            raise ServerNotStarted(
                "No database is configured and the kit's own server is not running. "
                "Start it with `python -m kit db start` (or call kit.server.ensure_server()), "
                "or set DATABASE_URL to a database of yours."
            )
        return cls.from_state(state)


def read_state(name: str = STATE_FILE) -> dict[str, Any] | None:
    """The kit server's state record (or another state file of the kit's), ``None`` when none has been written."""
    path = state_dir() / name
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read the kit's state file {path} ({exc}). Run `python -m kit db stop` then `python -m kit db start`.") from None
