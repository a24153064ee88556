"""billing: which provider billing rule priced each attempt's settlement

Revision ID: 0004_billing
Revises: 0003_costs
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_billing"
down_revision = "0003_costs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempt_cost", schema=None) as batch_op:
        batch_op.add_column(sa.Column("billing_outcome", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("billing_basis", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("billing_uncertain", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("attempt_cost", schema=None) as batch_op:
        batch_op.drop_column("billing_uncertain")
        batch_op.drop_column("billing_basis")
        batch_op.drop_column("billing_outcome")
