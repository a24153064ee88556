"""tenant budgets

Revision ID: 0003_tenant_budget
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_tenant_budget"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_budget",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("budget_usd", sa.Float(), nullable=False),
        sa.Column("reserved_usd", sa.Float(), nullable=False),
        sa.Column("spent_usd", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", name=op.f("pk_tenant_budget")),
    )


def downgrade() -> None:
    op.drop_table("tenant_budget")
