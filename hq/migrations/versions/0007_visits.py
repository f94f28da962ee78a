"""Visit schedules: visits and the RWs each serves

Revision ID: 0007
Revises: 0006
Created: 2026-12-05 00:23:49.367641
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('visits',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('time', sa.String(length=16), nullable=False),
    sa.Column('place', sa.Text(), nullable=False),
    sa.Column('kelurahan', sa.String(length=13), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('staff', sa.Text(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.device_id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.create_index('visits_date', ['date'], unique=False)
        batch_op.create_index('visits_device_date', ['device_id', 'date'], unique=False)

    op.create_table('visit_rws',
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('rw', sa.String(length=3), nullable=False),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], ),
    sa.PrimaryKeyConstraint('visit_id', 'rw')
    )


def downgrade() -> None:
    op.drop_table('visit_rws')
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index('visits_device_date')
        batch_op.drop_index('visits_date')

    op.drop_table('visits')
