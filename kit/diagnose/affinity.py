"""Loop affinity: which event loop an object is bound to, for asyncio and the async libraries people test with.

One small interface:

* :func:`loop_of` -- the loop an open object is bound to (its own, else that of the first bound object
  it holds); ``None`` when it is closed or loop-free;
* :func:`held_objects` -- the objects it holds, each with the attribute path that reaches it;
* :func:`bound_objects` -- every loop-bound object inside a value, at any depth, with its path and the
  objects on the way to it (what the loop guard walks).

Behind it sits one :class:`Adapter` per library, registered once that library has been imported (its
objects cannot exist before, and a walk never pays for importing a library the suite does not use):
asyncio (futures, tasks, queues, locks, events, semaphores, conditions, transports, streams), asyncpg
(pools and connections), SQLAlchemy (``AsyncEngine``, ``AsyncConnection``, ``AsyncSession``,
``async_sessionmaker`` and their pools, idle and checked-out connections down to the driver connection),
aiohttp (``ClientSession``, connectors), redis.asyncio (clients, pools, connections), httpx
(``AsyncClient`` and its transports), ``databases.Database`` (its backend's pool and connections), psycopg
(``AsyncConnection``: bound to no loop by itself, only its lock while contended) and psycopg_pool
(``AsyncConnectionPool``: bound to the loop its workers run on). Anything else goes to the generic fallback: an attribute holding an
``asyncio.AbstractEventLoop`` binds the object; otherwise it walks attributes, containers, closures
(``__closure__`` cells), ``functools`` caches and wrapped functions. A walk visits at most
:data:`MAX_OBJECTS` objects and :data:`MAX_ITEMS` items per container, whatever the value's shape.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import sys
import types
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from kit.diagnose.reads import globals_read, is_user_code

Loop = asyncio.AbstractEventLoop
ATTACHED = '"RuntimeError: ... attached to a different loop"'
Held = Iterable[tuple[str, object]]  # (path suffix such as ".pool" or "[0]", the object held)

MAX_OBJECTS = 3000  # objects visited per walk
MAX_ITEMS = 200  # items looked at per list, set, dict or cache
_LEAVES = (str, bytes, bytearray, int, float, complex, type(None), range, memoryview)
# Never looked into: they reach everything (loops, modules, classes, pytest's own objects) or hold no loop.
_OPAQUE_TYPES: tuple[type, ...] = (
    Loop,
    asyncio.AbstractEventLoopPolicy,
    *((asyncio.Runner,) if hasattr(asyncio, "Runner") else ()),  # Python >= 3.11
    types.ModuleType,
    type,
    types.FrameType,
    types.CodeType,
    types.CoroutineType,
    types.GeneratorType,
    types.AsyncGeneratorType,
    types.TracebackType,
)
_OPAQUE_PACKAGES = {"_pytest", "pytest", "pluggy", "pytest_asyncio", "threading", "logging", "concurrent"}


@dataclass(frozen=True)
class Adapter:
    """How to read one library's objects: the types, the loop each is bound to, and what each holds.

    ``loop`` returns the object's own loop (``None`` when closed or not bound by itself); ``holds``
    lists what it holds, for objects bound through them (an engine through its pooled connections);
    ``symptom`` is how the library fails when such an object is used on another loop. For the audit, which
    sees objects before they are used: ``makers`` are the library's functions that return such objects
    (``create_async_engine``), and ``keeps`` says whether an object keeps loop-bound state between uses
    (an engine with ``NullPool`` does not); ``bindable`` is False for objects no loop ever binds by themselves,
    whose classes then make nothing the audit warns about; ``keep_nothing`` says how to make one that keeps
    nothing between tests (an engine with ``poolclass=NullPool``), for the fix advice.
    """

    library: str
    types: tuple[type, ...]
    loop: Callable[[Any], Loop | None] = lambda obj: None
    holds: Callable[[Any], Held] = lambda obj: ()
    kind: Callable[[Any], str] = lambda obj: type(obj).__name__
    symptom: str = ATTACHED
    makers: tuple[str, ...] = ()
    keeps: Callable[[Any], bool] = lambda obj: True
    bindable: bool = True  # False: never bound to a loop by itself (a psycopg AsyncConnection); the audit passes it by
    keep_nothing: str = ""  # how such an object is made to keep nothing loop-bound between tests, if it can be


@dataclass(frozen=True)
class Bound:
    """A loop-bound object found in a value: where it is, its loop, and the ``(path, object)`` pairs above it."""

    path: str
    obj: object
    loop: Loop
    holders: tuple[tuple[str, object], ...]

    def named(self) -> tuple[str, object]:
        """The outermost object a library adapter knows on the way to this one (an engine, not its socket)."""
        for path, obj in (*self.holders, (self.path, self.obj)):
            if adapter_for(obj) is not None:
                return path, obj
        return self.path, self.obj


_ADAPTERS: list[Adapter] = []
_BY_TYPE: dict[type, Adapter | None] = {}


def register(adapter: Adapter) -> None:
    """Add an adapter; a later one wins over an earlier one for the types both cover."""
    _ADAPTERS.insert(0, adapter)
    _BY_TYPE.clear()


def adapter_for(obj: object) -> Adapter | None:
    """The adapter that knows ``obj``'s type, or ``None`` (then the generic fallback reads it)."""
    if _PENDING and len(sys.modules) != _modules_seen[0]:
        _load_imported()
    cls = type(obj)
    if cls not in _BY_TYPE:
        _BY_TYPE[cls] = next((a for a in _ADAPTERS if issubclass(cls, a.types)), None)
    return _BY_TYPE[cls]


