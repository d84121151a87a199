"""A room on a real JupyterHub: 30 learners at once through the hub's REST API and a kernel each, one in Chromium.

Each learner logs in with an OS password, starts a server (the hub's pre_spawn_hook provisions the learner's
database with an admin that is no superuser), and runs notebooks 01 and 03 in a real kernel. Run with
`make test-hub`; its last line is `hub: N learners, X s, Y MB per learner` (artifacts/hub.txt).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat
import pytest
from playwright.sync_api import expect, sync_playwright

from kit.db.config import DatabaseConfig
from kit.db.learners import database_name
from tests.browser.chromium import launch_options
from tests.browser.notebook_ui import html_table, open_notebook, restart_and_run_all, screenshot, wait_until_all_cells_ran
from tests.browser.test_jupyterlab_browser import FAILURE_TEXT
from tests.hub.conftest import ARTIFACTS, ROOM, Room
from tests.hub.os_users import OSUser
from tests.hub.remote_kernel import Kernel
from tests.support.kit_cli import kit, kit_env
from tests.support.lab_server import Lab
from tests.support.leaks import kit_connections_left
from tests.support.notebook_runner import Pass, execute_some

NOTEBOOKS = ("01_reproduce_the_failure.ipynb", "03_function_scoped_fix.ipynb")
EXERCISES = ("01-summary-vs-cause", "03-test-connection")
_VERDICT = re.compile(r"Verdict\(key='([\w-]+)', ok=(True|False)")  # a check()'s result, as the cell shows it

pytestmark = pytest.mark.timeout(3600)

# Run in each learner's kernel after the notebooks: what a learner could reach.
PROBE = """
import dataclasses, json, os
import asyncpg
from kit._sync import run_sync
from kit.db.config import DatabaseConfig
import kit.course.notebook as nb

async def _enter(database):
    own = DatabaseConfig.from_url(os.environ["DATABASE_URL"])
    try:
        conn = await asyncpg.connect(dataclasses.replace(own, database=database).url, ssl=False)
    except asyncpg.InsufficientPrivilegeError:
        return "refused"
    except asyncpg.InvalidCatalogNameError:
        return "missing"
    await conn.close()
    return "entered"

def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None

print(json.dumps({
    "environ": dict(os.environ),
    "hub_environ": _read("/proc/{hub_pid}/environ"),
    "neighbour": run_sync(_enter("{neighbour}")),
    "open_connections": nb.open_connections(),
}))
"""


@dataclass
class Learner:
    """What one learner's run produced."""

    name: str
    results: dict[str, list[Any]]
    probe: dict[str, Any]
    spawn_s: float
    mb: float


def summary(run: Pass) -> list[Any]:
    """What must match between runs: per code cell, the error it raised, the tests' outcomes, the check() verdicts."""
    found = []
    for cell in run.nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o.ename for o in cell.get("outputs", []) if o.output_type == "error"]
        tables = [
            run.outcomes(cell.id, index)
            for index, output in enumerate(o for o in cell.get("outputs", []) if "text/html" in o.get("data", {}))
            if "<th>outcome</th>" in output.data["text/html"] and "<th>test</th>" in output.data["text/html"]
        ]
        found.append((cell.id, errors, tables, _VERDICT.findall(run.text(cell.id))))
    return found


