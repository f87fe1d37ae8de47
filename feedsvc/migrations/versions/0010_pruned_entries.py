"""pruned_entries: what retention deleted, so the feed does not bring it back

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pruned_entries",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("entry_key", sa.String(length=1024), nullable=False),
        sa.Column("pruned_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_pruned_entries_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_id", "entry_key", name=op.f("pk_pruned_entries")),
    )
    with op.batch_alter_table("pruned_entries") as batch:
        batch.create_index("ix_pruned_entries_pruned_at", ["pruned_at"])


def downgrade() -> None:
    op.drop_table("pruned_entries")
