"""A real HTTP server for tests: uvicorn serving an ASGI app in a thread on a free loopback
port (used by the web tests' ``live_server`` and the end-to-end tests), and the wait for a
``kommunaltypen serve`` subprocess to answer."""

from __future__ import annotations

import http.client
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_in_thread(app: Any, *, timeout: float = 60, **options: Any) -> Iterator[str]:
    """uvicorn serving ``app`` in a thread (``options``: more ``uvicorn.Config`` settings);
    yields the base URL once the server accepts connections, stops it afterwards."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, **options
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def wait_for_health(
    proc: subprocess.Popen,
    port: int,
    *,
    ready: Callable[[], bool] = lambda: True,
    timeout: float = 90,
    what: str = "server",
) -> None:
    """Wait until the server process ``proc`` answers ``GET /api/v1/health`` on ``port`` with
    200 and ``ready()`` holds; fails with the process's output if it exits first, or after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise AssertionError(f"{what} exited with {proc.returncode}:\n{output}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status == 200 and ready():
                return
        except OSError:
            pass  # not listening yet: try again
        finally:
            conn.close()
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not start within {timeout:.0f} s")
        time.sleep(0.3)
