"""Fixtures for the dataset tests: an isolated data folder and a real local HTTP server."""

from __future__ import annotations

import dataclasses
import http.server
import socket
import threading

import pytest

from stackit.datasets import _fetch
from tests.datasets.formats import sha256


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        name = self.path.lstrip("/")
        self.server.requests.append(name)
        data = self.server.files.get(name)
        faults = self.server.faults.get(name) or []
        fault = faults.pop(0) if faults else None
        if data is None or fault == "404":
            self.send_error(404)
        elif fault == "503":
            self.send_error(503)
        else:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if fault == "cut":  # Promise the whole file, send half, hang up.
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(data)

    def log_message(self, format, *args) -> None:  # noqa: A002
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, list[str]] = {}
        self.requests: list[str] = []

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{name}"

    def serve(self, name: str, data: bytes, faults: tuple[str, ...] = ()) -> str:
        """Serves `data` at `/name`; `faults` ('503', '404', 'cut') apply to the first GETs."""
        self.files[name] = data
        self.faults[name] = list(faults)
        return self.url(name)


@pytest.fixture
def server():
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


@pytest.fixture
def dead_url():
    """A URL on a local port where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch):
    """Every test gets its own $STACKIT_DATA, online mode and no retry waits."""
    root = tmp_path / "stackit-data"
    monkeypatch.setenv("STACKIT_DATA", str(root))
    monkeypatch.delenv("STACKIT_OFFLINE", raising=False)
    monkeypatch.setattr(_fetch, "DOWNLOAD_RETRIES", 0)
    monkeypatch.setattr(_fetch, "DOWNLOAD_TIMEOUT", (2.0, 5.0))
    return root


@pytest.fixture
def publish(server, monkeypatch):
    """Serves a file locally and points a dataset module's registry entry at it.

    `publish(module, name, data, sha=None, faults=())` keeps the official entry's name and
    swaps only its URL and SHA-256 (that of `data` unless `sha` is given).
    """

    def _publish(module, name, data, sha=None, faults=()):
        url = server.serve(name, data, faults)
        entry = dataclasses.replace(
            module.FILES[name], urls=(url,), sha256=sha or sha256(data), size=len(data)
        )
        monkeypatch.setitem(module.FILES, name, entry)
        return entry

    return _publish


@pytest.fixture
def unreachable(dead_url, monkeypatch):
    """Points every file of a dataset module at a dead port, keeping (or replacing) hashes."""

    def _unreachable(module, hashes=None):
        for name, entry in list(module.FILES.items()):
            sha = (hashes or {}).get(name, entry.sha256)
            new = dataclasses.replace(entry, urls=(f"{dead_url}/{name}",), sha256=sha)
            monkeypatch.setitem(module.FILES, name, new)

    return _unreachable
