"""Benchmark: the public Typ-Check pages over HTTP with 16 concurrent users (issue 12).

Usage: ``python benchmarks/bench_selfcheck_web.py [--users 16] [--rounds 5] [--workers 1]
[--json OUT.json]``

Starts ``kommunaltypen serve`` in a subprocess (SQLite in a temporary directory, loopback
only), creates one submission per user through the HTML forms (picker, goals, a few sections;
CSRF cookie and field as a browser sends them), warms the server (one result page: the
comparison basis of the bundled data is computed once per worker), then lets ``--users``
threads, each with its own connection, request

1. the result page (``GET …/ergebnis``) ``--rounds`` times each — p50/p95/max (target p95 <
   300 ms);
2. the PDF profile (``GET …/profil.pdf``) once or more each — p50/p95/max (target < 3 s).

Wall-clock latencies on a shared machine include waiting for the other processes; the load
average at the start and the end is printed with the figures. Never fails on a missed target
(not a timed test); the figures go to ``docs/selfcheck-web.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

GOALS = [
    ("effizienz", "leistungsangebot", "buergernaehe"),
    ("rechtliche_vorgaben", "foerdermittel", "effizienz"),
    ("buergernaehe", "attraktivitaet", "wirtschaft"),
    ("daseinsvorsorge", "zivilgesellschaft", "innovation"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``kommunaltypen serve`` in its own process group (stopped by its id)."""

    def __init__(self, data_dir: Path, workers: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "KOMMUNALTYPEN_DATA_DIR": str(data_dir)}
        cmd = [
            sys.executable, "-m", "kommunaltypen", "serve", "--port", str(self.port),
            "--database-url", f"sqlite:///{data_dir / 'db.sqlite3'}", "--workers", str(workers),
        ]  # fmt: skip
        self.log = open(data_dir / "server.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 180
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError((data_dir / "server.log").read_text(errors="replace"))
            try:
                if httpx.get(f"{self.base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("server did not start")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


def _csrf(client: httpx.Client, url: str) -> str:
    page = client.get(url)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:300]
    return match.group(1)


def create_submission(base: str, user: int) -> str:
    """A submission filled through the forms; returns its private link."""
    with httpx.Client(base_url=base, timeout=60) as client:
        token = _csrf(client, "/check?anonym=1")
        data = {"csrf_token": token, "anonym": "1", "kommunenart": str(1 + user % 4)}
        data |= {"bundesland": str(1 + user % 16), "groesse": str(user % 12)}
        response = client.post("/check", data=data)
        assert response.status_code == 303, response.text[:500]
        link = response.headers["location"].split("/abschnitt/")[0]
        goals = GOALS[user % len(GOALS)]
        sections = {
            2: {f"ziele__rang{i}": g for i, g in enumerate(goals, start=1)},
            3: {"strategie": "1", "anknuepfung": ["it_strategie"]},
            5: {"basiskomponenten": ["dms", "e_payment"], "fim": "1"},
            6: {"datenbestandsaufnahme": str(user % 4), "open_data": "1"},
            7: {"anteil_fortbildung_digital": str(10 + user), "mitarbeitendenbeteiligung": "2"},
            9: {"digitalisierungsgrad": "3", "innovationsfreude": "4"},
        }
        for number, fields in sections.items():
            response = client.post(
                f"{link}/abschnitt/{number}",
                data={"csrf_token": token, "aktion": "speichern", **fields},
            )
            assert response.status_code == 303, (number, response.text[:500])
        return base + link


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]

    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(pct(0.95) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def concurrent(links: list[str], suffix: str, rounds: int) -> dict[str, float]:
    """Each link's user requests ``link + suffix`` ``rounds`` times, all users at once."""
    times: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(len(links))
    errors: list[str] = []

    def user(link: str) -> None:
        with httpx.Client(timeout=120) as client:
            start.wait()
            for _ in range(rounds):
                t0 = time.perf_counter()
                response = client.get(link + suffix)
                elapsed = time.perf_counter() - t0
                if response.status_code != 200:
                    errors.append(f"{response.status_code} {link + suffix}")
                with lock:
                    times.append(elapsed)

    threads = [threading.Thread(target=user, args=(link,)) for link in links]
    wall = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - wall
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, e.g. {errors[0]}")
    return {**_stats(times), "wall_s": round(wall, 2), "per_s": round(len(times) / wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pdf-rounds", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    out: dict[str, object] = {"users": args.users, "workers": args.workers}
    out["load_before"] = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-selfcheck-") as tmp:
        server = Server(Path(tmp), args.workers)
        try:
            links = [create_submission(server.base, u) for u in range(args.users)]
            for _ in range(args.workers * 2):  # warm each worker's comparison basis
                httpx.get(links[0] + "/ergebnis", timeout=300)
            out["result_page"] = concurrent(links, "/ergebnis", args.rounds)
            out["result_page_peer_land"] = concurrent(links, "/ergebnis?gruppe=bundesland", 1)
            out["pdf"] = concurrent(links, "/profil.pdf", args.pdf_rounds)
        except Exception:
            log = (Path(tmp) / "server.log").read_text(errors="replace")
            print("server log (end):", log[-4000:], sep="\n", file=sys.stderr)
            raise
        finally:
            server.stop()
    out["load_after"] = os.getloadavg()
    for key in ("result_page", "result_page_peer_land", "pdf"):
        print(f"{key:24s} {out[key]}")
    print(f"load average before {out['load_before']}, after {out['load_after']}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
