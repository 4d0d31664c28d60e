"""`kommunaltypen serve --workers 2` on PostgreSQL: every request behaves the same whichever
worker serves it (an idempotent retry and a token read, each crossing workers)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import ANSWERS
from db_fixtures import _new_database
from live_server import free_port, wait_for_health

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry))
    return found


def _socket_owner(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """The process holding the server side of the TCP connection from ``client_port``."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, remote = parts[1], parts[2]
            if (
                int(local.rsplit(":", 1)[1], 16) == server_port
                and int(remote.rsplit(":", 1)[1], 16) == client_port
            ):
                inode = parts[9]
    if inode is None:
        return None
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


class Conn:
    """A kept-alive HTTP connection pinned to one worker."""

    def __init__(self, port: int) -> None:
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.http.connect()
        self.local_port = self.http.sock.getsockname()[1]

    def call(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"content-type": "application/json"} if data is not None else {}
        hdrs |= headers or {}
        self.http.request(method, path, body=data, headers=hdrs)
        response = self.http.getresponse()
        payload = response.read()
        return response.status, dict(response.getheaders()), json.loads(payload or b"null")


@contextmanager
def serve_two_workers(database_url: str, data_dir: Path) -> Iterator[tuple[int, subprocess.Popen]]:
    port = free_port()
    env = {**os.environ, "KOMMUNALTYPEN_DATA_DIR": str(data_dir)}
    env.pop("KOMMUNALTYPEN_SECRET_KEY", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kommunaltypen",
            "serve",
            "--port",
            str(port),
            "--database-url",
            database_url,
            "--workers",
            "2",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_health(
            proc,
            port,
            ready=lambda: len(_children(proc.pid)) >= 2,
            what="server with two workers",
        )
        yield port, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _one_connection_per_worker(port: int, proc: subprocess.Popen) -> dict[int, Conn]:
    pinned: dict[int, Conn] = {}
    for _ in range(200):
        conn = Conn(port)
        status, _, _ = conn.call("GET", "/api/v1/health")
        assert status == 200
        workers = [p for p in _children(proc.pid)]
        owner = _socket_owner(port, conn.local_port, workers)
        if owner is not None and owner not in pinned:
            pinned[owner] = conn
        else:
            conn.http.close()
        if len(pinned) == 2:
            return pinned
    raise AssertionError(f"could not reach two different workers: {list(pinned)}")


def test_two_workers_on_postgresql_answer_alike(
    request: pytest.FixtureRequest, postgres_server_url: str, tmp_path: Path
) -> None:
    database_url = _new_database(request, "postgresql", tmp_path)
    with serve_two_workers(database_url, tmp_path) as (port, proc):
        (pid_a, a), (pid_b, b) = _one_connection_per_worker(port, proc).items()
        assert pid_a != pid_b

        key = str(uuid.uuid4())
        body = {"answers": ANSWERS, "consent": True}
        status, headers, first = a.call(
            "POST", "/api/v1/submissions", body, {"Idempotency-Key": key}
        )
        assert status == 201, first
        # the retry lands on the other worker: the same submission and token
        status, headers, again = b.call(
            "POST", "/api/v1/submissions", body, {"Idempotency-Key": key}
        )
        assert status == 200, again
        assert headers.get("idempotent-replayed") == "true"
        assert (again["id"], again["token"]) == (first["id"], first["token"])
        # another body under the key: 409 on either worker
        other = {"answers": {**ANSWERS, "einwohner": 5}}
        for conn in (a, b):
            status, _, problem = conn.call(
                "POST", "/api/v1/submissions", other, {"Idempotency-Key": key}
            )
            assert status == 409, problem

        path = f"/api/v1/submissions/{first['id']}"
        auth = {"Authorization": f"Bearer {first['token']}"}
        for conn in (b, a):  # the token read works on both workers
            status, _, read = conn.call("GET", path, headers=auth)
            assert status == 200 and read["id"] == first["id"]
            status, _, _ = conn.call("GET", path, headers={"Authorization": "Bearer wrong"})
            assert status == 404
        # a change made through one worker is seen by the other
        changed = {"answers": {**ANSWERS, "einwohner": 1234}}
        status, _, _ = b.call("PUT", path, changed, auth)
        assert status == 200
        status, _, read = a.call("GET", path, headers=auth)
        assert read["answers"]["einwohner"] == 1234
        for conn in (a, b):
            conn.http.close()
