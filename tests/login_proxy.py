"""A basic-auth login in front of a test `mlflow server`, as a team's reverse proxy puts one: MLflow's own auth app
(`mlflow server --app-name basic-auth`) needs Flask-WTF (the `mlflow[auth]` extra), which crmflow does not install.
It runs in a thread of the test process; no pytest here."""

from __future__ import annotations

import base64
import http.server
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

TIMEOUT = 60.0  # seconds for one forwarded request


class _LoginProxy(http.server.BaseHTTPRequestHandler):
    """Forwards each request to `server.target` when it carries `server.authorization` (else 401), as a reverse
    proxy with basic auth in front of a team's `mlflow server` does; /health is open, as in MLflow's auth app."""

    protocol_version = "HTTP/1.1"
    server: _LoginServer

    def _body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def _reply(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("connection", "content-length", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _forward(self) -> None:
        body = self._body()
        if self.path != "/health" and self.headers.get("Authorization") != self.server.authorization:
            self.server.refused += 1
            self._reply(401, [("WWW-Authenticate", 'Basic realm="mlflow"')], b"login required")
            return
        skip = ("host", "authorization", "connection", "content-length", "transfer-encoding")
        headers = {name: value for name, value in self.headers.items() if name.lower() not in skip}
        request = urllib.request.Request(self.server.target + self.path, body, headers, method=self.command)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                self._reply(response.status, list(response.headers.items()), response.read())
        except urllib.error.HTTPError as error:
            self._reply(error.code, list(error.headers.items()), error.read())

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a test's output shows no access log."""


class _LoginServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    target: str
    authorization: str
    refused: int = 0


@contextmanager
def login_proxy(target: str, username: str, password: str) -> Iterator[str]:
    """An http URL on a free loopback port that forwards to `target` (an `mlflow server`) only the requests with
    HTTP basic auth `username`:`password`, as MLflow's client sends it from MLFLOW_TRACKING_USERNAME/PASSWORD or
    from a URL's user info; runs in a thread of this process, stopped on exit."""
    server = _LoginServer(("127.0.0.1", 0), _LoginProxy)
    server.target = target.rstrip("/")
    server.authorization = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    thread = threading.Thread(target=server.serve_forever, name="login-proxy", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=TIMEOUT)
