"""stats: one covering index for the grid statistics of the city map

Revision ID: 0004_stats_indexes
Revises: 0003_review
Create Date: 2026-11-27 15:20:00.000000

records (grid_code, category, occurred_at, status, received_at): the statistics group by grid code and filter on
category, time window, status and arrival time, all answered from this index (see server/maps/models.py).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0004_stats_indexes'
down_revision = '0003_review'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.create_index('ix_records_stats', ['grid_code', 'category', 'occurred_at', 'status', 'received_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index('ix_records_stats')