def describe(obj: object) -> str:
    """A short name for an object, with its library: ``SQLAlchemy AsyncEngine``, ``asyncpg pooled Connection``."""
    adapter = adapter_for(obj)
    if adapter is None:
        return f"{type(obj).__module__.split('.')[0]} {type(obj).__qualname__}"
    return f"{adapter.library} {adapter.kind(obj)}"


def keep_nothing_hint(obj: object) -> str:
    """How to make ``obj``'s kind of object keep nothing loop-bound between tests ("" when its library has no such way)."""
    adapter = adapter_for(obj)
    return "" if adapter is None else adapter.keep_nothing


def symptom(obj: object) -> str:
    """How using a bound object on another loop fails, unguarded (the error its library raises)."""
    adapter = adapter_for(obj)
    return ATTACHED if adapter is None else adapter.symptom


def loop_of(obj: object) -> Loop | None:
    """The loop an open object is bound to: its own, else that of the first bound object it holds.

    ``None`` when the object is closed (nothing left to protect) or bound to no loop at all.
    """
    return next((found.loop for found in bound_objects(obj, "obj")), None)


def held_objects(obj: object) -> list[tuple[str, object]]:
    """The objects ``obj`` holds, each with its path suffix (``.sync_engine``, ``[0]``...), as the walk sees them.

    A bound object holds nothing the walk looks at: its own loop is what counts.
    """
    return _read(obj)[1]


def bound_objects(value: object, name: str, limit: int = MAX_OBJECTS) -> Iterator[Bound]:
    """Every loop-bound object in ``value`` (named ``name``), depth first, in the order the value declares them.

    A bound object is reported once and not looked into; at most ``limit`` objects are visited.
    """
    for path, obj, holders, (loop, _) in _walk(value, name, limit, lambda read: read[0] is not None):
        yield Bound(path, obj, loop, holders)  # type: ignore[arg-type]


def bindable_objects(value: object, name: str, limit: int = MAX_OBJECTS) -> Iterator[tuple[str, object]]:
    """``(path, object)`` for every object in ``value`` that a library adapter knows and that keeps loop-bound
    state between uses, bound yet or not (an engine before its first query): what the audit sees without
    running anything. Such an object is reported once and not looked into.
    """
    for path, obj, _, _ in _walk(value, name, limit, lambda read: False, known=True):
        yield path, obj


def makes_bindable(obj: object) -> str | None:
    """``library name`` when ``obj`` is a class, classmethod or library function that makes objects an adapter
    knows (``aiohttp.ClientSession``, ``redis.ConnectionPool.from_url``, ``create_async_engine``), else ``None``."""
    if _PENDING and len(sys.modules) != _modules_seen[0]:
        _load_imported()
    target = obj.__self__ if isinstance(obj, types.MethodType) and isinstance(obj.__self__, type) else obj
    for adapter in (a for a in _ADAPTERS if a.bindable):
        if isinstance(target, type) and issubclass(target, adapter.types):
            return f"{adapter.library} {target.__name__}"
        package = {cls.__module__.split(".")[0] for cls in adapter.types}
        if callable(obj) and getattr(obj, "__name__", None) in adapter.makers and _package(obj) in package:
            return f"{adapter.library} {obj.__name__}()"  # type: ignore[attr-defined]
    return None


