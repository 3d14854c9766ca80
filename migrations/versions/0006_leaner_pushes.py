"""records: drop three single-column indexes that the push paid for and no query needed

Revision ID: 0006_leaner_pushes
Revises: 0005_lean_write_indexes
Create Date: 2026-11-27 19:40:00.000000

records.category, created_by_id and device_id had single-column indexes that no query needed (the scope and
received_at indexes serve every listing; categories are four values), and each cost every pushed record a B-tree
insert (bench/sync_profile.py: about 3 µs of the 20 the database spends on a record).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006_leaner_pushes'
down_revision = '0005_lean_write_indexes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index('ix_records_category')
        batch_op.drop_index('ix_records_created_by_id')
        batch_op.drop_index('ix_records_device_id')


def downgrade():
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.create_index('ix_records_device_id', ['device_id'], unique=False)
        batch_op.create_index('ix_records_created_by_id', ['created_by_id'], unique=False)
        batch_op.create_index('ix_records_category', ['category'], unique=False)
