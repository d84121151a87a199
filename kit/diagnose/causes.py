"""The root cause of a failed test: the event-loop error hidden behind what pytest's summary shows.

A session-scoped asyncpg pool used from function-loop tests fails with ``InterfaceError: another
operation is in progress`` in pytest's summary; the exception it was raised while handling is the
``RuntimeError: ... attached to a different loop`` a learner should read. :func:`root_cause` walks the
exception chain and picks the deepest exception whose message is one of :data:`KNOWN_CAUSES`.
"""

from __future__ import annotations

import builtins

# Messages that name the real cause when they appear anywhere in an exception chain.
KNOWN_CAUSES = (
    "attached to a different loop",
    "cannot be called from a running event loop",
    "This event loop is already running",
    "Cannot run the event loop while another loop is running",
    "is bound to a different event loop",
    "Event loop is closed",
    "got result for unknown protocol state",
    "Timeout context manager should be used inside a task",  # aiohttp, on a loop other than the session's
)
_MAX_MESSAGE = 200
_EXCEPTION_GROUP = getattr(builtins, "BaseExceptionGroup", ())  # Python 3.11+


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception it was raised from or while handling, outermost first.

    Exception groups contribute their members; cycles are cut.
    """
    chain: list[BaseException] = []
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        chain.append(current)
        if isinstance(current, _EXCEPTION_GROUP):
            pending.extend(current.exceptions)
        if current.__cause__ is not None:
            pending.append(current.__cause__)
        elif current.__context__ is not None and not current.__suppress_context__:
            pending.append(current.__context__)
    return chain


def root_cause(exc: BaseException) -> BaseException:
    """The exception a learner should read: the deepest one with a known event-loop message, else ``exc``."""
    for candidate in reversed(exception_chain(exc)):
        if any(pattern in _text(candidate) for pattern in KNOWN_CAUSES):
            return candidate
    return exc


def loop_cause(exc: BaseException) -> BaseException | None:
    """The deepest exception in ``exc``'s chain with a known event-loop message, or ``None`` when there is none."""
    cause = root_cause(exc)
    return cause if any(pattern in _text(cause) for pattern in KNOWN_CAUSES) else None


def short_message(exc: BaseException | str) -> str:
    """The first line of an exception's message, with Task/Future reprs trimmed, at most 200 characters."""
    text = _text(exc).strip()
    line = text.splitlines()[0] if text else ""
    line = _trim_reprs(line)
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 3] + "..."


def _text(exc: BaseException | str) -> str:
    """``str(exc)``, even for exceptions whose ``__str__`` fails; pytest's fixture lookup errors in words."""
    if isinstance(exc, LookupError) and type(exc).__name__ == "FixtureLookupError":  # its str() is an args tuple
        return f"fixture {getattr(exc, 'argname', None)!r} not found"
    try:
        return str(exc)
    except Exception:
        return f"<{type(exc).__name__} whose message cannot be shown>"


def _trim_reprs(text: str) -> str:
    """Shorten ``<Task pending name=... coro=<...>>`` to ``<Task pending ...>`` (likewise Future)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith(("<Task ", "<Future "), i):
            depth, j = 0, i
            while j < len(text):
                depth += {"<": 1, ">": -1}.get(text[j], 0)
                if depth == 0:
                    break
                j += 1
            words = text[i + 1 : j].split()
            out.append(f"<{' '.join(words[:2])} ...>" if len(words) > 2 else text[i : j + 1])
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def describe(exc: BaseException) -> str:
    """``Type: first line of the message``, as the recorder's tables show an exception."""
    return f"{type(exc).__name__}: {short_message(exc)}"