def _package(obj: object) -> str:
    return (getattr(obj, "__module__", None) or "").split(".")[0]


def _walk(
    value: object, name: str, limit: int, stop: Callable[[tuple[Loop | None, list]], bool], known: bool = False
) -> Iterator[tuple[str, object, tuple[tuple[str, object], ...], tuple[Loop | None, list]]]:
    """Depth first through ``value``: ``(path, object, holders, its read)`` for each object where ``stop`` holds
    (or, with ``known``, that an adapter knows and that keeps state); those are not looked into."""
    seen: set[int] = set()
    stack: list[tuple[object, str, tuple[tuple[str, object], ...]]] = [(value, name, ())]
    while stack and len(seen) < limit:
        obj, path, holders = stack.pop()
        if isinstance(obj, _LEAVES) or id(obj) in seen or _opaque(obj):
            continue
        seen.add(id(obj))
        read = _read(obj)
        adapter = adapter_for(obj) if known else None
        if adapter is not None and not adapter.bindable:  # nothing in it stays bound between uses (its lock, say)
            continue
        if stop(read) or (adapter is not None and _keeps(adapter, obj)):
            yield path, obj, holders, read
            continue
        held = read[1] if read[0] is None else []
        children = [(suffix, child) for suffix, child in held if not isinstance(child, _LEAVES)]
        here = (*holders, (path, obj))
        # reversed: visit in declaration order, so `_connection` is reported before `_connections[0]`
        stack += [(child, path + suffix, here) for suffix, child in reversed(children)]


# ---- the generic fallback ---------------------------------------------------------------------------


def _keeps(adapter: Adapter, obj: object) -> bool:
    try:
        return adapter.keeps(obj)
    except Exception:  # a half-built object: say it keeps state, the audit then looks closer
        return True


def _opaque(obj: object) -> bool:
    return isinstance(obj, _OPAQUE_TYPES) or type(obj).__module__.split(".")[0] in _OPAQUE_PACKAGES


def _read(obj: object) -> tuple[Loop | None, list[tuple[str, object]]]:
    """``obj``'s own loop, and what it holds when it has none (its attributes are read once)."""
    adapter = adapter_for(obj)
    try:
        if adapter is not None:
            loop = adapter.loop(obj)
            return loop, [] if loop is not None else list(adapter.holds(obj))
        held = _generic_holds(obj)
        loop = next((value for suffix, value in held if suffix[0] == "." and isinstance(value, Loop)), None)  # not items
        return loop, [] if loop is not None else held
    except Exception:  # a half-built or half-closed object, in a state its library did not plan for
        return None, []


def _generic_holds(obj: object) -> list[tuple[str, object]]:
    """What a container, function, cache or plain object holds; a loop among its attributes binds the object."""
    if isinstance(obj, dict):
        return [(f"[{_key(key)}]", value) for key, value in islice(obj.items(), MAX_ITEMS)]
    if isinstance(obj, (list, tuple, set, frozenset, deque)):
        return [(f"[{i}]", value) for i, value in enumerate(islice(obj, MAX_ITEMS))]
    if isinstance(obj, functools._lru_cache_wrapper):
        return [*_cached(obj), (".__wrapped__", obj.__wrapped__)]
    if isinstance(obj, types.FunctionType):
        cells = [(f".__closure__[{i}].cell_contents", c.cell_contents) for i, c in enumerate(obj.__closure__ or ()) if _full(c)]
        if hasattr(obj, "__wrapped__"):
            cells.append((".__wrapped__", obj.__wrapped__))
        # The user's own function met inside a value (a web app's route or dependency, a callback): the
        # module-level objects it reads, such as an engine created at import time, count like its closure.
        reads = globals_read(obj).values() if is_user_code(obj) else ()
        return cells + [(f".<reads {read.name}>", read.value) for read in reads]
    if isinstance(obj, types.MethodType):
        return [(".__self__", obj.__self__), (".__func__", obj.__func__)]
    if isinstance(obj, functools.partial):
        return [(".func", obj.func), (".args", obj.args), (".keywords", obj.keywords)]
    return [(f".{attr}", value) for attr, value in _attributes(obj)]


