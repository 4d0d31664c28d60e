"""Benchmark: the storage layer on SQLite and PostgreSQL (no HTTP; the server benchmark adds it).

Usage: ``python benchmarks/bench_store.py [--backends sqlite,postgresql] [--queries 3000]
[--submissions 2000] [--threads 8]``

For each backend, on a new empty database (SQLite: a temporary file; PostgreSQL: a temporary
schema on ``KOMMUNALTYPEN_TEST_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/
test``):

1. ``migrate`` and ``load_directory`` (all 11,045 entries, one bulk insert), timed;
2. directory search as the municipality picker calls it: prefixes of 1–8 characters of random
   names from the directory (as typed, with umlauts and in lower case), 10 % ARS prefixes,
   25 % with a Land filter, ``limit=20``, each in its own read-only session — latency
   percentiles;
3. storing submissions: ``--threads`` threads, each submission one transaction
   (``SubmissionRepo.create`` with an idempotency key + commit) — submissions per second.

Prints the figures and exits non-zero when a target is missed: search p99 < 20 ms, at least
300 stored submissions per second.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import text

from kommunaltypen.store import (
    DirectoryRepo,
    SubmissionRepo,
    make_engine,
    migrate,
    session_factory,
    token_hash,
)
from kommunaltypen.store.directory import directory_rows, load_directory

SEARCH_P99_MS = 20.0
SUBMISSIONS_PER_S = 300.0
ANSWERS = {
    "kommunenart": 4,
    "bundesland": 9,
    "einwohner": 4200,
    "ziele_effizienz": 1,
    "ziele_buergernaehe": 2,
    "ziele_innovation": 3,
}


def queries(n: int, seed: int = 7) -> list[tuple[str, int | None]]:
    rng = random.Random(seed)
    rows = directory_rows()
    out: list[tuple[str, int | None]] = []
    for _ in range(n):
        row = rng.choice(rows)
        if rng.random() < 0.10:
            q = row["ars"][: rng.randint(2, 9)]
        else:
            name = row["name"]
            q = name[: rng.randint(1, min(8, len(name)))]
            if rng.random() < 0.5:
                q = q.lower()
        land = row["land"] if rng.random() < 0.25 else None
        out.append((q, land))
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def bench_backend(url: str, args: argparse.Namespace) -> dict[str, float]:
    engine = make_engine(url, pool_size=args.threads + 2 if "postgresql" in url else None)
    t0 = time.perf_counter()
    migrate(engine)
    t_migrate = time.perf_counter() - t0
    sessions = session_factory(engine)
    with sessions.begin() as session:
        result = load_directory(session)
    with sessions.begin() as session:
        again = load_directory(session)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("ANALYZE kommune"))

    read = session_factory(engine, readonly=True)
    latencies: list[float] = []
    found = 0
    cpu_start = time.process_time()
    for q, land in queries(args.queries):
        start = time.perf_counter()
        with read() as session:
            found += len(DirectoryRepo(session).search(q, land=land, limit=20))
        latencies.append((time.perf_counter() - start) * 1000)
    cpu_per_search = (time.process_time() - cpu_start) / args.queries * 1000

    per_thread = args.submissions // args.threads
    barrier = threading.Barrier(args.threads + 1)
    errors: list[BaseException] = []

    def store(worker: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            try:
                with sessions.begin() as session:
                    SubmissionRepo(session).create(
                        token_hash=token_hash(secrets.token_urlsafe(32)),
                        answers=ANSWERS,
                        codebook_id="digitale-kommune-2019",
                        codebook_version=1,
                        idempotency_key=f"bench-{worker}-{i}",
                        request_hash="x" * 64,
                        land=9,
                        kind="gemeinde",
                        size_class=0,
                    )
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=store, args=(w,)) for w in range(args.threads)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    stored = per_thread * args.threads - len(errors)
    engine.dispose()
    return {
        "migrate_s": t_migrate,
        "load_s": result.seconds,
        "load_rows": result.inserted,
        "reload_s": again.seconds,
        "search_p50": statistics.median(latencies),
        "search_p95": percentile(latencies, 95),
        "search_p99": percentile(latencies, 99),
        "search_max": max(latencies),
        "search_hits": found / len(latencies),
        "search_cpu": cpu_per_search,
        "stored": stored,
        "errors": len(errors),
        "per_s": stored / elapsed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--submissions", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    server = os.environ.get(
        "KOMMUNALTYPEN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
    )
    print(f"load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    ok = True
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            schema = None
            if backend == "sqlite":
                url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
            else:
                schema = f"kt_bench_{secrets.token_hex(4)}"
                admin = make_engine(server)
                with admin.begin() as connection:
                    connection.execute(text(f'CREATE SCHEMA "{schema}"'))
                sep = "&" if "?" in server else "?"
                url = f"{server}{sep}options={quote(f'-csearch_path={schema}')}"
            try:
                r = bench_backend(url, args)
            finally:
                if schema:
                    with admin.begin() as connection:
                        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                    admin.dispose()
        print(f"== {backend}")
        print(f"migrate (empty -> head)     {r['migrate_s'] * 1000:8.1f} ms")
        print(
            f"load_directory              {r['load_s'] * 1000:8.1f} ms "
            f"({int(r['load_rows'])} rows; again: {r['reload_s'] * 1000:.1f} ms)"
        )
        print(
            f"search ({args.queries} queries)      p50 {r['search_p50']:.2f} ms, "
            f"p95 {r['search_p95']:.2f} ms, p99 {r['search_p99']:.2f} ms, "
            f"max {r['search_max']:.2f} ms ({r['search_hits']:.1f} hits/query, "
            f"client CPU {r['search_cpu']:.2f} ms/query)"
            f"   target p99 < {SEARCH_P99_MS:.0f} ms"
        )
        print(
            f"store submissions           {r['per_s']:8.0f} /s ({int(r['stored'])} stored, "
            f"{args.threads} threads, {int(r['errors'])} errors)"
            f"   target >= {SUBMISSIONS_PER_S:.0f}/s"
        )
        if r["search_p99"] >= SEARCH_P99_MS or r["per_s"] < SUBMISSIONS_PER_S or r["errors"]:
            ok = False
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
