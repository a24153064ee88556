"""draft_cost: what a storyboard draft's language-model calls cost, outside any job

Revision ID: 0006_draft_cost
Revises: 0005_money
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_draft_cost"
down_revision = "0005_money"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "draft_cost",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("model_id", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("amount_usd", sa.Float(), nullable=False),
        sa.Column("uncertain", sa.Boolean(), nullable=False),
        sa.Column("emulated", sa.Boolean(), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_draft_cost_tenant", "draft_cost", ["tenant"])
    op.create_index("ix_draft_cost_emulated", "draft_cost", ["emulated"])


def downgrade() -> None:
    op.drop_index("ix_draft_cost_emulated", table_name="draft_cost")
    op.drop_index("ix_draft_cost_tenant", table_name="draft_cost")
    op.drop_table("draft_cost")