def _cached(wrapper: functools._lru_cache_wrapper) -> Held:
    """The results a ``functools.lru_cache``/``cache`` holds: out of sight in C, but not out of the garbage collector's.

    Unbounded, the cache is a ``key -> result`` dict; bounded, it maps keys to links of the LRU list, and the
    wrapper hands each link's key and result to the collector as a pair.
    """
    refs = gc.get_referents(wrapper)
    own = getattr(wrapper, "__dict__", None)
    caches = [ref for ref in refs if isinstance(ref, dict) and ref is not own]
    if wrapper.cache_parameters()["maxsize"] is None:
        return [(f".cache[{_key(key)}]", result) for cache in caches for key, result in islice(cache.items(), MAX_ITEMS)]
    keys = {id(key) for cache in caches for key in islice(cache, MAX_ITEMS)}
    return [(f".cache[{_key(ref)}]", result) for ref, result in zip(refs, refs[1:]) if id(ref) in keys]


def _key(key: object) -> str:
    """A dict key as it reads in a path: its repr when short and plain (no user ``__repr__`` runs), else its type."""
    plain = (str, int, float, type(None))
    if isinstance(key, plain) or (isinstance(key, tuple) and all(isinstance(part, plain) for part in key)):
        text = repr(key)
        if len(text) <= 60:
            return text
    return f"<{type(key).__name__}>"


