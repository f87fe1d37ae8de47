"""per-source fetch options: User-Agent, headers, sealed cookie and credentials

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("fetch_user_agent", sa.String(500), nullable=True))
        batch.add_column(sa.Column("fetch_headers", sa.JSON(), server_default="[]", nullable=False))
        batch.add_column(sa.Column("fetch_cookie", sa.Text(), nullable=True))
        batch.add_column(sa.Column("fetch_credentials", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("ignore_validators", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(
            sa.Column("fetch_as_browser", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        for column in ("fetch_as_browser", "ignore_validators", "fetch_credentials",
                       "fetch_cookie", "fetch_headers", "fetch_user_agent"):  # fmt: skip
            batch.drop_column(column)
