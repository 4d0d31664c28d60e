"""Benchmark: the public Typ-Check pages over HTTP with 16 concurrent users (issue 12).

Usage: ``python benchmarks/bench_selfcheck_web.py [--users 16] [--workers 1]
[--phases flow,stress] [--think-picker 5] [--think-section 5] [--read 30] [--no-peer]
[--seed 12] [--rounds 5] [--think 30] [--json OUT.json]``

Starts ``kommunaltypen serve`` in a subprocess (SQLite in a temporary directory, loopback
only) and waits until **every** worker has finished its start-up (one "Application startup
complete" line per worker in the server log: each worker's lifespan builds the comparison basis
and warms the Typ-Check before it accepts requests, see ``web/app.py``). Then:

**flow** (the realistic load, on which the issue's target is judged): ``--users`` users start
together, each with its own connection, and go through the whole Typ-Check as a person would:
the picker (``GET /check?anonym=1``, ``--think-picker`` s, ``POST /check``), each section of
the questionnaire (its page, ``--think-section`` s of answering, ``POST`` with "weiter"), the
result page the last section leads to (computed: the user's first view), ``--read`` s of
reading it, the PDF profile, and (unless ``--no-peer``) the switch of the peer group to the
Land (computed) and a short look at it. Every think time is drawn per user and step uniformly
from 0.5–1.5 × its mean (seeded by ``--seed``): people do not act in lockstep. Reported:
p50/p95/max of the result pages, of the PDF downloads, of the peer-group pages and of all
other flow requests, and the server's CPU seconds over the phase.

**stress** (all users at the same instant, no reading time; reported beside the flow — the
worst case, not what the target is judged on): 17 submissions are filled through the forms
(one warms the PDF process), then

1. ``stress_result_page``: each user opens its result page ``--rounds`` times at once;
   ``stress_result_page_first`` is the first request of each user alone (computed);
2. ``stress_result_page_peer_land``: each user switches the peer group to the Land at once;
3. ``stress_pdf_right_after``: each user downloads its PDF right after (the renders the
   result pages queued are still running);
4. ``stress_pdf_repeat``: each user downloads it again (stored);
5. ``stress_pdf_after_reading`` (``--think S`` > 0): ``--users`` new users open their result
   page at once, read it ``S`` seconds, then download the PDF.

For every phase the CPU seconds of the server's process group (the workers and their PDF
processes, from ``/proc``) are printed beside the wall-clock figures: on a shared machine wall
time mostly measures the other processes. Never fails on a missed target (not a timed test);
the figures go to ``docs/selfcheck-web.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench_server import Server, group_cpu_seconds  # the same `kommunaltypen serve` subprocess

#: a browser drops an idle keep-alive connection before the server does (uvicorn closes one
#: after 5 s): without this a user who thought for longer could send a request on a
#: connection the server is just closing ("Server disconnected without sending a response")
LIMITS = httpx.Limits(keepalive_expiry=4.0)

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


def sections_of(user: int) -> dict[int, dict[str, object]]:
    """The answers a benchmark user gives, by section number (sections not named: nothing)."""
    goals = GOALS[user % len(GOALS)]
    return {
        2: {f"ziele__rang{i}": g for i, g in enumerate(goals, start=1)},
        3: {"strategie": "1", "anknuepfung": ["it_strategie"]},
        5: {"basiskomponenten": ["dms", "e_payment"], "fim": "1"},
        6: {"datenbestandsaufnahme": str(user % 4), "open_data": "1"},
        7: {"anteil_fortbildung_digital": str(10 + user), "mitarbeitendenbeteiligung": "2"},
        9: {"digitalisierungsgrad": "3", "innovationsfreude": "4"},
    }


def who_form(token: str, user: int) -> dict[str, str]:
    """The anonymous picker's form of a benchmark user."""
    data = {"csrf_token": token, "anonym": "1", "kommunenart": str(1 + user % 4)}
    return data | {"bundesland": str(1 + user % 16), "groesse": str(user % 12)}


def create_submission(base: str, user: int) -> str:
    """A submission filled through the forms; returns its private link."""
    with httpx.Client(base_url=base, timeout=60, limits=LIMITS) as client:
        token = _csrf(client, "/check?anonym=1")
        response = client.post("/check", data=who_form(token, user))
        assert response.status_code == 303, response.text[:500]
        link = response.headers["location"].split("/abschnitt/")[0]
        for number, fields in sections_of(user).items():
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
        with httpx.Client(timeout=600, limits=LIMITS) as client:
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

    wall, cpu = run_users(user, links, pgid, errors, lock)
    if first is not None:
        first.update(_stats(firsts))
    return {
        **_stats(times),
        "wall_s": round(wall, 2),
        "per_s": round(len(times) / wall, 1),
        "server_cpu_s": round(cpu, 2),
    }


