"""running 7d and 30d view sums per post

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "post_view_windows",
        sa.Column("window", sa.String(length=8), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_post_view_windows_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("window", "post_id", name=op.f("pk_post_view_windows")),
    )  # fmt: skip
    op.create_index("ix_post_view_windows_window_count", "post_view_windows", ["window", "count"])
    # Fill the windows from the daily counters kept so far (as of today, UTC).
    for window, days in (("7d", 7), ("30d", 30)):
        op.execute(
            sa.text(
                'INSERT INTO post_view_windows ("window", post_id, count)'
                " SELECT :window, post_id, SUM(count) FROM post_views"
                " WHERE day > :since GROUP BY post_id"
            ).bindparams(window=window, since=_days_ago(days))
        )


def _days_ago(days: int) -> object:
    import datetime as dt

    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)


def downgrade() -> None:
    op.drop_index("ix_post_view_windows_window_count", table_name="post_view_windows")
    op.drop_table("post_view_windows")