def _megabytes(uid: int) -> float:
    """The proportional set size (PSS) of every process of ``uid``, in MB: its server and kernels."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/smaps_rollup"):
        try:
            if status.parent.stat().st_uid != uid:
                continue
            total += next(int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith("Pss:"))
        except (OSError, StopIteration):
            continue
    return total / 1024


def _learner(room: Room, user: OSUser, neighbour: OSUser) -> Learner:
    """Log in, start the server, run both notebooks, probe what the kernel could reach after each."""
    hub = room.hub
    token = hub.login(user.name, user.password)
    try:
        spawn_s = hub.start_server(user.name, token)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; what the hub logged about it:\n{_logged_about(room.log, user.name)}") from None
    results, probe, mb = {}, {}, 0.0
    for name in NOTEBOOKS:
        kernel = Kernel.open(hub, user.name, token, name)
        try:
            results[name] = summary(kernel.run_notebook(name))
            code = PROBE.replace("{hub_pid}", str(room.hub_pid)).replace("{neighbour}", database_name(neighbour.name))
            probe[name] = _probe(kernel, code, f"{user.name}'s probe after {name}")
            mb = max(mb, _megabytes(user.uid))
        finally:
            kernel.close()
    return Learner(user.name, results, probe, spawn_s, mb)


def _probe(kernel: Kernel, code: str, what: str, timeout: float = 600) -> dict[str, Any]:
    """Run PROBE; again while the neighbour's database does not exist yet (the neighbour's server is still starting)."""
    deadline = time.monotonic() + timeout
    while True:
        outputs = kernel.execute(code)
        assert all(o.output_type == "stream" and o.name == "stdout" for o in outputs), f"{what} showed {outputs}"
        found = json.loads("".join(o.text for o in outputs))  # one print, in as many stream messages as it took
        if found["neighbour"] != "missing" or time.monotonic() > deadline:
            return found
        time.sleep(5)


def _logged_about(log: Path, user: str, lines: int = 20) -> str:
    """The hub's last warnings and errors that name ``user`` (the reason a spawn failed)."""
    found = [line for line in log.read_text(errors="replace").splitlines() if user in line and line.startswith(("[W", "[E"))]
    return "\n".join(found[-lines:]) or f"(nothing; see {log})"


def _browser_learner(room: Room, user: OSUser) -> dict[str, list[Any]]:
    """Log in on the hub's login page in Chromium, let the hub start the server, run both notebooks from the menu.

    Each notebook is saved from the browser and read back through the Jupyter server's contents API: what the
    learner's screen showed, compared below with the single-user runs like every other learner's.
    """
    token = room.hub.login(user.name, user.password)
    results = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options())
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{room.hub.url}/hub/login")
            page.fill("#username_input", user.name)
            page.fill("#password_input", user.password)
            page.click("#login_submit")
            page.wait_for_url(f"**/user/{user.name}/lab/**", timeout=600_000)
            lab = Lab(f"{room.hub.url}/user/{user.name}", "")  # the hub's cookie logs the browser in, not a token
            for name in NOTEBOOKS:
                open_notebook(page, lab, name, timeout=600)
                restart_and_run_all(page)
                failure = html_table(page, FAILURE_TEXT).first
                try:
                    wait_until_all_cells_ran(page, timeout=900)
                finally:
                    screenshot(page, ARTIFACTS / f"hub-browser-{name[:2]}.png", show=failure)
                if name.startswith("01"):
                    expect(failure).to_be_visible()
                results[name] = summary(Pass(_saved(room, user.name, token, page, name)))
        finally:
            browser.close()
    return results


def _saved(room: Room, user: str, token: str, page: Any, name: str, timeout: float = 120) -> nbformat.NotebookNode:
    """Save notebook ``name`` in the browser (Ctrl+S); the saved file, once every code cell in it has run."""
    pressed = datetime.now(timezone.utc)
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = room.hub.api(f"/user/{user}/api/contents/{name}?content=1", token)
        notebook = nbformat.from_dict(model["content"])
        saved = datetime.fromisoformat(model["last_modified"].replace("Z", "+00:00"))
        if saved >= pressed and all(c.execution_count for c in notebook.cells if c.cell_type == "code"):
            return notebook
        time.sleep(1)
    raise AssertionError(f"{user}: {name} was not saved with every cell run within {timeout:.0f} s of Ctrl+S")


@pytest.fixture(scope="session")
def single_user() -> dict[str, list[Any]]:
    """Notebooks 01 and 03 run once each outside the hub, as on a laptop (the kit's own server, its superuser)."""
    return {name: summary(execute_some(name, _code_cells(name))) for name in NOTEBOOKS}


def _code_cells(name: str) -> list[str]:
    from tests.support.notebook_runner import NOTEBOOKS as COURSE

    return [c["id"] for c in json.loads((COURSE / name).read_text())["cells"] if c["cell_type"] == "code"]


