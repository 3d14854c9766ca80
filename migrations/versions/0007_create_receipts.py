"""record_changes: a pushed create is acknowledged by its first version (seq, body hash, unique mutation id)

Revision ID: 0007_create_receipts
Revises: 0006_leaner_pushes
Create Date: 2026-11-27 20:50:00.000000

Every pushed create wrote a sync_mutations row that repeated what its first history entry already held (mutation id,
device, user, record, time). The history entry now also keeps the mutation's seq and body hash, and the mutation id
is unique there, so the create needs no row of its own: one row fewer for every pushed record. Acknowledgements
stored before this revision stay in sync_mutations, where the push still looks for them.

Downgrade copies the creates' acknowledgements back into sync_mutations, where the older code looks for them.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_create_receipts'
down_revision = '0006_leaner_pushes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('record_changes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('body_sha256', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_record_changes_mutation_id'), ['mutation_id'])


def downgrade():
    op.execute(
        "INSERT INTO sync_mutations (mutation_id, device_id, user_id, seq, record_id, op, body_sha256, status, "
        "result, received_at) "
        "SELECT c.mutation_id, c.device_id, c.actor_id, c.seq, c.record_id, 'create', c.body_sha256, 'applied', "
        "'null', c.at FROM record_changes c WHERE c.body_sha256 IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM sync_mutations m WHERE m.mutation_id = c.mutation_id)")
    with op.batch_alter_table('record_changes', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_record_changes_mutation_id'), type_='unique')
        batch_op.drop_column('body_sha256')
        batch_op.drop_column('seq')
