"""record_changes is the change log: it gains grid_code and a (grid_code, id) index; change_log is dropped

Revision ID: 0008_history_is_the_change_log
Revises: 0007_create_receipts
Create Date: 2026-11-27 21:00:00.000000

Every change_log entry repeated a history entry (record, version, device, time) plus the record's grid. History
entries are written under the same write lock, so their ids already follow commit order; with the grid on them they
serve pulls directly, and a pushed record writes one row fewer. Pull cursors now name history ids (prefix c2); a
tablet holding an old c1 cursor pulls again from the start (sync/cursor.py).

Downgrade rebuilds change_log from the history, in id order.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_history_is_the_change_log'
down_revision = '0007_create_receipts'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('record_changes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grid_code', sa.String(length=15), nullable=True))
    # The grid each version was logged under; a version the log never had (none should exist) takes the record's.
    op.execute("UPDATE record_changes SET grid_code = (SELECT l.grid_code FROM change_log l "
               "WHERE l.record_id = record_changes.record_id AND l.version = record_changes.version "
               "ORDER BY l.id DESC LIMIT 1)")
    op.execute("UPDATE record_changes SET grid_code = (SELECT r.grid_code FROM records r "
               "WHERE r.id = record_changes.record_id) WHERE grid_code IS NULL")
    with op.batch_alter_table('record_changes', schema=None) as batch_op:
        batch_op.alter_column('grid_code', existing_type=sa.String(length=15), nullable=False)
        batch_op.create_index('ix_record_changes_grid_id', ['grid_code', 'id'], unique=False)
    with op.batch_alter_table('change_log', schema=None) as batch_op:
        batch_op.drop_index('ix_change_log_grid_id')
    op.drop_table('change_log')


def downgrade():
    op.create_table('change_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('record_id', sa.String(length=36), nullable=False),
    sa.Column('grid_code', sa.String(length=15), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('origin_device_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['origin_device_id'], ['devices.id'], name=op.f('fk_change_log_origin_device_id_devices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_log'))
    )
    with op.batch_alter_table('change_log', schema=None) as batch_op:
        batch_op.create_index('ix_change_log_grid_id', ['grid_code', 'id'], unique=False)
    op.execute("INSERT INTO change_log (record_id, grid_code, version, origin_device_id, at) "
               "SELECT record_id, grid_code, version, device_id, at FROM record_changes ORDER BY id")
    with op.batch_alter_table('record_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_record_changes_grid_id')
        batch_op.drop_column('grid_code')
