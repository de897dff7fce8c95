"""digest

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 13:04:51.674966
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digest_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("member", "staff", name="digest_kind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "preparing",
                "sending",
                "done",
                name="digest_run_status",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prepared_through", sa.Integer(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("nothing_new", sa.Integer(), nullable=False),
        sa.Column("no_channel", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_runs")),
        sa.UniqueConstraint("kind", "week", name="uq_digest_runs_kind_week"),
    )
    op.create_table(
        "faq_versions",
        sa.Column("faq_id", sa.String(length=100), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("faq_id", name=op.f("pk_faq_versions")),
    )
    with op.batch_alter_table("faq_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_faq_versions_changed_at"), ["changed_at"], unique=False
        )

    op.create_table(
        "content_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("news", "event", name="content_kind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link_url", sa.String(length=500), nullable=True),
        sa.Column("link_label", sa.String(length=100), nullable=True),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("all_day", sa.Boolean(), nullable=False),
        sa.Column("publish_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publish_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("phases", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["people.id"],
            name=op.f("fk_content_items_created_by_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_items")),
        sa.UniqueConstraint("kind", "slug", name="uq_content_items_kind_slug"),
    )
    with op.batch_alter_table("content_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_content_items_publish_from"), ["publish_from"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_content_items_starts_at"), ["starts_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("content_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_content_items_starts_at"))
        batch_op.drop_index(batch_op.f("ix_content_items_publish_from"))

    op.drop_table("content_items")
    with op.batch_alter_table("faq_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_faq_versions_changed_at"))

    op.drop_table("faq_versions")
    op.drop_table("digest_runs")
