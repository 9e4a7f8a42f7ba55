"""Alembic environment: migrations always run on a connection the core hands over."""

from alembic import context

from axhub.db import Base  # every table module, push's too

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