def flow(
    base: str, users: int, pgid: int, args: argparse.Namespace, n_sections: int = 9
) -> dict[str, dict[str, float]]:
    """The flow phase (see the module's text): ``users`` users go through the Typ-Check at
    once, each with think times drawn around the means of ``args``."""
    kinds = ("flow_result_page", "flow_pdf", "flow_result_peer_land", "flow_other")
    times: dict[str, list[float]] = {k: [] for k in kinds}
    lock = threading.Lock()
    start = threading.Barrier(users)
    errors: list[str] = []
    think_total: list[float] = []

    def user(u: int) -> None:
        rng = random.Random(args.seed * 1000 + u)
        thought = 0.0

        def think(mean: float) -> None:
            nonlocal thought
            pause = mean * rng.uniform(0.5, 1.5)
            thought += pause
            time.sleep(pause)

        def timed(
            kind: str, method: str, url: str, expect: tuple[int, ...], **kw: object
        ) -> httpx.Response:
            t0 = time.perf_counter()
            response = client.request(method, url, **kw)  # type: ignore[arg-type]
            elapsed = time.perf_counter() - t0
            with lock:
                times[kind].append(elapsed)
                if response.status_code not in expect:
                    errors.append(f"{response.status_code} {method} {url}")
            return response

        with httpx.Client(base_url=base, timeout=600, limits=LIMITS) as client:
            start.wait()
            page = timed("flow_other", "GET", "/check?anonym=1", (200,))
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token, page.text[:300]
            think(args.think_picker)
            response = timed("flow_other", "POST", "/check", (303,), data=who_form(token[1], u))
            link = response.headers["location"].split("/abschnitt/")[0]
            answers = sections_of(u)
            for number in range(2, n_sections + 1):
                url = f"{link}/abschnitt/{number}"
                timed("flow_other", "GET", url, (200,))
                think(args.think_section)
                data = {"csrf_token": token[1], "aktion": "weiter", **answers.get(number, {})}
                if timed("flow_other", "POST", url, (200, 303), data=data).status_code == 200:
                    # the answers showed follow-up questions: the section again, "weiter"
                    think(args.think_section)
                    timed("flow_other", "POST", url, (303,), data=data)
            timed("flow_result_page", "GET", f"{link}/ergebnis", (200,))
            think(args.read)
            timed("flow_pdf", "GET", f"{link}/profil.pdf?lang=de&gruppe=kommunenart", (200,))
            if args.peer:
                think(args.think_section)
                peer = f"{link}/ergebnis?gruppe=bundesland"
                timed("flow_result_peer_land", "GET", peer, (200,))
        with lock:
            think_total.append(thought)

    wall, cpu = run_users(user, list(range(users)), pgid, errors, lock)
    out = {k: _stats(v) for k, v in times.items() if v}
    out["flow_result_page"] |= {
        "wall_s": round(wall, 2),
        "server_cpu_s": round(cpu, 2),
        "think_s_per_user": round(statistics.mean(think_total), 1),
    }
    return out


def wait_for_workers(log: Path, workers: int, timeout: float = 300.0) -> float:
    """Wait until each of ``workers`` server workers has finished its start-up (lifespan,
    Typ-Check warm-up included: one uvicorn "Application startup complete." line each);
    returns the seconds waited."""
    t0 = time.monotonic()
    while True:
        text = log.read_text(errors="replace")
        if text.count("Application startup complete") >= workers:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"not all {workers} workers started:\n{text[-3000:]}")
        time.sleep(0.2)