def test_a_room_of_learners_on_a_real_hub(room: Room, single_user: dict[str, list[Any]]) -> None:
    api_learners, (browser_user,) = room.learners[:-1], room.learners[-1:]
    began = time.monotonic()
    browser_error: list[BaseException] = []
    browser_results: dict[str, list[Any]] = {}

    def in_chromium() -> None:
        try:
            browser_results.update(_browser_learner(room, browser_user))
        except BaseException as exc:  # reported below, after the other learners
            browser_error.append(exc)

    browser = threading.Thread(target=in_chromium, daemon=True)  # a failure elsewhere must not wait for its timeouts
    browser.start()
    with ThreadPoolExecutor(max_workers=len(api_learners)) as pool:
        neighbours = api_learners[1:] + api_learners[:1]
        done = list(pool.map(lambda pair: _learner(room, *pair), zip(api_learners, neighbours)))
    browser.join(timeout=1800)
    elapsed = time.monotonic() - began
    assert not browser.is_alive(), "the Chromium learner did not finish"
    if browser_error:
        raise browser_error[0]

    verdicts = [key for cells in single_user.values() for *_, found in cells for key, _ in found]
    outcomes = [table for cells in single_user.values() for _, _, tables, _ in cells for table in tables]
    assert sorted(verdicts) == list(EXERCISES) and len(outcomes) >= 4, "the comparison must cover the tests and the checks"
    for learner in done:
        assert learner.results == single_user, f"{learner.name}'s runs differ from the single-user runs"
    assert browser_results == single_user, f"{browser_user.name}'s runs in Chromium differ from the single-user runs"
    urls = {learner.name: learner.probe[NOTEBOOKS[-1]]["environ"]["DATABASE_URL"] for learner in done}
    passwords = {name: DatabaseConfig.from_url(url).password for name, url in urls.items()}
    secrets = {"the admin's password": room.admin_password, "the admin's URL": room.admin_url}
    for learner in done:
        for notebook, probe in learner.probe.items():
            environ = json.dumps(probe["environ"])
            assert "LOOP_LAB_ADMIN_URL" not in probe["environ"], f"{learner.name}'s kernel has LOOP_LAB_ADMIN_URL"
            for what, secret in secrets.items():
                assert secret not in environ, f"{learner.name}'s kernel ({notebook}) holds {what}"
            others = [name for name, password in passwords.items() if name != learner.name and password in environ]
            assert not others, f"{learner.name}'s kernel holds the password of {others}"
            assert probe["hub_environ"] is None, f"{learner.name} can read the hub's environment"
            assert probe["neighbour"] == "refused", f"{learner.name} entered another learner's database"
            assert probe["open_connections"] == 0, f"{learner.name}'s kernel left kit connections open after {notebook}"
        assert DatabaseConfig.from_url(urls[learner.name]).user == database_name(learner.name)
    assert len(set(passwords.values())) == len(done)
    assert not kit_connections_left(os.environ["DATABASE_URL"]), "a kit connection was left open on the room's server"

    status = kit("room", "status", "--room", ROOM, env=kit_env(LOOP_LAB_ADMIN_URL=room.admin_url))
    assert status.returncode == 0, status.stderr
    rows = {
        line.split()[0]: line.split()[1:]
        for line in status.stdout.splitlines()[1:]
        if line.startswith(room.learners[0].name[:-2])
    }
    assert status.stdout.splitlines()[0].split() == ["learner", *EXERCISES]
    assert set(rows) == {user.name for user in room.learners} and all(len(cells) == 2 for cells in rows.values()), status.stdout

    mb = sum(learner.mb for learner in done) / len(done)
    line = f"hub: {len(room.learners)} learners, {elapsed:.0f} s, {mb:.0f} MB per learner"
    spawn = sorted(learner.spawn_s for learner in done)
    (ARTIFACTS / "hub.txt").write_text(
        f"{status.stdout}\nserver start: median {spawn[len(spawn) // 2]:.0f} s, slowest {spawn[-1]:.0f} s\n{line}\n"
    )
    print(line)
