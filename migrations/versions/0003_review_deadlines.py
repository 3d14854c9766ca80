"""review: time limits per category and stage (seeded from domain.md), case stage clocks, records by arrival

Revision ID: 0003_review
Revises: 0002_records_sync
Create Date: 2026-11-27 14:58:27.521074

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_review'
down_revision = '0002_records_sync'
branch_labels = None
depends_on = None

# domain.md: accept within 1 working day; mediation handled within 15 days; labor services within 5 working days;
# integrity concerns reach an inspector (are accepted) within 1 day. Same rows as review.deadlines.DEFAULT_LIMITS,
# copied here so the migration never changes when the code does.
DEFAULT_LIMITS = (
    ("mediation", "accept", 24, True),
    ("mediation", "handle", 15 * 24, False),
    ("labor_service", "accept", 24, True),
    ("labor_service", "handle", 5 * 24, True),
    ("visit_round", "accept", 24, True),
    ("integrity", "accept", 24, False),
)


def upgrade():
    time_limits = op.create_table('time_limits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('hours', sa.Float(), nullable=False),
    sa.Column('working_days', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_time_limits_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_time_limits')),
    sa.UniqueConstraint('category', 'stage', name=op.f('uq_time_limits_category_stage'))
    )
    op.create_table('case_clocks',
    sa.Column('record_id', sa.String(length=36), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dispatched_to', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'], name=op.f('fk_case_clocks_record_id_records'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('record_id', name=op.f('pk_case_clocks'))
    )
    # The city-wide queue (administrators) pages over every record by arrival.
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.create_index('ix_records_received_at', ['received_at'], unique=False)

    now = datetime.now(timezone.utc)
    op.bulk_insert(time_limits, [
        {"category": category, "stage": stage, "hours": float(hours), "working_days": working_days,
         "updated_at": now, "updated_by_id": None}
        for category, stage, hours, working_days in DEFAULT_LIMITS])


def downgrade():
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index('ix_records_received_at')

    op.drop_table('case_clocks')
    op.drop_table('time_limits')
