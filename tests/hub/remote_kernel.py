"""Run a notebook in a real kernel of a single-user server behind the hub: the sessions REST API and the kernel's websocket.

As JupyterLab does it: a session for the notebook's path starts a kernel (in the notebook's folder, with
``JPY_SESSION_NAME``), each code cell is one ``execute_request`` on the kernel's channels, the outputs come back
on iopub. The executed notebook is a :class:`tests.support.notebook_runner.Pass`, like a single-user run's.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import nbformat
import websocket

from tests.hub.hub_api import Hub
from tests.support.notebook_runner import NOTEBOOKS, Pass

_OUTPUTS = {"stream", "display_data", "execute_result", "error"}


@dataclass
class Kernel:
    """One kernel of a learner's server, started by a session for a notebook, reached over its websocket."""

    hub: Hub
    user: str
    token: str
    session: str
    kernel: str
    socket: websocket.WebSocket

    @classmethod
    def open(cls, hub: Hub, user: str, token: str, notebook: str, timeout: float = 300) -> Kernel:
        """Start a session (and its kernel) for ``notebook`` in ``user``'s server, and connect to the kernel."""
        model = hub.api(
            f"/user/{user}/api/sessions",
            token,
            {"path": notebook, "name": notebook, "type": "notebook", "kernel": {"name": "python3"}},
            timeout=timeout,
        )
        ws_url = hub.url.replace("http", "ws", 1) + f"/user/{user}/api/kernels/{model['kernel']['id']}/channels"
        sock = websocket.create_connection(
            f"{ws_url}?session_id={uuid.uuid4().hex}", header=[f"Authorization: token {token}"], timeout=timeout
        )
        return cls(hub, user, token, model["id"], model["kernel"]["id"], sock)

    def execute(self, code: str, timeout: float = 600) -> list[nbformat.NotebookNode]:
        """Run ``code``; return its outputs as nbformat outputs (errors included: nothing stops at a failing cell)."""
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "session": self.session,
            "username": self.user,
            "version": "5.3",
        }
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False}
        self.socket.send(
            json.dumps({"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"})
        )
        outputs: list[nbformat.NotebookNode] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg: dict[str, Any] = json.loads(self.socket.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id or msg["channel"] != "iopub":
                continue
            kind = msg["header"]["msg_type"]
            if kind in _OUTPUTS:
                outputs.append(nbformat.v4.output_from_msg(msg))
            elif kind == "clear_output":
                outputs.clear()
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                return outputs
        raise AssertionError(f"{self.user}: a cell did not finish within {timeout:.0f} s: {code[:200]!r}")

    def run_notebook(self, name: str) -> Pass:
        """Execute every code cell of the course's notebook ``name`` in this kernel, in order."""
        notebook = copy.deepcopy(nbformat.read(NOTEBOOKS / name, as_version=4))
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs = self.execute(cell.source)
        return Pass(notebook)

    def close(self) -> None:
        """Close the websocket and delete the session, which shuts the kernel down."""
        self.socket.close()
        self.hub.api(f"/user/{self.user}/api/sessions/{self.session}", self.token, method="DELETE")
