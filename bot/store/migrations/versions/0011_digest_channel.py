"""digest channel: each person's choice of how the weekly digest reaches them

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 20:40:00

`people.digest_channel`: NULL (the default rule: chat when linked, else email), "chat",
"email" or "off". Existing people who unsubscribed after linking a chat account become "off";
active people with no chat account, who could not receive the digest until now, are
subscribed (they get it by email).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("people", sa.Column("digest_channel", sa.String(10), nullable=True))
    people = sa.table(
        "people",
        sa.column("id", sa.Integer),
        sa.column("active", sa.Boolean),
        sa.column("digest_subscribed", sa.Boolean),
        sa.column("digest_channel", sa.String),
    )
    identities = sa.table("identities", sa.column("person_id", sa.Integer))
    linked = sa.exists().where(identities.c.person_id == people.c.id)
    op.execute(
        people.update()
        .where(people.c.digest_subscribed.is_(sa.false()), linked)
        .values(digest_channel="off")
    )
    op.execute(
        people.update()
        .where(
            people.c.active.is_(sa.true()),
            people.c.digest_subscribed.is_(sa.false()),
            ~linked,
        )
        .values(digest_subscribed=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.drop_column("digest_channel")
