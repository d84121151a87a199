"""A learner's side of JupyterHub's REST API: log in (a token for a user name and password), start a server, wait."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Hub:
    """A running hub's public URL (through configurable-http-proxy)."""

    url: str

    def api(self, path: str, token: str | None, body: Any = None, *, method: str | None = None, timeout: float = 60) -> Any:
        """Call ``path`` (``/hub/api/...`` or ``/user/NAME/api/...``) with ``token``; the JSON answer, or None."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method or ("POST" if data else "GET"))
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"token {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{request.method} {path}: HTTP {exc.code} {exc.read()[:500]!r}") from None
        return json.loads(text) if text else None

    def login(self, user: str, password: str) -> str:
        """A token of ``user``'s, asked for with the user's OS password (the hub's PAM authenticator checks it)."""
        answer = self.api(
            f"/hub/api/users/{user}/tokens", None, {"auth": {"username": user, "password": password}, "note": "test"}
        )
        return answer["token"]

    def start_server(self, user: str, token: str, *, timeout: float = 600) -> float:
        """Ask the hub to start ``user``'s server and wait until it is ready; the seconds it took.

        A spawn the hub gave up on (the server neither pending nor ready) fails at once, with the hub's reason.
        """
        began = time.monotonic()
        self.api(f"/hub/api/users/{user}/server", token, {})
        while time.monotonic() - began < timeout:
            server = self.api(f"/hub/api/users/{user}", token)["servers"].get("", {})
            if server.get("ready"):
                return time.monotonic() - began
            if not server.get("pending"):
                raise AssertionError(f"the hub failed to start {user}'s server after {time.monotonic() - began:.0f} s")
            time.sleep(1)
        raise AssertionError(f"{user}'s server was not ready within {timeout:.0f} s")

    def stop_server(self, user: str, token: str) -> None:
        """Stop ``user``'s server (the hub waits for it)."""
        self.api(f"/hub/api/users/{user}/server", token, method="DELETE", timeout=120)
