from typing import Any

from alembic import context
from sqlalchemy import Connection, create_engine, event, pool

import store.drafts
import store.tenants  # noqa: F401  (registers the table on Base.metadata)
from store.db import connect_args
from store.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or ""
sqlite = url.startswith("sqlite")
engine = create_engine(url, poolclass=pool.NullPool, connect_args=connect_args(url))
if sqlite:
    # pysqlite commits before DDL on its own; take over so the whole upgrade is one transaction
    # (a process killed mid-migration leaves nothing half-created), and take the write lock first
    # so a second process waits, then finds the database already upgraded.
    @event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=sqlite,
        transaction_per_migration=False,
        # alembic takes SQLite's DDL as non-transactional and commits after each migration, which
        # let a second process take the lock between two migrations and run the later ones again
        # (a batch ALTER then failed on columns already there); with pysqlite's implicit commits
        # off (above) SQLite's DDL is transactional, so the upgrade is one transaction
        transactional_ddl=True if sqlite else None,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
