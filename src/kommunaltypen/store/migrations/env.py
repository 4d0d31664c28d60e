"""Alembic environment, configured in code by ``kommunaltypen.store.engine``.

``migrate(engine)`` passes an open connection in ``config.attributes["connection"]``; there is
no ``alembic.ini``. For ``alembic revision --autogenerate`` during development, set
``KOMMUNALTYPEN_DATABASE_URL`` and run alembic with ``-x`` nothing else (see docs/storage.md).
"""

from __future__ import annotations

import os

from alembic import context

from kommunaltypen.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from kommunaltypen.store.engine import make_engine

    url = os.environ.get("KOMMUNALTYPEN_DATABASE_URL")
    if not url:
        raise SystemExit("set KOMMUNALTYPEN_DATABASE_URL to run alembic directly")
    engine = make_engine(url)
    with engine.begin() as connection:
        _run(connection)


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported")
run_migrations()
