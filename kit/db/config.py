"""Where the database is: one place that decides which PostgreSQL the kit talks to.

Order of precedence:

1. ``DATABASE_URL`` if it is set;
2. the seed's ``DB_HOST``/``DB_PORT``/``DB_USER``/``DB_PASSWORD``/``DB_NAME`` if ``DB_HOST`` is set;
3. with ``LOOP_LAB_ADMIN_URL`` set, this learner's own database on that central server (:mod:`kit.db.learners`);
   refused in a JupyterHub single-user server, where the hub provisions instead (:mod:`kit.room`);
4. the kit's own private server, recorded in a state file by :mod:`kit.db.server`.

:func:`choose` makes that decision, in this one place; :func:`kit.db.server.ensure_server` acts on it.

The kit never probes ``localhost:5432`` on its own. Passwords are masked in every ``repr`` and
message; only :attr:`DatabaseConfig.url` holds the full secret, and asking for it is explicit.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, NamedTuple
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from kit.db.state import LEARNER_STATE_FILE, STATE_FILE, read_state
from kit.errors import ConfigError, RoomError, ServerNotStarted

MASK = "***"
# Databases the kit creates carry this comment; destructive fixtures check it before touching anything.
OWNED_COMMENT = "loop-lab: created by the kit, disposable"

# The seed pattern's defaults (docs/architecture.md, "The seed"), kept so suites written against it mean the same.
SEED_DEFAULTS = {"DB_PORT": "5434", "DB_USER": "test_user", "DB_PASSWORD": "test_password", "DB_NAME": "kailash_test"}


# ``password=...`` as a libpq keyword (``host=h password='p w'``) or a query parameter (``?password=p&...``).
_KEYWORD_PASSWORD = re.compile(r"(?i)(\w*password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)")
# ``user:password@`` where the URL around it is malformed (``postgresql//u:p@h``, ``postgresql:/u:p@h``, ``u:p@h``).
_USERINFO = re.compile(r"(^|/|\s)([^\s:/@]*):([^\s@]*)@")


def mask_url(url: str) -> str:
    """Return ``url`` with every password replaced by ``***``, before anything quotes it.

    Masks the URL's user info, ``password=`` query parameters and libpq keywords (``host=h password=p``),
    and ``user:password@`` in URLs too malformed to parse (a missing colon); unsplittable URLs are hidden whole.
    """
    text = _KEYWORD_PASSWORD.sub(rf"\g<1>{MASK}", str(url))
    try:
        parts = urlsplit(text)
        if parts.password is not None:
            netloc = parts.netloc.rsplit("@", 1)
            user = netloc[0].split(":", 1)[0]
            return parts._replace(netloc=f"{user}:{MASK}@{netloc[1]}").geturl()
    except ValueError:
        return "<unparseable URL, hidden>"
    return text if parts.netloc else _USERINFO.sub(rf"\g<1>\g<2>:{MASK}@", text)


class MaskedDSN(str):
    """A DSN, password included (asyncpg gets the real string), whose ``repr`` masks the password.

    pytest shows fixture values, locals and assertion operands with ``repr``: a DSN handed to a test
    as this type never shows its password in a failure report. ``str()`` and f-strings give the full DSN.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(mask_url(self))


URL_SHAPE = "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
# What asyncpg reads from a DSN's query string, and the startup parameters application_name and options.
URL_PARAMETERS = frozenset(
    {
        *("host", "port", "user", "password", "passfile", "dbname", "database", "service"),
        *("sslmode", "sslcert", "sslkey", "sslrootcert", "sslcrl", "sslpassword", "sslnegotiation"),
        *("ssl_min_protocol_version", "ssl_max_protocol_version", "target_session_attrs", "krbsrvname", "gsslib"),
        *("application_name", "options"),
    }
)