def run_users(
    user: Callable[[Any], None],
    each: list[Any],
    pgid: int,
    errors: list[str],
    lock: threading.Lock,
) -> tuple[float, float]:
    """Run ``user(x)`` for every ``x`` of ``each`` in its own thread, all at once; returns the
    wall seconds and the server's CPU seconds meanwhile. A user that raises is a failed
    benchmark (with the failed requests in ``errors``), never a silently smaller n."""

    def guarded(x: Any) -> None:
        try:
            user(x)
        except Exception as exc:
            with lock:
                errors.append(f"user {x}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=guarded, args=(x,)) for x in each]
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
    return wall, cpu


TARGETS = {"result_page": 300.0, "pdf": 3000.0}  # p95, ms (issue 12)


def verdict(phase: str, figures: dict[str, float]) -> str:
    target = TARGETS["pdf" if "pdf" in phase else "result_page"]
    met = "met" if figures["p95_ms"] < target else "MISSED"
    return f"p95 {figures['p95_ms']:.0f} ms vs target < {target:.0f} ms: {met}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--phases", default="flow,stress", help="comma-separated: flow, stress (default both)"
    )
    flow_opts = parser.add_argument_group("flow (mean think times, seconds)")
    flow_opts.add_argument("--think-picker", type=float, default=5.0)
    flow_opts.add_argument("--think-section", type=float, default=5.0)
    flow_opts.add_argument("--read", type=float, default=30.0, help="reading the result page")
    flow_opts.add_argument("--no-peer", dest="peer", action="store_false")
    flow_opts.add_argument("--seed", type=int, default=12)
    stress = parser.add_argument_group("stress")
    stress.add_argument("--rounds", type=int, default=5)
    stress.add_argument("--pdf-rounds", type=int, default=1)
    stress.add_argument(
        "--think", type=float, default=30.0, help="seconds a user reads the page (0: no phase 5)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    phases = {p.strip() for p in args.phases.split(",") if p.strip()}

    out: dict[str, object] = {"users": args.users, "workers": args.workers, "think_s": args.think}
    out["load_before"] = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-selfcheck-") as tmp:
        data = Path(tmp)
        server = Server(f"sqlite:///{data / 'db.sqlite3'}", data, args.workers, start_timeout=180)
        pgid = server.proc.pid  # its own session: the group id is its pid
        try:
            out["workers_ready_s"] = round(wait_for_workers(data / "server.log", args.workers), 1)
            if "flow" in phases:
                out.update(flow(server.base, args.users, pgid, args))
                out["load_after_flow"] = os.getloadavg()
            if "stress" in phases:
                run_stress(server.base, args, pgid, out)
        except Exception:
            log = (Path(tmp) / "server.log").read_text(errors="replace")
            print("server log (end):", log[-4000:], sep="\n", file=sys.stderr)
            raise
        finally:
            server.stop()
    out["load_after"] = os.getloadavg()
    report(out, args)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")


def run_stress(base: str, args: argparse.Namespace, pgid: int, out: dict[str, object]) -> None:
    """The stress phases (see the module's text) into ``out``."""
    links = [create_submission(base, u) for u in range(args.users)]
    # every worker is warm (its lifespan); one more submission starts a PDF process, so that
    # every measured user's page and PDF are computed in the phases below
    warm = create_submission(base, args.users)
    for _ in range(args.workers * 2):
        httpx.get(warm + "/ergebnis", timeout=300)
        httpx.get(warm + "/profil.pdf", timeout=300)
    first: dict[str, object] = {}
    out["stress_result_page"] = concurrent(links, "/ergebnis", args.rounds, pgid, first=first)
    out["stress_result_page_first"] = first
    out["stress_result_page_peer_land"] = concurrent(links, "/ergebnis?gruppe=bundesland", 1, pgid)
    out["stress_pdf_right_after"] = concurrent(links, "/profil.pdf", args.pdf_rounds, pgid)
    out["stress_pdf_repeat"] = concurrent(links, "/profil.pdf", 1, pgid)
    if args.think > 0:
        readers = [create_submission(base, u) for u in range(args.users)]
        out["stress_pdf_after_reading"] = concurrent(
            readers, "/profil.pdf", 1, pgid, before="/ergebnis", think=args.think
        )


def report(out: dict[str, object], args: argparse.Namespace) -> None:
    flow_keys = [k for k in out if k.startswith("flow_")]
    stress_keys = [k for k in out if k.startswith("stress_")]
    print(f"users {args.users}, server workers {args.workers}, all ready after "
          f"{out.get('workers_ready_s')} s")  # fmt: skip
    if flow_keys:
        print(f"flow (think: picker {args.think_picker} s, section {args.think_section} s, "
              f"reading {args.read} s; each 0.5-1.5 x, seed {args.seed}):")  # fmt: skip
        for key in flow_keys:
            print(f"  {key:30s} {out[key]}")
    if stress_keys:
        print(f"stress (all users at the same instant, no reading time; reading {args.think} s"
              " in the last phase):")  # fmt: skip
        for key in stress_keys:
            print(f"  {key:30s} {out[key]}")
    print(f"load average before {out['load_before']}, after {out['load_after']}")
    print("targets (issue 12: result page p95 < 300 ms, PDF < 3 s, 16 concurrent users),")
    print("judged on the flow; the stress phases beside it:")
    for key in flow_keys + stress_keys:
        if key != "flow_other":
            print(f"  {key:30s} {verdict(key, out[key])}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
