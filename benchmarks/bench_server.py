"""Benchmark: the web server under load, on loopback only, each phase bounded in time.

Usage: ``python benchmarks/bench_server.py [--duration 10] [--connections 64] [--workers 1]
[--postgres URL] [--json OUT.json]``

Starts ``kommunaltypen serve`` in a subprocess (SQLite in a temporary directory; PostgreSQL in
a schema of its own when a server answers at ``--postgres`` / ``KOMMUNALTYPEN_TEST_POSTGRES_URL``
/ the local default) and drives it with ``wrk`` when installed (``apt-get install wrk``), else
with a small asyncio HTTP/1.1 keep-alive load generator. Phases:

1. ``GET /api/v1/health`` (a trivial JSON endpoint) and ``POST /api/v1/classify`` side by side
   at ``--connections`` connections, alternating twice in one run: throughput ratio (target
   ≥ 80 %) and classify p99 (target < 50 ms).
2. ``POST /api/v1/submissions`` (each with its own Idempotency-Key) on SQLite and PostgreSQL:
   stored submissions per second, counted in the database (target ≥ 300/s), and the server
   process's CPU time per stored submission.
3. ``GET /api/v1/kommunen?q=…`` over varied prefixes at 4 connections: p99 (target < 20 ms).

Phases 1 and 3 also report the server's CPU time per request (comparable on a busy machine;
the health/classify ratio of it is what the throughput ratio would be on an idle one).

Also measured in-process, to show where the time of a submission goes: the answers' rules
(``service.check_answers``) alone, and the store's insert + commit alone; and the directory
search in the store alone (no HTTP).

The script prints a table, optionally writes JSON, and never fails on a missed target (it is
not a timed test); the figures go to ``docs/web.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"

ANSWERS = {
    "kommune_id": "09162000",
    "kommunenart": 2,
    "bundesland": 9,
    "einwohner": 1500000,
    "ziele_effizienz": 1,
    "ziele_buergernaehe": 2,
    "ziele_innovation": 3,
}
GOALS = [
    "rechtliche_vorgaben",
    "foerdermittel",
    "effizienz",
    "leistungsangebot",
    "buergernaehe",
    "attraktivitaet",
    "daseinsvorsorge",
    "wirtschaft",
    "zivilgesellschaft",
    "innovation",
]
PREFIXES = [
    "ber", "mün", "ham", "köl", "fra", "stu", "düs", "lei", "dor", "ess", "bre", "dre", "han",
    "nür", "dui", "boc", "wup", "bie", "bon", "mannh", "karl", "wies", "aug", "mön", "gel",
    "neu", "bad", "alt", "groß", "klein", "st", "ober", "unter", "nieder", "hohen", "wald",
    "schön", "rot", "wei", "lan", "kir", "hof", "bur", "ros", "eich", "lin", "mar", "sch",
    "09", "05", "0816", "1466", "03",
]  # fmt: skip


# ---------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``kommunaltypen serve`` in its own process group (stopped by its id)."""

    def __init__(
        self, database_url: str, data_dir: Path, workers: int, start_timeout: float = 120
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "KOMMUNALTYPEN_DATA_DIR": str(data_dir)}
        cmd = [
            sys.executable, "-m", "kommunaltypen", "serve", "--port", str(self.port),
            "--database-url", database_url, "--workers", str(workers),
        ]  # fmt: skip
        self.log = open(data_dir / "server.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + start_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError((data_dir / "server.log").read_text(errors="replace"))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
                    if b" 200 " in sock.recv(200):
                        break
            except OSError:
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


# ---------------------------------------------------------------------------- load (wrk)
LUA_TEMPLATE = r"""
local counter = 0
local kind = "%(kind)s"
local goals = {%(goals)s}
local prefixes = {%(prefixes)s}
local answers = '%(answers)s'
-- every wrk thread gets its own number (setup runs in the main state, once per thread), so
-- that no two threads send the same Idempotency-Key (unseeded, math.random gives every
-- thread the same numbers: half the "submissions" were replays of the other thread's)
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end
init = function(args)
  math.randomseed(os.time() * 1000 + thread_id)
  run_id = math.random(1, 1000000000)
end
request = function()
  counter = counter + 1
  if kind == "classify" then
    local a = math.random(1, #goals)
    local b = a %% #goals + 1
    local c = b %% #goals + 1
    local body = '{"goals":["' .. goals[a] .. '","' .. goals[b] .. '","' .. goals[c] .. '"]}'
    return wrk.format("POST", "/api/v1/classify", {["Content-Type"] = "application/json"}, body)
  elseif kind == "submit" then
    local key = string.format("bench-%%d-%%d-%%d", run_id, thread_id, counter)
    local body = '{"answers":' .. answers .. '}'
    return wrk.format("POST", "/api/v1/submissions",
      {["Content-Type"] = "application/json", ["Idempotency-Key"] = key}, body)
  elseif kind == "search" then
    local p = prefixes[math.random(1, #prefixes)]
    return wrk.format("GET", "/api/v1/kommunen?q=" .. p)
  else
    return wrk.format("GET", "/api/v1/health")
  end
end
done = function(summary, latency, requests)
  io.write(string.format("BENCH requests=%%d duration_us=%%d errors_status=%%d "
    .. "errors_connect=%%d errors_read=%%d errors_write=%%d errors_timeout=%%d "
    .. "p50_us=%%d p90_us=%%d p99_us=%%d max_us=%%d\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def _lua(kind: str) -> str:
    def quote(items: list[str]) -> str:
        return ",".join(f'"{i}"' for i in items)

    return LUA_TEMPLATE % {
        "kind": kind,
        "goals": quote(GOALS),
        "prefixes": quote([_urlquote(p) for p in PREFIXES]),
        "answers": json.dumps(ANSWERS),
    }


def _urlquote(text: str) -> str:
    from urllib.parse import quote

    return quote(text)


def run_wrk(base: str, kind: str, connections: int, duration: float, tmp: Path) -> dict:
    script = tmp / f"{kind}.lua"
    script.write_text(_lua(kind))
    threads = min(2, connections)
    proc = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=False,
    )
    match = re.search(r"^BENCH (.*)$", proc.stdout, re.M)
    if not match:
        raise RuntimeError(proc.stdout + proc.stderr)
    fields = {k: int(v) for k, v in (kv.split("=") for kv in match.group(1).split())}
    seconds = fields["duration_us"] / 1e6
    errors = sum(v for k, v in fields.items() if k.startswith("errors_"))
    return {
        "kind": kind,
        "tool": "wrk",
        "connections": connections,
        "requests": fields["requests"],
        "errors": errors,
        "ok": fields["requests"] - fields["errors_status"],
        "rps": fields["requests"] / seconds,
        "ok_per_s": (fields["requests"] - fields["errors_status"]) / seconds,
        "p50_ms": fields["p50_us"] / 1000,
        "p90_ms": fields["p90_us"] / 1000,
        "p99_ms": fields["p99_us"] / 1000,
    }


# ---------------------------------------------------------------------------- load (python)
def _request_bytes(kind: str, rnd: secrets.SystemRandom) -> bytes:
    headers = "Host: 127.0.0.1\r\n"
    if kind == "health":
        return f"GET /api/v1/health HTTP/1.1\r\n{headers}\r\n".encode()
    if kind == "search":
        q = _urlquote(rnd.choice(PREFIXES))
        return f"GET /api/v1/kommunen?q={q} HTTP/1.1\r\n{headers}\r\n".encode()
    if kind == "classify":
        body = json.dumps({"goals": rnd.sample(GOALS, 3)}).encode()
        path, extra = "/api/v1/classify", ""
    else:
        body = json.dumps({"answers": ANSWERS}).encode()
        path, extra = "/api/v1/submissions", f"Idempotency-Key: {uuid.uuid4()}\r\n"
    head = (
        f"POST {path} HTTP/1.1\r\n{headers}{extra}Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _python_load(port: int, kind: str, connections: int, duration: float) -> dict:
    rnd = secrets.SystemRandom()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    stop_at = time.perf_counter() + duration

    async def one_connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                writer.write(_request_bytes(kind, rnd))
                await writer.drain()
                status_line = await reader.readline()
                length = 0
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                status = int(status_line.split()[1])
                statuses[status] = statuses.get(status, 0) + 1
        except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
            errors += 1
        finally:
            writer.close()

    t_start = time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(connections)))
    seconds = time.perf_counter() - t_start
    latencies.sort()

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0
        )

    ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
    return {
        "kind": kind,
        "tool": "python",
        "connections": connections,
        "requests": len(latencies),
        "errors": errors + len(latencies) - ok,
        "ok": ok,
        "rps": len(latencies) / seconds,
        "ok_per_s": ok / seconds,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
    }


def load(server: Server, kind: str, connections: int, duration: float, tmp: Path) -> dict:
    if shutil.which("wrk"):
        return run_wrk(server.base, kind, connections, duration, tmp)
    return asyncio.run(_python_load(server.port, kind, connections, duration))


# ---------------------------------------------------------------------------- phase 2
SUBMIT_TARGET = 300.0  # stored submissions per second (issue 11)


def stored_submissions(database_url: str) -> int:
    """How many submissions the server's database holds."""
    from sqlalchemy import func, select

    from kommunaltypen import store

    engine = store.make_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(store.Submission)))
    finally:
        engine.dispose()


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of the live processes of process group ``pgid`` (Linux): a
    :class:`Server` runs in a session of its own, so its group is the server, its workers and
    whatever they start (the Typ-Check's PDF render processes)."""
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


def submit_phase(
    server: Server, database_url: str, connections: int, duration: float, tmp: Path
) -> dict:
    """Phase 2: ``POST /submissions`` under load, each request with its own key. Counts what
    the database really stored (a replay or an error stores nothing) and the server's CPU
    time per stored submission (a figure that stays comparable on a busy machine)."""
    before = stored_submissions(database_url)
    cpu0 = group_cpu_seconds(server.proc.pid)
    result = load(server, "submit", connections, duration, tmp)
    cpu = group_cpu_seconds(server.proc.pid) - cpu0
    stored = stored_submissions(database_url) - before
    seconds = result["requests"] / result["rps"] if result["rps"] else duration
    # the count also holds the requests still in flight when the load generator stopped
    # timing; a 2xx answer that stored nothing (a replay) must not count
    result["stored"] = stored
    result["stored_per_s"] = min(stored, result["ok"]) / seconds
    result["server_cpu_ms_per_stored"] = cpu * 1000 / stored if stored else None
    return result


# ---------------------------------------------------------------------------- phases 1, 3
RATIO_TARGET = 0.80  # classify throughput / health throughput (issue 11)
CLASSIFY_P99_TARGET_MS = 50.0
SEARCH_P99_TARGET_MS = 20.0


def measured_load(server: Server, kind: str, connections: int, duration: float, tmp: Path) -> dict:
    """:func:`load` plus the server's CPU time per request (µs): unlike requests per second
    it stays comparable when other processes share the machine."""
    cpu0 = group_cpu_seconds(server.proc.pid)
    result = load(server, kind, connections, duration, tmp)
    cpu = group_cpu_seconds(server.proc.pid) - cpu0
    result["server_cpu_us_per_req"] = cpu * 1e6 / result["requests"] if result["requests"] else None
    return result


def in_process_search(database_url: str, rounds: int = 10) -> dict:
    """The directory search alone (the store, no HTTP): ``DirectoryRepo.search_entries`` on
    a plain read connection as the API route runs it, over the benchmark's prefixes."""
    from urllib.parse import unquote

    from kommunaltypen import service
    from kommunaltypen.store import DirectoryRepo, make_engine
    from kommunaltypen.web.deps import AppState

    engine = make_engine(database_url)
    state = AppState(
        settings=None,  # type: ignore[arg-type]
        engine=engine,
        sessions=None,  # type: ignore[arg-type]
        read_sessions=None,  # type: ignore[arg-type]
        model=service.default_model(),
    )
    queries = [unquote(p) for p in PREFIXES]
    latencies = []
    cpu0 = time.process_time()
    for _ in range(rounds):
        for q in queries:
            t0 = time.perf_counter()
            with state.read_engine.connect() as connection:
                DirectoryRepo(connection).search_entries(q)
            latencies.append(time.perf_counter() - t0)
    cpu = time.process_time() - cpu0
    engine.dispose()
    latencies.sort()
    return {
        "search_p50_ms": latencies[len(latencies) // 2] * 1000,
        "search_p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "search_cpu_us": cpu * 1e6 / len(latencies),
    }


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


# ---------------------------------------------------------------------------- in-process
def in_process_figures(database_url: str, n: int = 30) -> dict:
    """Milliseconds per submission for the rules alone (CPU time of this process, polars'
    threads included: one answer set, and a pass over 64 as the server's batches do) and the
    store alone (wall time: the database's round trips)."""
    from kommunaltypen import service, store

    service.check_answers(ANSWERS)
    t0 = time.process_time()
    for _ in range(n):
        service.check_answers(ANSWERS)
    rules_ms = (time.process_time() - t0) / n * 1000
    batch = [ANSWERS] * 64
    service.check_answers_many(batch)
    t0 = time.process_time()
    for _ in range(max(1, n // 3)):
        service.check_answers_many(batch)
    batch_ms = (time.process_time() - t0) / max(1, n // 3) * 1000

    engine = store.make_engine(database_url)
    sessions = store.session_factory(engine)
    row = service.check_answers(ANSWERS).row or {}
    t0 = time.perf_counter()
    inserts = 300
    for _ in range(inserts):
        with sessions.begin() as session:
            store.SubmissionRepo(session).create_or_get(
                idempotency_key=str(uuid.uuid4()),
                request_hash="0" * 64,
                token_hash=secrets.token_hex(32),
                answers={k: v for k, v in row.items() if v is not None},
                codebook_id="bench",
                codebook_version=1,
            )
    store_ms = (time.perf_counter() - t0) / inserts * 1000
    engine.dispose()
    return {
        "check_answers_cpu_ms": rules_ms,
        "check_answers_many_64_cpu_ms": batch_ms,
        "store_insert_commit_ms": store_ms,
    }


# ---------------------------------------------------------------------------- main
def _postgres_url(given: str | None) -> str | None:
    url = given or os.environ.get("KOMMUNALTYPEN_TEST_POSTGRES_URL") or DEFAULT_POSTGRES
    try:
        from sqlalchemy import text

        from kommunaltypen.store import make_engine

        engine = make_engine(url)
        schema = f"kt_bench_{secrets.token_hex(4)}"
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
    except Exception as exc:  # no server: the PostgreSQL phase is skipped, said loudly
        print(f"PostgreSQL not available at {url}: {exc}; its phase is skipped", file=sys.stderr)
        return None
    from urllib.parse import quote

    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


def _drop_schema(url: str) -> None:
    from urllib.parse import parse_qs, unquote, urlsplit

    from sqlalchemy import text

    from kommunaltypen.store import make_engine

    options = unquote(parse_qs(urlsplit(url).query)["options"][0])
    schema = options.split("=", 1)[1]
    base = url.split("?", 1)[0]
    engine = make_engine(base)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    tool = "wrk" if shutil.which("wrk") else "python asyncio load generator"
    results: dict = {"tool": tool, "workers": args.workers, "cpus": os.cpu_count(), "phases": []}
    phases = results["phases"]
    with tempfile.TemporaryDirectory(prefix="kt-bench-") as tmp_name:
        tmp = Path(tmp_name)
        sqlite_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
        server = Server(sqlite_url, tmp, args.workers)
        try:
            for _ in range(2):  # side by side, alternating
                for kind in ("health", "classify"):
                    phases.append(
                        {
                            "db": "sqlite",
                            **measured_load(server, kind, args.connections, args.duration, tmp),
                        }
                    )
            phases.append(
                {"db": "sqlite", **measured_load(server, "search", 4, args.duration, tmp)}
            )
            phases.append(
                {
                    "db": "sqlite",
                    **submit_phase(server, sqlite_url, args.connections, args.duration, tmp),
                }
            )
        finally:
            server.stop()
        results["in_process_sqlite"] = in_process_figures(sqlite_url)
        results["in_process_sqlite"] |= in_process_search(sqlite_url)

        pg_url = _postgres_url(args.postgres)
        if pg_url is not None:
            pg_dir = tmp / "pg"
            pg_dir.mkdir()
            server = Server(pg_url, pg_dir, args.workers)
            try:
                phases.append(
                    {"db": "postgresql", **measured_load(server, "search", 4, args.duration, tmp)}
                )
                phases.append(
                    {
                        "db": "postgresql",
                        **submit_phase(server, pg_url, args.connections, args.duration, tmp),
                    }
                )
            finally:
                server.stop()
            results["in_process_postgresql"] = in_process_figures(pg_url)
            results["in_process_postgresql"] |= in_process_search(pg_url)
            _drop_schema(pg_url)

    health = [p["rps"] for p in phases if p["kind"] == "health"]
    classify = [p for p in phases if p["kind"] == "classify"]
    results["classify_vs_health"] = sum(p["rps"] for p in classify) / sum(health)
    results["classify_p99_ms"] = max(p["p99_ms"] for p in classify)
    cpu_health = [p["server_cpu_us_per_req"] for p in phases if p["kind"] == "health"]
    cpu_classify = [p["server_cpu_us_per_req"] for p in classify]
    if None not in cpu_health + cpu_classify:
        # what the throughput ratio would be with the server's core to itself
        results["classify_vs_health_cpu"] = sum(cpu_health) / sum(cpu_classify)

    print(f"tool: {tool}; workers: {args.workers}; cpus: {os.cpu_count()}")
    print(f"{'db':<11}{'phase':<10}{'conn':>5}{'req/s':>10}{'ok/s':>10}{'p50 ms':>9}"
          f"{'p99 ms':>9}{'errors':>8}{'cpu µs/req':>12}")  # fmt: skip
    for p in phases:
        cpu_req = p.get("server_cpu_us_per_req")
        print(
            f"{p['db']:<11}{p['kind']:<10}{p['connections']:>5}{p['rps']:>10.0f}"
            f"{p['ok_per_s']:>10.0f}{p['p50_ms']:>9.1f}{p['p99_ms']:>9.1f}{p['errors']:>8}"
            f"{'' if cpu_req is None else f'{cpu_req:.0f}':>12}"
        )
    ratio = results["classify_vs_health"]
    cpu_ratio = results.get("classify_vs_health_cpu")
    print(
        f"classify / health throughput: {ratio:.0%} — target ≥ {RATIO_TARGET:.0%}: "
        f"{_verdict(ratio >= RATIO_TARGET)}"
        + ("" if cpu_ratio is None else f" (by server CPU per request: {cpu_ratio:.0%})")
    )
    print(
        f"classify p99 {results['classify_p99_ms']:.1f} ms at {args.connections} connections — "
        f"target < {CLASSIFY_P99_TARGET_MS:.0f} ms: "
        f"{_verdict(results['classify_p99_ms'] < CLASSIFY_P99_TARGET_MS)}"
    )
    for p in phases:
        if p["kind"] == "search":
            print(
                f"directory search p99 ({p['db']}) {p['p99_ms']:.1f} ms over HTTP at "
                f"{p['connections']} connections — target < {SEARCH_P99_TARGET_MS:.0f} ms: "
                f"{_verdict(p['p99_ms'] < SEARCH_P99_TARGET_MS)}"
            )
    for db in ("sqlite", "postgresql"):
        figures = results.get(f"in_process_{db}") or {}
        if "search_p99_ms" in figures:
            print(
                f"in-process directory search ({db}, store only): p50 "
                f"{figures['search_p50_ms']:.2f} ms, p99 {figures['search_p99_ms']:.2f} ms, "
                f"{figures['search_cpu_us']:.0f} µs CPU per search"
            )
    for p in phases:
        if p["kind"] == "submit":
            cpu = p["server_cpu_ms_per_stored"]
            verdict = "met" if p["stored_per_s"] >= SUBMIT_TARGET else "MISSED"
            print(
                f"submissions stored ({p['db']}): {p['stored_per_s']:.0f}/s "
                f"({p['stored']} stored) — target ≥ {SUBMIT_TARGET:.0f}/s: {verdict}; server "
                f"CPU {'–' if cpu is None else f'{cpu:.2f}'} ms per stored submission"
            )
    for db in ("sqlite", "postgresql"):
        figures = results.get(f"in_process_{db}")
        if figures:
            print(
                f"in-process ({db}): check_answers {figures['check_answers_cpu_ms']:.1f} ms CPU "
                f"(64 at once: {figures['check_answers_many_64_cpu_ms']:.1f} ms CPU), "
                f"store insert+commit {figures['store_insert_commit_ms']:.2f} ms per submission"
            )
    load_avg = os.getloadavg()
    print(
        f"load average at the end: {load_avg[0]:.1f} (on {os.cpu_count()} cores; wall-clock "
        "figures are only comparable on an idle machine, CPU ms per submission also on a busy one)"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
