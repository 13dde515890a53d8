"""Alembic environment of the decision store; :class:`dunning.store.DecisionStore` runs it.

The store passes its own connection in ``config.attributes["connection"]``, inside a
transaction that holds the store's migration lock, so the migrations commit or roll back
with that transaction. Without one (a developer making a new revision, see
``docs/audit.md``) the URL in the ``sqlalchemy.url`` option is used. Logging is left as
the application configured it: no ``logging.config.fileConfig`` here.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from dunning.store import _metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(
            url=url, target_metadata=_metadata, literal_binds=True, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    if not url:
        msg = (
            "no database to migrate: pass a connection in config.attributes['connection'] "
            "or set the sqlalchemy.url option (see dunning.store._alembic_config)."
        )
        raise RuntimeError(msg)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


_main()
