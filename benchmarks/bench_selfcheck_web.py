"""Benchmark: the public Typ-Check pages over HTTP with 16 concurrent users (issue 12).

Usage: ``python benchmarks/bench_selfcheck_web.py [--users 16] [--rounds 5] [--workers 1]
[--think 30] [--json OUT.json]``

Starts ``kommunaltypen serve`` in a subprocess (SQLite in a temporary directory, loopback
only), creates one submission per user through the HTML forms (picker, goals, a few sections;
CSRF cookie and field as a browser sends them), warms the server (one result page: the
comparison basis of the bundled data is computed once per worker, the PDF process starts),
then lets ``--users`` threads, each with its own connection, act as users:

1. ``result_page``: each user opens its result page (``GET …/ergebnis``) ``--rounds`` times —
   p50/p95/max over all requests (target p95 < 300 ms); ``result_page_first`` is the first
   request of each user alone (the page computed, not yet stored);
2. ``result_page_peer_land``: each user switches the peer group to the Land once (computed);
3. ``pdf_right_after``: each user downloads its PDF profile (``GET …/profil.pdf``, the link
   of the page) right after the pages above — the worst case: the renders the result pages
   queued are still running (target < 3 s);
4. ``pdf_repeat``: each user downloads it again (stored);
5. ``pdf_after_reading`` (``--think S`` > 0): ``--users`` new users each open their result
   page, read it for ``S`` seconds, then download the PDF, as a user would.

For every phase the CPU seconds of the server's process group (the worker and its PDF
process, from ``/proc``) are printed beside the wall-clock figures: on a shared machine wall
time mostly measures the other processes. Never fails on a missed target (not a timed test);
the figures go to ``docs/selfcheck-web.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench_server import Server  # the same `kommunaltypen serve` subprocess

GOALS = [
    ("effizienz", "leistungsangebot", "buergernaehe"),
    ("rechtliche_vorgaben", "foerdermittel", "effizienz"),
    ("buergernaehe", "attraktivitaet", "wirtschaft"),
    ("daseinsvorsorge", "zivilgesellschaft", "innovation"),
]


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


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of the live processes of process group ``pgid`` (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:  # fields[2]: pgrp; [11], [12]: utime, stime
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def concurrent(
    links: list[str],
    suffix: str,
    rounds: int,
    pgid: int,
    *,
    before: str | None = None,
    think: float = 0.0,
    first: dict[str, object] | None = None,
) -> dict[str, float]:
    """Each link's user requests ``link + suffix`` ``rounds`` times, all users at once
    (after opening ``link + before`` and waiting ``think`` seconds, when given). ``first``
    receives the statistics of each user's first request."""
    times: list[float] = []
    firsts: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(len(links))
    errors: list[str] = []

    def get(client: httpx.Client, url: str) -> float:
        t0 = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - t0
        if response.status_code != 200:
            errors.append(f"{response.status_code} {url}")
        return elapsed

    def user(link: str) -> None:
        with httpx.Client(timeout=600) as client:
            start.wait()
            if before is not None:
                get(client, link + before)
                time.sleep(think)
            for i in range(rounds):
                elapsed = get(client, link + suffix)
                with lock:
                    times.append(elapsed)
                    if i == 0:
                        firsts.append(elapsed)

    threads = [threading.Thread(target=user, args=(link,)) for link in links]
    cpu = group_cpu_seconds(pgid)
    wall = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - wall
    cpu = group_cpu_seconds(pgid) - cpu
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, e.g. {errors[0]}")
    if first is not None:
        first.update(_stats(firsts))
    return {
        **_stats(times),
        "wall_s": round(wall, 2),
        "per_s": round(len(times) / wall, 1),
        "server_cpu_s": round(cpu, 2),
    }


TARGETS = {"result_page": 300.0, "pdf": 3000.0}  # p95, ms (issue 12)


def verdict(phase: str, figures: dict[str, float]) -> str:
    target = TARGETS["pdf" if phase.startswith("pdf") else "result_page"]
    met = "met" if figures["p95_ms"] < target else "MISSED"
    return f"p95 {figures['p95_ms']:.0f} ms vs target < {target:.0f} ms: {met}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pdf-rounds", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--think", type=float, default=30.0, help="seconds a user reads the page (0: no phase 5)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    out: dict[str, object] = {"users": args.users, "workers": args.workers, "think_s": args.think}
    out["load_before"] = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-selfcheck-") as tmp:
        data = Path(tmp)
        server = Server(f"sqlite:///{data / 'db.sqlite3'}", data, args.workers, start_timeout=180)
        pgid = server.proc.pid  # its own session: the group id is its pid
        try:
            links = [create_submission(server.base, u) for u in range(args.users)]
            # warm each worker (comparison basis, PDF process) with a submission of its own,
            # so that every measured user's page and PDF are computed in the phases below
            warm = create_submission(server.base, args.users)
            for _ in range(args.workers * 2):
                httpx.get(warm + "/ergebnis", timeout=300)
                httpx.get(warm + "/profil.pdf", timeout=300)
            first: dict[str, object] = {}
            out["result_page"] = concurrent(links, "/ergebnis", args.rounds, pgid, first=first)
            out["result_page_first"] = first
            out["result_page_peer_land"] = concurrent(links, "/ergebnis?gruppe=bundesland", 1, pgid)
            out["pdf_right_after"] = concurrent(links, "/profil.pdf", args.pdf_rounds, pgid)
            out["pdf_repeat"] = concurrent(links, "/profil.pdf", 1, pgid)
            if args.think > 0:
                readers = [create_submission(server.base, u) for u in range(args.users)]
                out["pdf_after_reading"] = concurrent(
                    readers, "/profil.pdf", 1, pgid, before="/ergebnis", think=args.think
                )
        except Exception:
            log = (Path(tmp) / "server.log").read_text(errors="replace")
            print("server log (end):", log[-4000:], sep="\n", file=sys.stderr)
            raise
        finally:
            server.stop()
    out["load_after"] = os.getloadavg()
    phases = [k for k in out if k.startswith(("result_page", "pdf"))]
    for key in phases:
        print(f"{key:24s} {out[key]}")
    print(f"users {args.users}, server workers {args.workers}, think time {args.think} s")
    print(f"load average before {out['load_before']}, after {out['load_after']}")
    print("targets (issue 12: result page p95 < 300 ms, PDF < 3 s, 16 concurrent users):")
    for key in phases:
        print(f"  {key:24s} {verdict(key, out[key])}")  # type: ignore[arg-type]
    if args.json:
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
