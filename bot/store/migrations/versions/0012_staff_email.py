"""staff email: each staff member's minutes before an unacknowledged ping is also emailed

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 20:50:00

`people.email_after_minutes`: NULL (the deployment's STAFF_EMAIL_AFTER_MIN) or a number of
minutes (bot/escalation/email_pings.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("people", sa.Column("email_after_minutes", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.drop_column("email_after_minutes")
