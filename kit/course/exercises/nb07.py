"""Exercises of notebook 07: choosing a fixture pattern for a situation, and where "50-100 ms per test" comes from."""

from __future__ import annotations

import re

from kit.course.exercises import exercise

PATTERNS = ("test_connection", "session_config_connection", "db", "shared_pool")
SITUATIONS = {
    "A": "3,000 tests insert and query rows through one connection; none of them commits",
    "B": "20 tests of a migration runner that COMMITs its own transactions and checks the result from a second connection",
    "C": "tests of a repository class that takes an asyncpg pool and runs two queries at once with asyncio.gather",
}
RIGHT = {"A": {"db"}, "B": {"test_connection", "session_config_connection"}, "C": {"shared_pool"}}

# A specific message for every wrong pick: (situation, pattern) -> what goes wrong.
_WRONG = {
    ("A", "test_connection"): (
        "A: test_connection works, but it opens a new connection for each of the 3,000 tests: at 10-15 ms each "
        "that is 30-45 s of connecting. db shares one connection on the session loop and rolls back after each "
        "test, about 1 ms per test (see the table)."
    ),
    ("A", "session_config_connection"): (
        "A: session_config_connection shares only the settings; it still opens a new connection per test, so it "
        "costs as much as test_connection (compare their rows in the table). The rows need no connection of their own."
    ),
    ("A", "shared_pool"): (
        "A: a pool works, but these tests use one connection at a time: acquire and release add cost to every test "
        "(the session_loop_pool row) and buy nothing here. One shared connection with a rollback is enough."
    ),
    ("B", "db"): (
        "B: db isolates tests with one transaction that it rolls back, but the runner COMMITs: that ends db's "
        "transaction, so its changes stay for the next tests. And the second connection cannot see what db has not "
        "committed. These tests need a connection each (and clean_test_schema to clean up)."
    ),
    ("B", "shared_pool"): (
        "B: a connection from the shared pool is also wrapped in a transaction rolled back after the test; the "
        "runner's own COMMIT escapes it and leaves its changes for the next tests. Give each test its own connection."
    ),
    ("C", "db"): (
        "C: db is ONE connection, and an asyncpg connection runs one query at a time: asyncio.gather of two queries "
        "on it fails with 'another operation is in progress'. The class takes a pool: give it one on the session loop."
    ),
    ("C", "test_connection"): (
        "C: test_connection is a single connection, not a pool: the class expects a pool, and two queries at once "
        "on one asyncpg connection fail with 'another operation is in progress'."
    ),
    ("C", "session_config_connection"): (
        "C: session_config_connection is a single connection per test, not a pool: two concurrent queries on it fail "
        "with 'another operation is in progress', and the class wants a pool."
    ),
}


def _name(value: object) -> str:
    """A pattern name as written by a learner: lower case, without quotes, spaces or a trailing '()'."""
    return re.sub(r"\s+", "_", str(value).strip().strip("'\"`").removesuffix("()").strip()).lower()


@exercise(
    "07-pick-pattern",
    question=(
        "For each situation pick the fixture pattern: test_connection, session_config_connection, db or shared_pool. "
        + " ".join(f"{key}) {text}." for key, text in SITUATIONS.items())
        + ' Answer with a dict, e.g. answer = {"A": "...", "B": "...", "C": "..."}.'
    ),
    hint=(
        "Ask three questions per situation. Many tests that only touch rows? A shared connection with a rollback is "
        "cheapest. Does the test COMMIT or need another connection to see its writes? Then a rollback cannot isolate it: "
        "one connection per test. Does the code run queries concurrently or take a pool? One connection cannot do that."
    ),
    solution=(
        'answer = {"A": "db", "B": "test_connection", "C": "shared_pool"}\n'
        "# A: rows only, thousands of tests: one session-loop connection, rolled back per test (~1 ms, not ~13 ms).\n"
        "# B: COMMIT escapes a rollback fixture, and a second connection sees only committed rows: a connection per\n"
        "#    test (session_config_connection is right too; it only shares the settings).\n"
        "# C: two queries at once need two connections: the session-loop pool, acquire + rollback per test.\n"
        '# Tests using db or shared_pool run on the session loop: @pytest.mark.asyncio(loop_scope="session").'
    ),
    praise=(
        "Right: db for many row-level tests, a connection per test where the test commits or needs a second connection, "
        "and the session-loop pool where the code under test needs several connections at once."
    ),
)
def _check_pick_pattern(answer: object) -> str | None:
    if not isinstance(answer, dict):
        return 'answer with a dict from situation to pattern, e.g. answer = {"A": "db", "B": "...", "C": "..."}.'
    picks = {str(key).strip().upper(): value for key, value in answer.items()}
    missing = [key for key in SITUATIONS if key not in picks]
    if missing:
        return f"pick a pattern for every situation; missing: {', '.join(missing)}."
    for key in SITUATIONS:
        pick = _name(picks[key])
        if pick not in PATTERNS:
            broken = "the broken session-scoped pool of notebook 01 is never the answer; " if "session_pool" in pick else ""
            return f"{key}: {broken}{picks[key]!r} is not one of the four patterns: {', '.join(PATTERNS)}."
        if pick not in RIGHT[key]:
            return _WRONG[(key, pick)]
    return None


@exercise(
    "07-where-50ms",
    question=(
        "The seed document says a new connection per test costs ~50-100 ms; the table measured about 10-15 ms on this "
        "machine. Which ONE change would make the seed's figure come true? "
        "a) connect over TCP instead of the unix socket, "
        "b) use scram-sha-256 passwords instead of trust authentication, "
        "c) run a suite of 5,000 tests instead of 200, "
        "d) a database server 10 ms away over the network, with TLS. Answer with the letter."
    ),
    hint=(
        "Compare the rows connect_per_test_tcp and connect_per_test_socket, look at the password hashing row of the "
        "connection's anatomy, and remember that a cost per test does not depend on how many tests there are. "
        "What multiplies every one of the connection's round trips?"
    ),
    solution=(
        'answer = "d"\n'
        "# A new connection needs about 6 round trips before the first query (TCP handshake, TLS, the SCRAM exchange,\n"
        "# session start-up) plus closing. At 10 ms per round trip that alone is 60+ ms: the seed's figure describes a\n"
        "# remote database. On a local server a round trip takes about 0.1 ms; what is left is the server starting a\n"
        "# process for the session and the password check, about 10-15 ms in all."
    ),
    praise=(
        "Right: the round trips. Locally each takes about 0.1 ms; 10 ms away, with TLS adding its own, the same "
        "handshake costs 60-100 ms. The seed's number fits a remote database, not a local one."
    ),
)
def _check_where_50ms(answer: object) -> str | None:
    if not isinstance(answer, str) or not answer.strip():
        return 'answer with one letter as a string, e.g. answer = "a".'
    letter = answer.strip().strip("()").lower()[:1]
    if letter == "d":
        return None
    if letter == "a":
        return (
            "a) the table shows TCP and the unix socket within a few ms of each other: the TCP handshake over loopback "
            "takes well under 1 ms (the anatomy table). The transport is not where 50 ms could come from."
        )
    if letter == "b":
        return (
            "b) the password check is real but small: hashing a scram-sha-256 password takes a few ms here (the anatomy "
            "table), far from 50-100 ms."
        )
    if letter == "c":
        return (
            "c) more tests make the suite longer, not each test dearer: per_test_ms is the cost of ONE test and stays "
            "the same for 200 or 5,000 tests."
        )
    return f"{answer!r} is not one of the choices; answer a, b, c or d."
