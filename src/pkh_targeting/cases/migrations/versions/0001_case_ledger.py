"""The case ledger: rounds, cases and their append-only events.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)
_APPEND_ONLY = "events are append-only: record a new event instead"


def upgrade() -> None:
    op.create_table(
        "rounds",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("label", sa.String(64), nullable=False, unique=True),
        sa.Column("listed_on", sa.Date, nullable=False),
        sa.Column("recorded_at", _TZ, nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("scores_sha256", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(200)),
        sa.Column("rules_version", sa.String(64)),
        sa.Column("budget", sa.Integer, nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("cool_off_months", sa.Integer, nullable=False),
        sa.Column("left_out", sa.Integer, nullable=False),
    )
    op.create_table(
        "cases",
        sa.Column("family_id", sa.String(64), primary_key=True),
        *(sa.Column(f"{level}_code", sa.String(16)) for level in ("province", "regency", "district", "village")),
        *(sa.Column(f"{level}_name", sa.String(200)) for level in ("province", "regency", "district", "village")),
        sa.Column("head_name", sa.String(200)),
        sa.Column("address", sa.String(500)),
        sa.Column("opened_at", _TZ, nullable=False),
    )
    for level in ("regency", "district", "village"):
        op.create_index(f"ix_cases_{level}_code", "cases", [f"{level}_code"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("family_id", sa.String(64), sa.ForeignKey("cases.family_id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(32)),
        sa.Column("round_id", sa.Integer, sa.ForeignKey("rounds.id")),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("recorded_at", _TZ, nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("source_row", sa.String(200)),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_events_family_id", "events", ["family_id"])
    op.create_index("ix_events_kind", "events", ["kind"])
    _refuse_changes_to_events()


def _refuse_changes_to_events() -> None:
    """UPDATE and DELETE on events fail in the database itself, whoever connects."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION pkh_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION pkh_events_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER events_no_{action.lower()} BEFORE {action} ON events "
                f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER events_append_only ON events")
        op.execute("DROP FUNCTION pkh_events_append_only()")
    op.drop_table("events")
    op.drop_table("cases")
    op.drop_table("rounds")
