"""The vault: enrolments (what it keeps in clear of each packet) and the review queue

Revision ID: 0009
Revises: 0008
Created: 2026-12-05 01:08:10.434724
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('enrolments',
    sa.Column('packet_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('nik', sa.String(length=16), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.Column('operator_id', sa.String(length=64), nullable=False),
    sa.Column('service_point', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kelurahan', sa.String(length=13), nullable=False),
    sa.Column('rw', sa.String(length=3), nullable=False),
    sa.Column('rt', sa.String(length=3), nullable=False),
    sa.Column('training', sa.Boolean(), nullable=False),
    sa.Column('simulated', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('flags', sa.Text(), nullable=False),
    sa.Column('quality', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], ),
    sa.PrimaryKeyConstraint('packet_id')
    )
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.create_index('enrolments_accepted', ['accepted_at'], unique=False)
        batch_op.create_index('enrolments_day', ['day', 'kelurahan'], unique=False)
        batch_op.create_index('enrolments_device_day', ['device_id', 'day'], unique=False)
        batch_op.create_index('enrolments_nik', ['nik'], unique=False)
        batch_op.create_index('enrolments_state', ['state'], unique=False)

    op.create_table('reviews',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('packet_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('flags', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('status_before', sa.String(length=32), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['packet_id'], ['enrolments.packet_id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('packet_id')
    )
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.create_index('reviews_state', ['state', 'id'], unique=False)

    with op.batch_alter_table('packets', schema=None) as batch_op:
        batch_op.create_index('packets_state', ['state', 'received_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('packets', schema=None) as batch_op:
        batch_op.drop_index('packets_state')

    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_index('reviews_state')

    op.drop_table('reviews')
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.drop_index('enrolments_state')
        batch_op.drop_index('enrolments_nik')
        batch_op.drop_index('enrolments_device_day')
        batch_op.drop_index('enrolments_day')
        batch_op.drop_index('enrolments_accepted')

    op.drop_table('enrolments')
