"""The ledger's database: one engine from one URL (a SQLite file by default, or PostgreSQL), its schema
kept by Alembic, and the few reads and writes everything else is built on."""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
from importlib import resources
from pathlib import Path

import pandas as pd
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from .._version import __version__
from ._schema import Case, Event, Round

DEFAULT_LEDGER = "cases.db"
EVENT_COLUMNS = [c.name for c in Event.__table__.columns]
CASE_COLUMNS = [c.name for c in Case.__table__.columns]
_CHUNK = 5_000


def ledger_url(where) -> str:
    """A database URL for ``where``: a URL as given, a path as a SQLite file."""
    text = str(where)
    if "://" in text:
        return text
    path = Path(text).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def recorder(by: str | None = None) -> str:
    """Who records: ``by``, or the user running the library."""
    return by or f"{getpass.getuser()} (pkh-targeting {__version__})"


def row_key(*parts) -> str:
    """SHA-256 of the parts that make an event unique (its kind, family, source and row)."""
    return hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()


def content_sha256(obj) -> str:
    """SHA-256 of a JSON-able object: the source of events recorded from Python."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _engine(url: str) -> Engine:
    engine = create_engine(url)
    if make_url(url).get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # WAL: readers do not wait for the one writer
            cur = dbapi_connection.cursor()
            for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000", "synchronous=NORMAL"):
                cur.execute(f"PRAGMA {pragma}")
            cur.close()

    return engine


def _upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration."""
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("pkh_targeting.cases").joinpath("migrations")))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def _insert_ignoring_duplicates(connection, table, rows: list[dict]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING in the database's own dialect (safe with several writers)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    for start in range(0, len(rows), _CHUNK):
        connection.execute(dialect.insert(table).on_conflict_do_nothing(), rows[start : start + _CHUNK])


class Ledger:
    """The case ledger at ``where``: a SQLite file path (``cases.db``) or a database URL such as
    ``postgresql+psycopg://user@host/db``. Opening it creates or migrates its schema.

    Events are only ever inserted (see `pkh_targeting.cases`); reads come back as DataFrames.
    """

    def __init__(self, where=DEFAULT_LEDGER):
        self.url = ledger_url(where)
        self.engine = _engine(self.url)
        try:
            _upgrade(self.engine)
        except OperationalError as exc:
            shown = make_url(self.url).render_as_string(hide_password=True)
            raise ConnectionError(f"cannot open the case ledger {shown}: {str(exc.orig).splitlines()[0]}") from exc

    def __repr__(self) -> str:
        return f"Ledger({make_url(self.url).render_as_string(hide_password=True)!r})"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    def open_cases(self, cases: pd.DataFrame) -> int:
        """Open a case for each family of ``cases`` (columns of the cases table) not in the ledger yet;
        returns how many were opened."""
        rows = _records(cases.drop_duplicates("family_id"), [c for c in CASE_COLUMNS if c != "opened_at"])
        now = dt.datetime.now(dt.UTC)
        with self.engine.begin() as connection:
            known = self._existing(connection, Case.family_id, [r["family_id"] for r in rows])
            new = [{**r, "opened_at": now} for r in rows if r["family_id"] not in known]
            _insert_ignoring_duplicates(connection, Case.__table__, new)
        return len(new)

    def add_round(self, **fields) -> int:
        """Record a round (columns of the rounds table); returns its id."""
        with self.engine.begin() as connection:
            return connection.execute(
                insert(Round).values(recorded_at=dt.datetime.now(dt.UTC), **fields).returning(Round.id)
            ).scalar_one()

    def add_events(self, events: pd.DataFrame) -> int:
        """Insert ``events`` (columns of the events table but ``id`` and ``recorded_at``) whose key the
        ledger does not hold yet; returns how many were new."""
        if not len(events):
            return 0
        rows = _records(events, [c for c in EVENT_COLUMNS if c not in ("id", "recorded_at")])
        now = dt.datetime.now(dt.UTC)
        with self.engine.begin() as connection:
            known = self._existing(connection, Event.key, [r["key"] for r in rows])
            new = list({r["key"]: {**r, "recorded_at": now} for r in rows if r["key"] not in known}.values())
            _insert_ignoring_duplicates(connection, Event.__table__, new)
        return len(new)

    @staticmethod
    def _existing(connection, column, values: list) -> set:
        found = set()
        for start in range(0, len(values), _CHUNK):
            found |= set(connection.execute(select(column).where(column.in_(values[start : start + _CHUNK]))).scalars())
        return found

    def events(self, family_ids=None) -> pd.DataFrame:
        """Events in the order they were recorded (of ``family_ids`` only, if given)."""
        query = select(Event.__table__).order_by(Event.id)
        return self._frame(query, Event.family_id, family_ids, EVENT_COLUMNS)

    def cases(self, family_ids=None) -> pd.DataFrame:
        """The cases table (of ``family_ids`` only, if given)."""
        query = select(Case.__table__).order_by(Case.family_id)
        return self._frame(query, Case.family_id, family_ids, CASE_COLUMNS)

    def rounds(self) -> pd.DataFrame:
        """The rounds, oldest first."""
        columns = [c.name for c in Round.__table__.columns]
        with self.engine.connect() as connection:
            rows = connection.execute(select(Round.__table__).order_by(Round.id)).mappings().all()
        return pd.DataFrame([dict(r) for r in rows], columns=columns)

    def count(self, table=Event) -> int:
        with self.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(table)).scalar_one()

    def _frame(self, query, key, family_ids, columns) -> pd.DataFrame:
        with self.engine.connect() as connection:
            if family_ids is None:
                rows = [dict(r) for r in connection.execute(query).mappings()]
            else:
                ids, rows = [str(f) for f in pd.unique(pd.Series(family_ids, dtype=object))], []
                for start in range(0, len(ids), _CHUNK):
                    chunk = query.where(key.in_(ids[start : start + _CHUNK]))
                    rows += [dict(r) for r in connection.execute(chunk).mappings()]
        frame = pd.DataFrame(rows, columns=columns)
        return frame.sort_values("id", ignore_index=True) if "id" in frame and family_ids is not None else frame


def open_ledger(where=DEFAULT_LEDGER) -> Ledger:
    """The case ledger at ``where`` (a SQLite path or a database URL), created if new."""
    return Ledger(where)


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    """Rows as dicts of plain Python values (None for missing), for the database driver."""
    present = [c for c in columns if c in frame]
    out = frame[present].astype(object).where(frame[present].notna(), None).to_dict("records")
    return [{c: r.get(c) for c in columns} for r in out]