def port_number(text: str, what: str) -> int:
    """``text`` as a TCP port (ASCII digits, 1 to 65535), or a :class:`ConfigError` naming ``what``."""
    if not (text.isascii() and text.isdigit() and 0 < int(text) < 65536):
        shown = f"{what}={text!r}" if what.isidentifier() else f"{what} ({text!r})"
        raise ConfigError(f"{shown} is not a port number. Set it to a number such as 5432.")
    return int(text)


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
    # The URL's other query parameters (sslmode, options, application_name...), passed on to asyncpg as given.
    params: tuple[tuple[str, str], ...] = ()

    @property
    def url(self) -> MaskedDSN:
        """The full DSN, password and query parameters included (masked in its ``repr``); asyncpg accepts it.

        A host that is a directory (a unix socket's) goes in the query string: ``postgresql://u:p@/db?host=/dir&port=N``.
        """
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        on_socket = self.host.startswith("/")
        query = [("host", self.host), ("port", str(self.port))] if on_socket else []
        query += self.params
        host = "" if on_socket else (f"[{self.host}]" if ":" in self.host else self.host) + f":{self.port}"
        tail = "?" + urlencode(query, safe="/", quote_via=quote) if query else ""
        return MaskedDSN(f"postgresql://{auth}@{host}/{quote(self.database, safe='')}{tail}")

    @property
    def socket_url(self) -> MaskedDSN | None:
        """The DSN over the unix socket, if the server has one the kit knows of."""
        return replace(self, host=self.socket_dir).url if self.socket_dir else None

    @property
    def masked_url(self) -> str:
        """The DSN with the password replaced by ``***``: safe to print."""
        return mask_url(self.url)

    def __repr__(self) -> str:
        return f"DatabaseConfig({self.masked_url!r}, source={self.source!r})"

    @classmethod
    def from_url(cls, url: str, source: str = "DATABASE_URL") -> DatabaseConfig:
        """Parse a ``postgresql://`` URL, with an error that says what is wrong with it.

        Every query parameter asyncpg knows is kept and passed on (``sslmode``, ``options``, ``application_name``...);
        ``host``, ``port``, ``user``, ``password`` and ``dbname`` in the query override the URL's own, as in libpq,
        so the kit's socket form ``postgresql://USER:PASSWORD@/DATABASE?host=/DIR&port=N`` works. Others are refused.
        """
        where = f"{source}={mask_url(url)!r}"
        try:
            parts = urlsplit(url.strip())
            port = parts.port
            query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True) if parts.query else []
        except ValueError as exc:
            raise ConfigError(f"{where} is not a valid URL ({exc}). Expected {URL_SHAPE}") from None
        if parts.scheme not in ("postgresql", "postgres"):
            raise ConfigError(
                f"{where} must start with postgresql:// (got scheme {parts.scheme or 'none'!r}). Expected {URL_SHAPE}"
            )
        params = dict(query)  # a repeated parameter: the last one wins, as in asyncpg
        unknown = sorted(set(params) - URL_PARAMETERS)
        if unknown:
            raise ConfigError(
                f"{where} has query parameter(s) the kit does not know: {', '.join(unknown)}. "
                f"Known: {', '.join(sorted(URL_PARAMETERS))}. For a server setting, use options=-c NAME=VALUE."
            )
        if port is not None:
            port = port_number(parts.netloc.rpartition(":")[2], f"The port in {where}")
        if "port" in params:
            port = port_number(params.pop("port"), f"The port= parameter in {where}")
        host = params.pop("host", None) or parts.hostname
        if not host:
            raise ConfigError(f"{where} names no host. Expected {URL_SHAPE} (or ?host=/SOCKET/DIR for a unix socket)")
        named = [params.pop(key) for key in ("dbname", "database") if key in params]  # asyncpg: database wins
        database = (named[-1] if named else "") or unquote(parts.path.lstrip("/"))
        if not database:
            raise ConfigError(f"{where} names no database. Add it after the host: .../DATABASE")
        return cls(
            host=host,
            port=port or 5432,
            user=params.pop("user", None) or unquote(parts.username or "postgres"),
            password=params.pop("password", None) or unquote(parts.password or ""),
            database=database,
            source=source,
            socket_dir=host if host.startswith("/") else None,
            params=tuple(params.items()),
        )

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> DatabaseConfig:
        """Build the configuration of the kit's own server (or a learner's database) from its state record."""
        return cls(
            host=state["host"],
            port=int(state["port"]),
            user=state["user"],
            password=state["password"],
            database=state["database"],
            source=state.get("source", "kit"),
            socket_dir=state.get("socket_dir"),
            params=tuple((str(key), str(value)) for key, value in state.get("params", ())),
        )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> DatabaseConfig:
        """Resolve the settings: ``DATABASE_URL``, else ``DB_HOST`` and friends, else the kit's server.

        Raises :class:`ServerNotStarted` when neither variable is set and the kit's server has not
        been started; :func:`kit.db.server.ensure_server` starts it.
        """
        choice = choose(environ)
        if choice.config is not None:
            return choice.config
        state = read_state(LEARNER_STATE_FILE if choice.kind == "learner" else STATE_FILE)
        if state is None and choice.kind == "learner":
            raise ServerNotStarted(
                "LOOP_LAB_ADMIN_URL is set, so this learner gets a database of their own on that central server, and it "
                "has not been provisioned in this home yet. Run `python -m kit db start` (or call kit.ensure_server())."
            )
        if state is None:
            raise ServerNotStarted(
                "No database is configured and the kit's own server is not running. "
                "Start it with `python -m kit db start` (or call kit.ensure_server()), "
                "or set DATABASE_URL to a database of yours."
            )
        return cls.from_state(state)


