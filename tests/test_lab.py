"""`make lab` serves JupyterLab, and a kernel it starts can reach the kit's database."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import websocket

from tests.support.lab_server import Lab, running_lab

ROOT = Path(__file__).resolve().parents[1]
CODE = """
import os, asyncpg
conn = await asyncpg.connect(os.environ["DATABASE_URL"])
print("ANSWER", await conn.fetchval("SELECT 41 + 1"))
await conn.close()
"""


def _api(lab: Lab, path: str, method: str = "GET", body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{lab.base}{path}", data=data, method=method, headers={"Authorization": f"token {lab.token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        payload = response.read()
    return json.loads(payload) if payload else {}


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    with running_lab(ROOT, tmp_path / "lab.log") as running:
        yield running


def _execute(lab: Lab, kernel_id: str, code: str) -> str:
    ws = websocket.create_connection(
        f"{lab.base.replace('http', 'ws')}/api/kernels/{kernel_id}/channels?token={lab.token}", timeout=60
    )
    msg_id = uuid.uuid4().hex
    ws.send(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "username": "test",
                    "session": uuid.uuid4().hex,
                    "msg_type": "execute_request",
                    "version": "5.3",
                },
                "parent_header": {},
                "metadata": {},
                "channel": "shell",
                "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False},
            }
        )
    )
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


def test_make_lab_serves_jupyterlab_whose_kernels_reach_the_database(lab: Lab) -> None:
    with urllib.request.urlopen(lab.url("/lab"), timeout=10) as page:
        assert b"JupyterLab" in page.read()
    kernel = _api(lab, "/api/kernels", "POST", {"name": "python3"})
    try:
        assert "ANSWER 42" in _execute(lab, kernel["id"], CODE)
    finally:
        _api(lab, f"/api/kernels/{kernel['id']}", "DELETE")


def test_a_port_in_lab_args_wins_over_lab_port(tmp_path: Path) -> None:
    with running_lab(ROOT, tmp_path / "lab.log", port_in_lab_args=True) as lab:
        with urllib.request.urlopen(lab.url("/api/status"), timeout=10) as status:
            assert status.status == 200
    log = (tmp_path / "lab.log").read_text()
    assert "only accepts one value" not in log and "--port=" in log
