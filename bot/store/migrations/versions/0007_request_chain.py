"""request chain: the escalation chain a request follows, copied when its escalation starts,
and how many times its last step has repeated

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 15:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hotline_requests") as batch:
        batch.add_column(sa.Column("chain", sa.Text(), nullable=True))
        batch.add_column(sa.Column("repeats", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("hotline_requests") as batch:
        batch.drop_column("repeats")
        batch.drop_column("chain")
