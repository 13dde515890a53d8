"""Cases, finished runs and the template behind every letter.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

* ``cases``: one row per proposed case of a run (what the review queue and
  ``dunning review`` read).
* ``runs``: ``policy_version`` (the policy's version id, part of the run's identity) and
  ``finished_at`` (``NULL`` while a run is unfinished, e.g. after a crash).
* ``letters``: ``pages``, ``template``, ``template_sha256`` and ``data_sha256``: which
  template set and which data made each document.

Only columns that may be ``NULL`` are added, so existing rows stay valid and SQLite's
``ALTER TABLE … ADD COLUMN`` suffices. What the database has already (a table or column
made by this library before the revision was recorded) is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RUN_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("policy_version", sa.String(64)),
    ("finished_at", sa.DateTime(timezone=True)),
)
_LETTER_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("pages", sa.Integer),
    ("template", sa.Text),
    ("template_sha256", sa.String(64)),
    ("data_sha256", sa.String(64)),
)


def upgrade() -> None:
    """Add the ``cases`` table and the new nullable columns of ``runs`` and ``letters``."""
    tables: set[str] = set()
    columns: dict[str, set[str]] = {"runs": set(), "letters": set()}
    if not context.is_offline_mode():
        inspector = sa.inspect(op.get_bind())
        tables = set(inspector.get_table_names())
        for table in columns:
            columns[table] = {c["name"] for c in inspector.get_columns(table)}
    if "cases" not in tables:
        _create_cases()
    for name, kind in _RUN_COLUMNS:
        if name not in columns["runs"]:
            op.add_column("runs", sa.Column(name, kind, nullable=True))
    for name, kind in _LETTER_COLUMNS:
        if name not in columns["letters"]:
            op.add_column("letters", sa.Column(name, kind, nullable=True))


def _create_cases() -> None:
    op.create_table(
        "cases",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.String(96), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("amount_due", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("risk", sa.Float, nullable=True),
        sa.Column("offer", sa.String(32), nullable=False),
        sa.Column("tone", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("needs_review", sa.Boolean, nullable=False),
        sa.Column("review_reason", sa.Text, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
    )


def downgrade() -> None:
    """Drop the ``cases`` table and the added columns (their values are lost)."""
    for name, _ in reversed(_LETTER_COLUMNS):
        with op.batch_alter_table("letters") as batch:
            batch.drop_column(name)
    for name, _ in reversed(_RUN_COLUMNS):
        with op.batch_alter_table("runs") as batch:
            batch.drop_column(name)
    op.drop_table("cases")
