"""users.session_generation and sign_in_attempts: sessions that end, limits that hold

A session cookie carries the generation it was made in; sign-out, a password
change or "sign out everywhere" bumps it, so every older cookie stops working.
Sign-in attempts are kept in the database so every process counts the same
ones and a restart forgets none.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=300), nullable=False),
        sa.Column("attempted_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_attempts")),
    )
    with op.batch_alter_table("sign_in_attempts") as batch:
        batch.create_index("ix_sign_in_attempts_bucket", ["bucket", "attempted_at"])
        batch.create_index("ix_sign_in_attempts_attempted_at", ["attempted_at"])


def downgrade() -> None:
    op.drop_table("sign_in_attempts")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_generation")
