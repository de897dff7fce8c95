"""request thread: where the bot answered the message that opened a request

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hotline_requests") as batch:
        batch.add_column(sa.Column("thread_ref", sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hotline_requests") as batch:
        batch.drop_column("thread_ref")
