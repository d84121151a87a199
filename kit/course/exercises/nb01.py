"""Exercise of notebook 01: which exception pytest's summary shows, and which one is the root cause."""

from __future__ import annotations

import re

from kit.course.exercises import exercise

_SUMMARY, _CAUSE = "InterfaceError", "RuntimeError"
_KNOWN = {
    "interfaceerror": _SUMMARY,
    "runtimeerror": _CAUSE,
    "scopemismatch": "ScopeMismatch",
    "connectiondoesnotexisterror": "ConnectionDoesNotExistError",
    "internalclienterror": "InternalClientError",
}


def _name(part: object) -> str | None:
    """The exception class an answer names: 'asyncpg.exceptions._base.InterfaceError' -> 'InterfaceError'."""
    if isinstance(part, type) and issubclass(part, BaseException):
        part = part.__name__
    if not isinstance(part, str):
        return None
    words = [word for word in re.split(r"[.:\s]", part) if word]
    if not words:
        return None
    return _KNOWN.get(words[-1].lower(), words[-1])


@exercise(
    "01-summary-vs-cause",
    question=(
        "Two exception types for test_select_one, the first test of the broken pool: the one its FAILED line in "
        'pytest\'s short summary shows, and its root cause in the chain. answer = ("<summary type>", "<root cause type>").'
    ),
    hint=(
        "Look at the summary-vs-cause table, or at nb.last_run().detail(test)['chain']: the first entry is what "
        "pytest reports, the last one is what happened first."
    ),
    solution=(
        'answer = ("InterfaceError", "RuntimeError")\n'
        "# pytest's summary shows asyncpg's InterfaceError 'another operation is in progress', raised while the pool\n"
        "# releases the connection. It happened while handling the root cause: RuntimeError '... got Future ...\n"
        "# attached to a different loop', raised when the test's loop awaited a future of the pool's loop."
    ),
    praise=(
        "Right: the summary shows InterfaceError ('another operation is in progress'); the root cause is the "
        "RuntimeError 'attached to a different loop', found only in the chained traceback."
    ),
)
def _check_summary_vs_cause(answer: object) -> str | None:
    if answer is ...:
        return 'replace the ... with a tuple: answer = ("<summary type>", "<root cause type>").'
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        return 'answer with a tuple of two exception names: ("<summary type>", "<root cause type>").'
    summary, cause = (_name(part) for part in answer)
    if (summary, cause) == (_SUMMARY, _CAUSE):
        return None
    if (summary, cause) == (_CAUSE, _SUMMARY):
        return (
            "swapped: pytest's summary line shows the LAST exception raised (the InterfaceError from the pool's "
            "release); the root cause is the first one in time, the RuntimeError about loops."
        )
    if summary == cause == _SUMMARY:
        return (
            "the InterfaceError is what pytest shows, but it is not the cause: 'another operation is in progress' "
            "only means the connection was left mid-query. Read the chain: it was raised while handling another error."
        )
    if summary == cause == _CAUSE:
        return (
            "the RuntimeError is the root cause, and the FAILED lines of the two later tests do show it; but "
            "test_select_one's FAILED line names the last exception of its chain, raised while the pool released "
            "the connection."
        )
    if "ScopeMismatch" in (summary, cause):
        return (
            "ScopeMismatch is what a set-up error looks like when asyncio_default_fixture_loop_scope = function; "
            "here the set-up succeeds and the test body fails."
        )
    if summary == _SUMMARY:
        return f"the summary type is right, but {answer[1]!r} is not the root cause: follow the chain to its last entry."
    if cause == _CAUSE:
        return f"the root cause is right, but pytest's summary line does not show {answer[0]!r}: read the FAILED line of the run."
    return f"neither {answer[0]!r} nor {answer[1]!r} is right; the two types are in the summary-vs-cause table."
