"""Drafts a new Alembic migration by comparing the models with a database at head.

Usage: python3 scripts/new_migration.py "what changes" [--rev-id 0002] [--url URL]

The database (default: KOMMUNALTYPEN_DATABASE_URL, else a temporary SQLite file) is first
migrated to the current head, then Alembic's autogenerate writes
src/kommunaltypen/store/migrations/versions/<rev-id>_<message>.py. Edit the draft before
committing it (docs/storage.md, "Adding a migration").
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from alembic import command

from kommunaltypen.store import make_engine, migrate
from kommunaltypen.store.engine import _alembic_config, head_revision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("message")
    parser.add_argument("--rev-id", default=None, help="default: the next 4-digit number")
    parser.add_argument("--url", default=os.environ.get("KOMMUNALTYPEN_DATABASE_URL"))
    args = parser.parse_args()
    rev_id = args.rev_id or f"{int(head_revision()[:4]) + 1:04d}"
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'draft.sqlite3'}"
        engine = make_engine(url)
        migrate(engine)
        with engine.begin() as connection:
            command.revision(
                _alembic_config(connection),
                message=args.message,
                autogenerate=True,
                rev_id=rev_id,
            )
        engine.dispose()


if __name__ == "__main__":
    main()
