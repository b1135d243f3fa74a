"""The ledger's tables (SQLAlchemy 2 typed mappings); they change only through Alembic migrations.

A case is a family the library has put in front of people; its history is a list of events, inserted
and never updated (the migration refuses UPDATE and DELETE on ``events`` in the database itself).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# what can happen to a case, in the order it usually does
EVENT_KINDS = ("scored", "listed", "visited", "discussed", "decided", "proposed", "applied", "not_applied")


class Base(DeclarativeBase):
    pass


class Round(Base):
    """A verification round: one listing of a scored batch."""

    __tablename__ = "rounds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(64), unique=True)
    listed_on: Mapped[dt.date] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(200))
    scores_sha256: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str | None] = mapped_column(String(200))
    rules_version: Mapped[str | None] = mapped_column(String(64))
    budget: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(32))
    seed: Mapped[int] = mapped_column(Integer)
    cool_off_months: Mapped[int] = mapped_column(Integer)
    left_out: Mapped[int] = mapped_column(Integer)  # settled families the round did not list


class Case(Base):
    """A family put in front of people: where it lives and what the lists showed of it."""

    __tablename__ = "cases"

    family_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    province_code: Mapped[str | None] = mapped_column(String(16))
    regency_code: Mapped[str | None] = mapped_column(String(16), index=True)
    district_code: Mapped[str | None] = mapped_column(String(16), index=True)
    village_code: Mapped[str | None] = mapped_column(String(16), index=True)
    province_name: Mapped[str | None] = mapped_column(String(200))
    regency_name: Mapped[str | None] = mapped_column(String(200))
    district_name: Mapped[str | None] = mapped_column(String(200))
    village_name: Mapped[str | None] = mapped_column(String(200))
    head_name: Mapped[str | None] = mapped_column(String(200))  # personal data, as the lists carry it
    address: Mapped[str | None] = mapped_column(String(500))
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Event(Base):
    """Something that happened to a case, with its source file (SHA-256) and row, and who recorded it.

    ``key`` is the SHA-256 of the kind, family, source and row: recording the same file twice is a no-op.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(ForeignKey("cases.family_id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    value: Mapped[str | None] = mapped_column(String(32))  # the event's one word: result, decision, list...
    round_id: Mapped[int | None] = mapped_column(ForeignKey("rounds.id"))
    occurred_on: Mapped[dt.date] = mapped_column(Date)  # the visit's, meeting's or decision's date
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(300))  # the file's name, or what recorded it
    source_sha256: Mapped[str] = mapped_column(String(64))
    source_row: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict] = mapped_column(JSON)
