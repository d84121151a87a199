"""What a fixture's value or a module-level global holds, read without running any test (for the audit).

:func:`fixture_value` reads a fixture function's source: what it returns or yields, and where that name was
bound (``session = aiohttp.ClientSession()``, ``async with create_async_engine(...) as engine``). A value made
by a class or function a library adapter knows (:func:`kit.diagnose.affinity.makes_bindable`) is ``bound``; a
string, number or f-string is ``plain``; a fixture argument passed on (or closed over by a returned helper)
is named in ``passes_on``, so the value is what that fixture's value is; anything else is ``unknown``.
:func:`global_value` does the same for an object that exists at import time, walking it with
:func:`kit.diagnose.affinity.bindable_objects`.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import textwrap
import types
from collections.abc import Callable
from dataclasses import dataclass

from kit.diagnose.affinity import bindable_objects, describe, keep_nothing_hint, makes_bindable
from kit.diagnose.reads import is_user_code, referenced

BOUND, PLAIN, UNKNOWN = "bound", "plain", "unknown"


@dataclass(frozen=True)
class Guess:
    """What a value holds: ``bound`` (loop-bound objects, or objects that bind on first use), ``plain`` or ``unknown``."""

    kind: str
    reason: str = ""
    passes_on: tuple[str, ...] = ()  # fixture arguments whose values it holds
    keep_nothing: str = ""  # how the object found is made to keep nothing between tests (affinity.keep_nothing_hint)


def fixture_value(func: Callable[..., object]) -> Guess:
    """Guess what the fixture function ``func`` (the user's own function, unwrapped) returns or yields."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return Guess(UNKNOWN, "its source cannot be read")
    node = next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if node is None:
        return Guess(UNKNOWN, "its source cannot be read")
    reader = _Reader(func, node)
    guesses = [reader.guess(expr) for expr in reader.results] or [Guess(PLAIN, "it returns nothing")]
    passes_on = tuple(dict.fromkeys(name for guess in guesses for name in guess.passes_on))
    bound = next((guess for guess in guesses if guess.kind == BOUND), None)
    if bound is not None:
        return Guess(BOUND, bound.reason, passes_on)
    if all(guess.kind == PLAIN for guess in guesses):
        return Guess(PLAIN, guesses[0].reason, passes_on)
    return Guess(UNKNOWN, next(g.reason for g in guesses if g.kind == UNKNOWN), passes_on)


def global_value(value: object, name: str) -> Guess:
    """What the module-level object ``value`` holds: adapter-known objects in it, or a class of the user's whose
    methods make them (a client that connects on first use)."""
    found = next(bindable_objects(value, name), None)
    if found is not None:
        path, obj = found
        return Guess(BOUND, f"{path} is {describe(obj)}", keep_nothing=keep_nothing_hint(obj))
    if isinstance(value, (types.FunctionType, type, types.ModuleType)):
        return Guess(PLAIN)
    maker = makes_in_methods(type(value))
    return Guess(BOUND, f"{maker} and can keep it on {name}") if maker else Guess(PLAIN)


def makes_in_methods(cls: type) -> str | None:
    """``"Client._set_redis() makes redis.asyncio.from_url"`` when a method of the user's own class ``cls`` calls a
    class or function that makes loop-bound objects, else ``None`` (also for a class of a library)."""
    for attr, method in vars(cls).items():
        if isinstance(method, types.FunctionType) and is_user_code(method):
            maker = next((name for name, value in referenced(method).items() if makes_bindable(value)), None)
            if maker is not None:
                return f"{cls.__name__}.{attr}() makes {maker}"
    return None


class _Reader:
    """A fixture function's source: its parameters, the names it binds and what it returns or yields."""

    def __init__(self, func: Callable[..., object], node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.func = func
        self.params = {a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)}
        self.bindings: dict[str, ast.expr] = {}
        self.nested: dict[str, ast.AST] = {}
        self.results: list[ast.expr] = []
        self._visit(node.body)

    def _visit(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            for node in _own_nodes(stmt):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and hasattr(node, "name"):
                    self.nested[node.name] = node  # type: ignore[union-attr]
                elif isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            self.bindings[target.id] = node.value
                elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and isinstance(node.target, ast.Name) and node.value:
                    self.bindings[node.target.id] = node.value
                elif isinstance(node, ast.withitem) and isinstance(node.optional_vars, ast.Name):
                    self.bindings[node.optional_vars.id] = node.context_expr
                elif isinstance(node, (ast.Return, ast.Yield)) and node.value is not None:
                    self.results.append(node.value)

    def guess(self, expr: ast.expr, depth: int = 0) -> Guess:
        """What ``expr`` evaluates to, as far as the source tells."""
        if depth > 10:
            return Guess(UNKNOWN, "too many steps to follow")
        if isinstance(expr, ast.Await):
            return self.guess(expr.value, depth + 1)
        if isinstance(expr, (ast.Constant, ast.JoinedStr)):
            return Guess(PLAIN, "a constant or string")
        if isinstance(expr, ast.BinOp):
            parts = [self.guess(expr.left, depth + 1), self.guess(expr.right, depth + 1)]
            return parts[0] if all(p.kind == PLAIN for p in parts) else Guess(UNKNOWN, "a computed value")
        if isinstance(expr, ast.Name):
            if expr.id in self.params:
                return Guess(UNKNOWN, f"fixture {expr.id!r} passed on", (expr.id,))
            if expr.id in self.bindings:
                return self.guess(self.bindings[expr.id], depth + 1)
            if expr.id in self.nested:
                closed = tuple(sorted(self.params & _names(self.nested[expr.id])))
                return Guess(UNKNOWN, f"a function, closing over {', '.join(closed) or 'nothing of its own'}", closed)
            return Guess(UNKNOWN, f"{expr.id!r} cannot be followed")
        if isinstance(expr, ast.Call):
            dotted = _dotted(expr.func)
            target = self._lookup(dotted) if dotted else None
            maker = makes_bindable(target) if target is not None else None
            passed = tuple(sorted(self.params & _names(expr)))
            if maker is not None:
                return Guess(BOUND, f"made by {maker} ({dotted})", passed)
            if isinstance(target, type) and (made := makes_in_methods(target)):
                return Guess(BOUND, f"a {target.__name__}, whose {made.split('.', 1)[1]}", passed)
            if target is str:
                return Guess(PLAIN, "a string")
            return Guess(UNKNOWN, f"the result of {dotted or 'a call'}", passed)
        return Guess(UNKNOWN, f"a {type(expr).__name__} expression", tuple(sorted(self.params & _names(expr))))

    def _lookup(self, dotted: str) -> object | None:
        head, *rest = dotted.split(".")
        namespace = getattr(self.func, "__globals__", {})
        if head in self.bindings or head in self.params:
            return None
        value = namespace.get(head, getattr(builtins, head, None))
        for attr in rest:
            value = getattr(value, attr, None)
        return value


def _own_nodes(stmt: ast.stmt) -> list[ast.AST]:
    """The nodes of ``stmt`` outside nested functions (a nested function itself is kept)."""
    found, todo = [], [stmt]
    while todo:
        node = todo.pop()
        found.append(node)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            todo.extend(ast.iter_child_nodes(node))
    return found


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _dotted(expr: ast.expr) -> str | None:
    """``redis.ConnectionPool.from_url`` for that attribute chain, ``None`` for anything else."""
    parts = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    return ".".join([expr.id, *reversed(parts)])
