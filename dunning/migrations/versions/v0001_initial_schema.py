"""Initial schema: runs, decisions, letters, issued, reviews and audit_events.

Revision ID: 0001
Revises:
Create Date: 2026-11-30

Stores made before the library had migrations were created table by table
(``MetaData.create_all``): dunning 0.1 made ``runs``, ``decisions`` and ``letters``, the
propose/review/issue workflow added ``issued`` and ``reviews``, with the very definitions
below. Such a store has no ``alembic_version`` table; this revision then keeps the tables it
has, rows and all, and creates only the missing ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("runs", "decisions", "letters", "issued", "reviews", "audit_events")


def upgrade() -> None:
    """Create the tables the database does not have yet."""
    existing: set[str] = set()
    if not context.is_offline_mode():
        existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "runs" not in existing:
        op.create_table(
            "runs",
            sa.Column("run_id", sa.String(64), primary_key=True),
            sa.Column("as_of", sa.Date, nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("portfolio_hash", sa.String(128), nullable=False),
            sa.Column("n_cases", sa.Integer, nullable=False),
            sa.Column("software_version", sa.String(64), nullable=False),
        )
    if "decisions" not in existing:
        op.create_table(
            "decisions",
            sa.Column("run_id", sa.String(64), primary_key=True),
            sa.Column("invoice_id", sa.String(64), primary_key=True),
            sa.Column("case_id", sa.String(64), nullable=True),
            sa.Column("customer_id", sa.String(64), nullable=False),
            sa.Column("level", sa.Integer, nullable=False),
            sa.Column("open_amount", sa.String(32), nullable=False),
            sa.Column("currency", sa.String(3), nullable=False),
            sa.Column("risk", sa.Float, nullable=True),
            sa.Column("offer", sa.String(32), nullable=False),
            sa.Column("reasons", sa.Text, nullable=False),
        )
    if "letters" not in existing:
        op.create_table(
            "letters",
            sa.Column("run_id", sa.String(64), primary_key=True),
            sa.Column("case_id", sa.String(64), primary_key=True),
            sa.Column("format", sa.String(8), primary_key=True),
            sa.Column("path", sa.Text, nullable=False),
            sa.Column("sha256", sa.String(64), nullable=False),
        )
    if "issued" not in existing:
        op.create_table(
            "issued",
            sa.Column("invoice_id", sa.String(64), primary_key=True),
            sa.Column("level", sa.Integer, primary_key=True),
            sa.Column("case_id", sa.String(96), nullable=False),
            sa.Column("customer_id", sa.String(64), nullable=False),
            sa.Column("issued_on", sa.Date, nullable=False),
            sa.Column("channel", sa.String(8), nullable=False),
            sa.Column("currency", sa.String(3), nullable=False),
            sa.Column("fee", sa.String(32), nullable=False),
            sa.Column("interest", sa.String(32), nullable=False),
            sa.Column("flat_fee", sa.String(32), nullable=False),
            sa.Column("earlier_fees", sa.String(32), nullable=False),
            sa.Column("open_amount", sa.String(32), nullable=False),
            sa.Column("run_id", sa.String(64), nullable=True),
            sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("approved_by", sa.String(64), nullable=True),
            sa.CheckConstraint("level >= 1", name="ck_issued_level"),
        )
    if "reviews" not in existing:
        op.create_table(
            "reviews",
            sa.Column("review_id", sa.String(64), primary_key=True),
            sa.Column("case_id", sa.String(96), nullable=False),
            sa.Column("customer_id", sa.String(64), nullable=False),
            sa.Column("invoice_ids", sa.Text, nullable=False),
            sa.Column("action", sa.String(16), nullable=False),
            sa.Column("clerk_id", sa.String(64), nullable=False),
            sa.Column("reason", sa.Text, nullable=False),
            sa.Column("offer", sa.String(32), nullable=True),
            sa.Column("hold_until", sa.Date, nullable=True),
            sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("as_of", sa.Date, nullable=False),
            sa.CheckConstraint(
                "action IN ('approve', 'change_offer', 'hold', 'escalate')",
                name="ck_reviews_action",
            ),
        )
    if "audit_events" not in existing:
        op.create_table(
            "audit_events",
            sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("kind", sa.String(32), nullable=False),
            sa.Column("run_id", sa.String(64), nullable=True),
            sa.Column("subject", sa.String(128), nullable=True),
            sa.Column("payload", sa.Text, nullable=False),
            sa.Column("content_hash", sa.String(64), nullable=False),
            sa.Column("prev_hash", sa.String(64), nullable=False),
            sa.Column("chain_hash", sa.String(64), nullable=False),
            sa.CheckConstraint("seq >= 1", name="ck_audit_events_seq"),
        )
        op.create_index("ix_audit_events_run_id", "audit_events", ["run_id"])
        op.create_index("ix_audit_events_subject", "audit_events", ["subject"])


def downgrade() -> None:
    """Drop every table of the store (and its rows)."""
    op.drop_index("ix_audit_events_subject", table_name="audit_events")
    op.drop_index("ix_audit_events_run_id", table_name="audit_events")
    for name in reversed(TABLES):
        op.drop_table(name)
