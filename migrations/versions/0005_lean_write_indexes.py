"""sync: drop the indexes the write path paid for and no query used

Revision ID: 0005_lean_write_indexes
Revises: 0004_stats_indexes
Create Date: 2026-11-27 17:00:00.000000

Each index keyed by a random UUID costs every pushed record a B-tree insert on a random page, written again at each
commit. record_changes.record_id was covered by the unique (record_id, version); sync_mutations.record_id and
(device_id, seq) were never queried (idempotency looks mutations up by their unique mutation_id).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0005_lean_write_indexes'
down_revision = '0004_stats_indexes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('record_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_record_changes_record_id')
    with op.batch_alter_table('sync_mutations', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_mutations_record_id')
        batch_op.drop_index('ix_sync_mutations_device_seq')


def downgrade():
    with op.batch_alter_table('sync_mutations', schema=None) as batch_op:
        batch_op.create_index('ix_sync_mutations_device_seq', ['device_id', 'seq'], unique=False)
        batch_op.create_index('ix_sync_mutations_record_id', ['record_id'], unique=False)
    with op.batch_alter_table('record_changes', schema=None) as batch_op:
        batch_op.create_index('ix_record_changes_record_id', ['record_id'], unique=False)