def _full(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 -- an empty cell raises
    except ValueError:
        return False
    return True


def _attributes(obj: object) -> list[tuple[str, object]]:
    """The instance's attributes (``__dict__`` and ``__slots__``), without calling any property."""
    found = list(vars(obj).items()) if isinstance(getattr(obj, "__dict__", None), dict) else []
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            if slot not in ("__dict__", "__weakref__") and hasattr(obj, slot):
                found.append((slot, getattr(obj, slot)))
    return found


def _attr(obj: object, *names: str) -> Held:
    """``(".name", value)`` for each attribute of ``obj`` that is set and not ``None``."""
    return [(f".{name}", value) for name in names if (value := getattr(obj, name, None)) is not None]


def _items(obj: object, name: str) -> Held:
    """``(".name[i]", item)`` for the items of a list, deque or set attribute (``.name[key]`` for a dict's values)."""
    container = getattr(obj, name, None) or ()
    if isinstance(container, dict):
        return [(f".{name}[{_key(key)}]", value) for key, value in islice(container.items(), MAX_ITEMS)]
    return [(f".{name}[{i}]", item) for i, item in enumerate(islice(container, MAX_ITEMS))]


def _under(prefix: str, held: Held) -> Held:
    """The same objects, reached one attribute further down (``._pool`` + ``._connections[0]``)."""
    return [(prefix + suffix, obj) for suffix, obj in held]


def _loop_attr(obj: object) -> Loop | None:
    return getattr(obj, "_loop", None)


# ---- one adapter per library ------------------------------------------------------------------------


def _asyncio_adapters() -> list[Adapter]:
    def stream_writer_loop(writer: asyncio.StreamWriter) -> Loop | None:
        return None if writer.transport.is_closing() else writer._loop

    bound = '"RuntimeError: <asyncio...> is bound to a different event loop"'
    return [
        Adapter("asyncio", (asyncio.Future,), loop=lambda f: None if f.done() else f.get_loop()),
        # Python >= 3.10 binds these on first contended use (None before)
        Adapter("asyncio", (asyncio.Queue,), loop=_loop_attr, holds=lambda q: _items(q, "_queue"), symptom=bound),
        Adapter("asyncio", (asyncio.Lock, asyncio.Event, asyncio.Semaphore), loop=_loop_attr, symptom=bound),
        Adapter("asyncio", (asyncio.Condition,), loop=_loop_attr, holds=lambda c: _attr(c, "_lock"), symptom=bound),
        Adapter("asyncio", (asyncio.BaseTransport,), loop=lambda t: None if t.is_closing() else _loop_attr(t)),
        Adapter("asyncio", (asyncio.StreamReader,), loop=_loop_attr),
        Adapter("asyncio", (asyncio.StreamWriter,), loop=stream_writer_loop),
    ]


def _asyncpg_adapters() -> list[Adapter]:
    import asyncpg
    from asyncpg.pool import PoolConnectionProxy

    def pool_loop(pool: asyncpg.Pool) -> Loop | None:
        return None if pool._closed or pool._closing else pool._loop

    def proxy_loop(proxy: PoolConnectionProxy) -> Loop | None:
        return None if proxy._con is None else connection_loop(proxy._con)

    def connection_loop(conn: asyncpg.Connection) -> Loop | None:
        return None if conn.is_closed() else conn._loop

    then = f'{ATTACHED}, then "InterfaceError: ... another operation is in progress"'
    return [
        Adapter("asyncpg", (asyncpg.Pool,), loop=pool_loop, symptom=then, makers=("create_pool", "connect")),
        Adapter("asyncpg", (PoolConnectionProxy,), loop=proxy_loop, kind=lambda _: "pooled Connection", symptom=then),
        Adapter("asyncpg", (asyncpg.Connection,), loop=connection_loop, kind=lambda _: "Connection", symptom=then),
    ]


def _sqlalchemy_adapters() -> list[Adapter]:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.engine.interfaces import AdaptedConnection
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
    from sqlalchemy.orm import Session
    from sqlalchemy.pool import NullPool, Pool
    from sqlalchemy.pool.base import _ConnectionFairy, _ConnectionRecord

    def pool_holds(pool: Pool) -> Held:
        """The idle connections: a QueuePool's queue (an asyncio.Queue once used, for the async pools), else the static one."""
        queue = getattr(pool, "_pool", None)
        if queue is not None:
            inner = vars(queue).get("_queue")  # AsyncAdaptedQueue creates its asyncio.Queue on first use
            return [("._pool._queue", inner)] if inner is not None else _under("._pool", _items(queue, "queue"))
        return _attr(pool, "_conn", "connection")

    def async_connection_holds(conn: AsyncConnection) -> Held:
        # not started yet: it will check a connection out of the engine's pool
        return _attr(conn, "sync_connection") if conn.sync_connection is not None else _attr(conn, "engine")

    def session_holds(session: Session) -> Held:
        transaction = session._transaction
        checked_out = [] if transaction is None else _under("._transaction", _items(transaction, "_connections"))
        return [*checked_out, *_attr(session, "bind"), *_items(session, "binds")]

    def keeps(pool: Pool) -> bool:
        """A NullPool keeps no connection between uses: nothing stays bound to a loop."""
        return not isinstance(pool, NullPool)

    makers = ("create_async_engine", "async_engine_from_config", "create_async_pool_from_url")
    null_pool = "an SQLAlchemy engine made with poolclass=NullPool keeps no connection between tests"
    return [
        Adapter(
            "SQLAlchemy",
            (AsyncEngine,),
            holds=lambda e: _attr(e, "sync_engine"),
            makers=makers,
            keeps=lambda e: keeps(e.pool),
            keep_nothing=null_pool,
        ),
        Adapter("SQLAlchemy", (Engine,), holds=lambda e: _attr(e, "pool"), keeps=lambda e: keeps(e.pool), keep_nothing=null_pool),
        Adapter("SQLAlchemy", (Pool,), holds=pool_holds, keeps=keeps),
        Adapter("SQLAlchemy", (_ConnectionRecord, _ConnectionFairy), holds=lambda r: _attr(r, "dbapi_connection")),
        Adapter("SQLAlchemy", (AdaptedConnection,), holds=lambda c: _attr(c, "_connection"), kind=lambda _: "driver connection"),
        Adapter("SQLAlchemy", (AsyncConnection,), holds=async_connection_holds),
        Adapter("SQLAlchemy", (Connection,), holds=lambda c: _attr(c, "_dbapi_connection")),
        Adapter("SQLAlchemy", (AsyncSession,), holds=lambda s: _attr(s, "sync_session")),
        Adapter("SQLAlchemy", (Session,), holds=session_holds),
        Adapter("SQLAlchemy", (async_sessionmaker,), holds=lambda m: _attr(m, "kw")),
    ]


def _aiohttp_adapters() -> list[Adapter]:
    import aiohttp

    timeout = '"RuntimeError: Timeout context manager should be used inside a task" (or "Event loop is closed")'
    return [
        Adapter("aiohttp", (aiohttp.ClientSession,), loop=lambda s: None if s.closed else s._loop, symptom=timeout),
        Adapter("aiohttp", (aiohttp.BaseConnector,), loop=lambda c: None if c.closed else c._loop, symptom=timeout),
    ]


def _redis_adapters() -> list[Adapter]:
    from redis.asyncio import ConnectionPool, Redis
    from redis.asyncio.connection import AbstractConnection

    def connection_loop(conn: AbstractConnection) -> Loop | None:
        reader = getattr(conn, "_reader", None)  # None while disconnected
        return None if reader is None else _read(reader)[0]

    def pool_holds(pool: ConnectionPool) -> Held:
        return [*_items(pool, "_available_connections"), *_items(pool, "_in_use_connections"), *_attr(pool, "_lock")]

    return [
        Adapter(
            "redis",
            (Redis,),
            holds=lambda r: _attr(r, "connection", "connection_pool"),
            kind=lambda _: "Redis client",
            makers=("from_url",),
        ),
        Adapter("redis", (ConnectionPool,), holds=pool_holds),
        Adapter("redis", (AbstractConnection,), loop=connection_loop, symptom=f'{ATTACHED} (or "Event loop is closed")'),
    ]


def _httpx_adapters() -> list[Adapter]:
    import httpx

    def transport_holds(transport: httpx.AsyncHTTPTransport) -> Held:
        pool = getattr(transport, "_pool", None)  # httpcore's pool: its open connections down to the socket
        return [] if pool is None else _under("._pool", _items(pool, "_connections"))

    return [
        Adapter("httpx", (httpx.AsyncClient,), holds=lambda c: [*_attr(c, "_transport"), *_items(c, "_mounts")]),
        Adapter("httpx", (httpx.AsyncHTTPTransport,), holds=transport_holds),
    ]


def _databases_adapters() -> list[Adapter]:
    from databases import Database

    def holds(db: Database) -> Held:
        """The backend's pool (an asyncpg Pool with databases[asyncpg]), each task's connection, the global one."""
        tasks = [(f"._connection_map[{i}]", conn) for i, conn in enumerate(islice(list(db._connection_map.values()), MAX_ITEMS))]
        return [*_under("._backend", _attr(db._backend, "_pool")), *tasks, *_attr(db, "_global_connection")]

    return [Adapter("databases", (Database,), holds=holds, symptom=f"{ATTACHED} (from its backend's driver)")]


def _psycopg_adapters() -> list[Adapter]:
    from psycopg import AsyncConnection

    # Each operation waits on the loop that runs it: only the connection's lock binds, while two tasks contend for it.
    return [Adapter("psycopg", (AsyncConnection,), holds=lambda c: _attr(c, "lock"), keeps=lambda c: False, bindable=False)]


def _psycopg_pool_adapters() -> list[Adapter]:
    from psycopg_pool import AsyncConnectionPool

    def pool_loop(pool: AsyncConnectionPool) -> Loop | None:
        """The loop of the pool's scheduler and workers (tasks made by ``open()``), while the pool is open."""
        runner = getattr(pool, "_sched_runner", None)
        return None if pool.closed or runner is None or runner.done() else runner.get_loop()

    stalls = (
        '"PoolTimeout: couldn\'t get a connection" (its workers wait on a loop that is not running), '
        f"or {ATTACHED} when it is closed"
    )
    return [Adapter("psycopg_pool", (AsyncConnectionPool,), loop=pool_loop, holds=lambda p: _items(p, "_pool"), symptom=stalls)]


# library -> its adapters, registered by adapter_for() once the library is in sys.modules
_PENDING: dict[str, Callable[[], list[Adapter]]] = {
    "asyncpg": _asyncpg_adapters,
    "sqlalchemy": _sqlalchemy_adapters,
    "aiohttp": _aiohttp_adapters,
    "redis": _redis_adapters,
    "httpx": _httpx_adapters,
    "databases": _databases_adapters,
    "psycopg": _psycopg_adapters,
    "psycopg_pool": _psycopg_pool_adapters,
}


_modules_seen = [0]  # len(sys.modules) at the last look: only a new import can bring a library in


def _load_imported() -> None:
    _modules_seen[0] = len(sys.modules)
    for module in [name for name in _PENDING if name in sys.modules]:
        try:
            adapters = _PENDING.pop(module)()
        except ImportError:  # a version without these types (SQLAlchemy < 1.4, redis < 4.2): the generic walk reads it
            continue
        for adapter in adapters:
            register(adapter)


for _adapter in _asyncio_adapters():
    register(_adapter)
