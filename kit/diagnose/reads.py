"""The module-level globals a function reads: what a test's code can reach besides its fixtures.

:func:`globals_read` follows the function's code (and the functions nested in it) through every global
it loads, ``module.attribute`` reads of an imported module, and the user's own helpers it calls in any
module (not those of the standard library or of installed packages), at most :data:`MAX_FUNCTIONS` of
them. An engine created at import time in an app module is found when the test calls the app's code.
"""

from __future__ import annotations

import ast
import dis
import sysconfig
import types
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

MAX_FUNCTIONS = 50  # functions followed from one test or fixture
_LIBRARY_DIRS = tuple({sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")})


@dataclass(frozen=True)
class GlobalRead:
    """A module-level value a function reads: its name as the code spells it, the value, and where it is bound."""

    name: str  # "engine", or "app_db.engine" for a global of another module
    value: object
    location: str  # file:line of the statement that binds it


def globals_read(func: Callable[..., object]) -> dict[str, GlobalRead]:
    """The module-level globals ``func`` reads, directly or through the user's functions it calls."""
    home = getattr(func, "__globals__", None)
    if home is None:
        return {}
    found: dict[str, GlobalRead] = {}
    todo = [(func.__code__, home)]
    followed = {func.__code__}
    while todo and len(followed) <= MAX_FUNCTIONS:
        code, namespace = todo.pop()
        for dotted in _global_reads(code):
            read = _resolve(namespace, dotted, home)
            if read is None or read.name in found:
                continue
            value = read.value
            if isinstance(value, types.FunctionType):
                if is_user_code(value) and value.__code__ not in followed:
                    followed.add(value.__code__)
                    todo.append((value.__code__, value.__globals__))  # a helper: follow what it reads
                if value.__closure__:
                    found[read.name] = read  # what its closure holds counts too
            elif not isinstance(value, (types.ModuleType, type)):
                found[read.name] = read
    return found


def referenced(func: Callable[..., object]) -> dict[str, object]:
    """What ``func``'s own code (and the functions nested in it) reads at module level, classes and functions
    included: ``{"aiohttp.ClientSession": <class>, "lock": <Lock>}``. Nothing else is followed."""
    home = getattr(func, "__globals__", None)
    code = getattr(func, "__code__", None)
    if home is None or code is None:
        return {}
    found = {}
    for dotted in _global_reads(code):
        read = _resolve(home, dotted, home)
        if read is not None:
            found[read.name] = read.value
    return found


def _resolve(namespace: dict[str, object], dotted: str, home: dict[str, object]) -> GlobalRead | None:
    """``name`` in ``namespace``, or ``module.attr`` when ``name`` is a module; ``None`` when it is neither."""
    name, _, attr = dotted.partition(".")
    if name not in namespace:
        return None
    value = namespace[name]
    if not attr:
        label = name if namespace is home else f"{namespace.get('__name__', '?')}.{name}"
        return GlobalRead(label, value, _assignment(namespace.get("__file__"), name))
    if isinstance(value, types.ModuleType) and attr in vars(value):
        return GlobalRead(f"{value.__name__}.{attr}", vars(value)[attr], _assignment(getattr(value, "__file__", None), attr))
    return None


@lru_cache(maxsize=1024)
def _global_reads(code: types.CodeType) -> tuple[str, ...]:
    """The globals a code object (and the functions nested in it) loads: ``name``, and ``name.attr`` when an
    attribute of it is read next (``app_db.engine``)."""
    instructions = list(dis.get_instructions(code))
    names = []
    for i, instruction in enumerate(instructions):
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            names.append(instruction.argval)
            following = instructions[i + 1] if i + 1 < len(instructions) else None
            if following is not None and following.opname in ("LOAD_ATTR", "LOAD_METHOD"):
                names.append(f"{instruction.argval}.{following.argval}")
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names += _global_reads(const)
    return tuple(dict.fromkeys(names))


def is_user_code(func: types.FunctionType) -> bool:
    """Whether ``func`` is the user's own code (not the standard library's or an installed package's)."""
    return not func.__code__.co_filename.startswith(_LIBRARY_DIRS)


@lru_cache(maxsize=256)
def _assignment(path: str | None, name: str) -> str:
    """``file:line`` of the module-level statement that binds ``name`` (an assignment, import or def)."""
    try:
        with open(path or "", encoding="utf-8") as source:
            tree = ast.parse(source.read())
    except (OSError, SyntaxError, ValueError):
        return path or "<unknown module>"
    line = next((node.lineno for node in tree.body if name in _bound_names(node)), None)
    return path if line is None else f"{path}:{line}"


def _bound_names(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    return set()
