"""privacy: safeguarding role, legal holds, redaction marks, erasure, retention runs

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 23:30:00

- `people.safeguarding`: staff who may read safeguarding and allegation requests in full.
- `people.erased_at`: when the person was erased (the row stays, anonymised, so that their
  requests still count in the reports: "a former member of St Mary's").
- `hotline_requests.hold_reason`, `hold_at`, `hold_by`: a legal hold (never redacted while set).
- `hotline_requests.redacted_at`, `question_log.redacted_at`: when the retention policy or an
  erasure replaced the texts.
- `retention_runs`: one row per day the nightly retention ran (the day is unique, so two
  processes cannot both run it), with what it did.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "people",
        sa.Column("safeguarding", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("people", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("hotline_requests", sa.Column("hold_reason", sa.Text(), nullable=True))
    op.add_column(
        "hotline_requests", sa.Column("hold_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("hotline_requests", sa.Column("hold_by", sa.String(length=254), nullable=True))
    op.add_column(
        "hotline_requests", sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "question_log", sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
        sa.UniqueConstraint("day", name=op.f("uq_retention_runs_day")),
    )


def downgrade() -> None:
    op.drop_table("retention_runs")
    with op.batch_alter_table("question_log") as batch:
        batch.drop_column("redacted_at")
    with op.batch_alter_table("hotline_requests") as batch:
        batch.drop_column("redacted_at")
        batch.drop_column("hold_by")
        batch.drop_column("hold_at")
        batch.drop_column("hold_reason")
    with op.batch_alter_table("people") as batch:
        batch.drop_column("erased_at")
        batch.drop_column("safeguarding")
