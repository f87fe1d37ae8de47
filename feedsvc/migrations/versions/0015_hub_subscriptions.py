"""WebSub subscriber: the hub and topic each source's feed names, and our subscriptions

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("websub_hub", sa.String(length=2048), nullable=True))
        batch.add_column(sa.Column("websub_topic", sa.String(length=2048), nullable=True))
    op.create_table(
        "hub_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("hub", sa.String(length=2048), nullable=False),
        sa.Column("topic", sa.String(length=2048), nullable=False),
        sa.Column("callback", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("lease_seconds", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("next_action_at", sa.DateTime(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=True),
        sa.Column("verified_at", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_hub_subscriptions_source_id_sources"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_subscriptions")),
        sa.UniqueConstraint("callback", name=op.f("uq_hub_subscriptions_callback")),
    )
    op.create_index(op.f("ix_hub_subscriptions_source_id"), "hub_subscriptions", ["source_id"])
    op.create_index(
        op.f("ix_hub_subscriptions_next_action_at"), "hub_subscriptions", ["next_action_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_hub_subscriptions_next_action_at"), table_name="hub_subscriptions")
    op.drop_index(op.f("ix_hub_subscriptions_source_id"), table_name="hub_subscriptions")
    op.drop_table("hub_subscriptions")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("websub_topic")
        batch.drop_column("websub_hub")
