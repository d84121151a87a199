"""`make lab` serves JupyterLab, and a kernel it starts can reach the kit's database."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import websocket

from tests.kit_cli import kit_env

ROOT = Path(__file__).resolve().parents[1]
CODE = """
import os, asyncpg
conn = await asyncpg.connect(os.environ["DATABASE_URL"])
print("ANSWER", await conn.fetchval("SELECT 41 + 1"))
await conn.close()
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _api(base: str, token: str, path: str, method: str = "GET", body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        payload = response.read()
    return json.loads(payload) if payload else {}


@pytest.fixture
def lab() -> Iterator[tuple[str, str]]:
    port, token = _free_port(), secrets.token_hex(16)
    args = f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.token={token} --ServerApp.open_browser=False"
    process = subprocess.Popen(
        ["make", "lab", f"LAB_PORT={port}", f"LAB_ARGS={args}"], cwd=ROOT, env=kit_env(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                _api(base, token, "/api/status")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"JupyterLab did not come up:\n{process.stdout.read() if process.stdout else ''}")
                time.sleep(0.5)
        yield base, token
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _execute(base: str, token: str, kernel_id: str, code: str) -> str:
    ws = websocket.create_connection(f"{base.replace('http', 'ws')}/api/kernels/{kernel_id}/channels?token={token}", timeout=60)
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex, "msg_type": "execute_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False},
    }))
    output = []
    try:
        while True:
            message = json.loads(ws.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = message["msg_type"]
            if kind == "stream":
                output.append(message["content"]["text"])
            elif kind == "error":
                output.append("\n".join(message["content"]["traceback"]))
            elif kind == "status" and message["content"]["execution_state"] == "idle":
                return "".join(output)
    finally:
        ws.close()


def test_make_lab_serves_jupyterlab_whose_kernels_reach_the_database(lab: tuple[str, str]) -> None:
    base, token = lab
    with urllib.request.urlopen(f"{base}/lab?token={token}", timeout=10) as page:
        assert b"JupyterLab" in page.read()
    kernel = _api(base, token, "/api/kernels", "POST", {"name": "python3"})
    try:
        assert "ANSWER 42" in _execute(base, token, kernel["id"], CODE)
    finally:
        _api(base, token, f"/api/kernels/{kernel['id']}", "DELETE")
