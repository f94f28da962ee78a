"""Baseline: the schema of the releases before Alembic (a database they created is stamped
with this revision, then upgraded)

Revision ID: 0001
Revises: (none, the first)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hq.schema import store_ciphertext_uncompressed

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dead_letters',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('topic', sa.Text(), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=True),
    sa.Column('packet_id', sa.String(length=64), nullable=True),
    sa.Column('reason_code', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('alert', sa.Boolean(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dead_letters_reason_code'), ['reason_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_dead_letters_received_at'), ['received_at'], unique=False)

    op.create_table('device_config',
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('settings', sa.Text(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('device_id')
    )
    op.create_table('device_reports',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('subject', sa.String(length=16), nullable=False),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('device_reports', schema=None) as batch_op:
        batch_op.create_index('device_reports_device_at', ['device_id', 'at'], unique=False)

    op.create_table('device_status',
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('session', sa.String(length=40), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('queue_depth', sa.Integer(), nullable=False),
    sa.Column('oldest_queued', sa.String(length=40), nullable=True),
    sa.Column('free_disk_mb', sa.Integer(), nullable=False),
    sa.Column('software_version', sa.String(length=32), nullable=False),
    sa.Column('roster_version', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('device_id')
    )
    op.create_table('devices',
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('kelurahan', sa.Text(), nullable=False),
    sa.Column('broker', sa.Text(), nullable=False),
    sa.Column('signing_public', sa.String(length=64), nullable=False),
    sa.Column('signing_key_id', sa.String(length=16), nullable=False),
    sa.Column('cert_pem', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('worklist_version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('device_id')
    )
    op.create_table('packet_chunks',
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('packet_id', sa.String(length=64), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('idx', sa.Integer(), nullable=False),
    sa.Column('offset', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('device_id', 'packet_id', 'sha256', 'count', 'idx')
    )
    with op.batch_alter_table('packet_chunks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_packet_chunks_received_at'), ['received_at'], unique=False)

    op.create_table('packets',
    sa.Column('packet_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('device_key_id', sa.String(length=16), nullable=False),
    sa.Column('hq_key_id', sa.String(length=16), nullable=False),
    sa.Column('suite', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('deliveries', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('packet_id')
    )
    with op.batch_alter_table('packets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_packets_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_packets_received_at'), ['received_at'], unique=False)

    store_ciphertext_uncompressed(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table('packets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_packets_received_at'))
        batch_op.drop_index(batch_op.f('ix_packets_device_id'))

    op.drop_table('packets')
    with op.batch_alter_table('packet_chunks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_packet_chunks_received_at'))

    op.drop_table('packet_chunks')
    op.drop_table('devices')
    op.drop_table('device_status')
    with op.batch_alter_table('device_reports', schema=None) as batch_op:
        batch_op.drop_index('device_reports_device_at')

    op.drop_table('device_reports')
    op.drop_table('device_config')
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dead_letters_received_at'))
        batch_op.drop_index(batch_op.f('ix_dead_letters_reason_code'))

    op.drop_table('dead_letters')
