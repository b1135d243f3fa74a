"""Alembic environment of the case ledger: the connection comes from `open_ledger` (or ``-x url=``)."""

from alembic import context
from sqlalchemy import create_engine

from pkh_targeting.cases._schema import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # the alembic command line: alembic -x url=sqlite:///cases.db upgrade head
    with create_engine(context.get_x_argument(as_dictionary=True)["url"]).begin() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