# Set by JupyterHub in every single-user server it spawns.
_HUB_SERVER = ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_USER")
# The admin credential of a room's central PostgreSQL: the hub holds it, a learner's server never does.
ADMIN_ENV = "LOOP_LAB_ADMIN_URL"
ADMIN_FIX = (
    f"Keep {ADMIN_ENV} in the hub's own environment only, remove it from c.Spawner.environment and c.Spawner.env_keep, "
    "and set c.Spawner.pre_spawn_hook = kit.room.pre_spawn_hook: the hook gives each learner only their DATABASE_URL "
    "(docs/deploying.md)."
)


class Choice(NamedTuple):
    """Which database the settings point at: an external one (with its config), a learner's, or the kit's."""

    kind: Literal["external", "learner", "kit"]
    config: DatabaseConfig | None = None  # for "external"
    admin_url: str | None = None  # for "learner"


def choose(environ: Mapping[str, str] | None = None) -> Choice:
    """Decide which database the environment asks for (the order in this module's docstring)."""
    env = os.environ if environ is None else environ
    if env.get(ADMIN_ENV) and any(env.get(key) for key in _HUB_SERVER):
        raise RoomError(
            f"{ADMIN_ENV} is set in this JupyterHub single-user server: every learner can read the admin credential "
            f"there. {ADMIN_FIX}"
        )
    if env.get("DATABASE_URL"):
        return Choice("external", DatabaseConfig.from_url(env["DATABASE_URL"]))
    if env.get("DB_HOST"):
        port = port_number(env.get("DB_PORT", SEED_DEFAULTS["DB_PORT"]), "DB_PORT")
        config = DatabaseConfig(
            host=env["DB_HOST"],
            port=port,
            user=env.get("DB_USER", SEED_DEFAULTS["DB_USER"]),
            password=env.get("DB_PASSWORD", SEED_DEFAULTS["DB_PASSWORD"]),
            database=env.get("DB_NAME", SEED_DEFAULTS["DB_NAME"]),
            source="DB_HOST",
        )
        return Choice("external", config)
    if env.get(ADMIN_ENV):
        return Choice("learner", admin_url=env[ADMIN_ENV])
    return Choice("kit")
