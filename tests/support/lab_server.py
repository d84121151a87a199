"""Start JupyterLab the way `make lab` does (headless, with a token) and wait until it answers (shared by the lab and browser tests)."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.kit_cli import kit_env

# Headless and offline: no news toast over the screenshots, and no autosave writing outputs into notebooks/.
_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": '{"fetchNews": "false"}',
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": '{"autosave": false}',
}


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: its base URL and token."""

    base: str
    token: str

    def url(self, path: str, *query: str) -> str:
        """The full URL of ``path`` (e.g. ``/lab/tree/x.ipynb``) with ``query`` items, logged in with the token."""
        return f"{self.base}{path}?{'&'.join([*query, f'token={self.token}'])}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(lab: Lab) -> bool:
    request = urllib.request.Request(f"{lab.base}/api/status", headers={"Authorization": f"token {lab.token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status == 200
    except OSError:  # refused, reset, timed out, or an HTTP error (URLError and HTTPError are OSErrors)
        return False


@contextlib.contextmanager
def running_lab(
    root: Path, log: Path, *, timeout: float = 180, port_in_lab_args: bool = False, command: list[str] | None = None
) -> Iterator[Lab]:
    """Run ``make lab`` in ``root`` on a free port with a fresh token; JupyterLab's output goes to ``log``.

    With ``command`` (e.g. ``["loop-lab", "lab", DEST]``) that runs instead, ``--port N`` and the options appended.

    The port is given as ``LAB_PORT``, or with ``port_in_lab_args`` as ``--port`` in ``LAB_ARGS`` (with
    ``LAB_PORT`` set to another free port, which must lose).

    Settings and workspaces live in a temporary directory, so a developer's own JupyterLab settings
    (a skipped restart dialog, another windowing mode) cannot change what the browser sees; autosave is
    off, so running the notebooks leaves notebooks/ as it was.
    """
    port, token = free_port(), secrets.token_hex(16)
    args = (
        f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.token={token} "
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"
    )
    lab_port = port
    if port_in_lab_args:
        args, lab_port = f"{args} --port={port}", free_port()
    lab = Lab(f"http://127.0.0.1:{port}", token)
    with tempfile.TemporaryDirectory(prefix="loop-lab-browser-") as scratch, log.open("w") as output:
        for name, text in _SETTINGS.items():
            target = Path(scratch, "settings", name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        env = kit_env(JUPYTERLAB_SETTINGS_DIR=f"{scratch}/settings", JUPYTERLAB_WORKSPACES_DIR=f"{scratch}/workspaces")
        started = (
            [*command, "--port", str(port), *args.split()]  # the space form: not taken for a DEST
            if command
            else ["make", "lab", f"LAB_PORT={lab_port}", f"LAB_ARGS={args}"]
        )
        process = subprocess.Popen(
            started,
            cwd=root,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + timeout
            while not _answers(lab):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"`{' '.join(started)}` did not serve JupyterLab within {timeout:.0f} s; its output is in {log}"
                    )
                time.sleep(0.5)
            yield lab
        finally:
            stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM make, JupyterLab and its kernels (one process group); wait until all are gone, SIGKILL after 30 s."""
    os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)  # make exits at once; JupyterLab then shuts its kernels down
    deadline = time.monotonic() + 30
    with contextlib.suppress(ProcessLookupError):
        while time.monotonic() < deadline:
            os.killpg(process.pid, 0)
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGKILL)
