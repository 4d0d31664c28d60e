"""Without a PostgreSQL server the PostgreSQL variants fail loudly — or, when allowed, are
skipped with the reason. Checked by running pytest on a one-test file in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

CONFTEST = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
from db_fixtures import (  # noqa: F401
    _postgres_schemas, database_url, db_backend, db_engine, db_session, fresh_database_url,
    postgres_server_url,
)
"""

TEST = """
from sqlalchemy import text

def test_answers(db_session):
    assert db_session.execute(text("SELECT 1")).scalar() == 1
"""


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (tmp_path / "test_probe.py").write_text(TEST, encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KOMMUNALTYPEN_")}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environ,
        timeout=300,
        check=False,
    )


DEAD = "postgresql://postgres@127.0.0.1:1/none"


def test_missing_postgres_fails_loudly(tmp_path):
    proc = _run(tmp_path, KOMMUNALTYPEN_TEST_POSTGRES_URL=DEAD)
    assert proc.returncode != 0, proc.stdout
    assert "PostgreSQL IS NOT AVAILABLE" in proc.stdout, proc.stdout
    assert "1 passed" in proc.stdout and "1 error" in proc.stdout, proc.stdout  # SQLite ran


def test_missing_postgres_is_skipped_with_the_reason_when_allowed(tmp_path):
    proc = _run(tmp_path, KOMMUNALTYPEN_TEST_POSTGRES_URL=DEAD, KOMMUNALTYPEN_ALLOW_NO_POSTGRES="1")
    assert proc.returncode == 0, proc.stdout
    assert "1 passed, 1 skipped" in proc.stdout, proc.stdout
    assert "SKIPPED" in proc.stdout and "PostgreSQL IS NOT AVAILABLE" in proc.stdout
