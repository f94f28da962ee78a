"""The register of residents who must record: residents, their history (resident_events),
the imports that changed them, and coverage_daily (per day and RT) for monitoring

Revision ID: 0004
Revises: 0003
Created: 2026-12-04 23:42:39.367411
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('coverage_daily',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kelurahan', sa.String(length=13), nullable=False),
    sa.Column('rw', sa.String(length=3), nullable=False),
    sa.Column('rt', sa.String(length=3), nullable=False),
    sa.Column('must_record', sa.Integer(), nullable=False),
    sa.Column('recorded', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'kelurahan', 'rw', 'rt')
    )
    with op.batch_alter_table('coverage_daily', schema=None) as batch_op:
        batch_op.create_index('coverage_daily_area', ['kelurahan', 'day'], unique=False)

    op.create_table('register_imports',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('file_name', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sa.String(length=64), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('added', sa.Integer(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('register_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_register_imports_sha256'), ['sha256'], unique=False)

    op.create_table('residents',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('nik', sa.String(length=16), nullable=False),
    sa.Column('no_kk', sa.String(length=16), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('sex', sa.String(length=1), nullable=False),
    sa.Column('birth_place', sa.Text(), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('marital_status', sa.String(length=16), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('rt', sa.String(length=3), nullable=False),
    sa.Column('rw', sa.String(length=3), nullable=False),
    sa.Column('kelurahan', sa.String(length=13), nullable=False),
    sa.Column('kecamatan', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('status_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('added_import_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['added_import_id'], ['register_imports.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('nik')
    )
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.create_index('residents_area', ['kelurahan', 'rw', 'rt'], unique=False)
        batch_op.create_index('residents_status', ['status'], unique=False)

    op.create_table('resident_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status_from', sa.String(length=32), nullable=True),
    sa.Column('status_to', sa.String(length=32), nullable=True),
    sa.Column('changes', sa.Text(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('by', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['register_imports.id'], ),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('resident_events', schema=None) as batch_op:
        batch_op.create_index('resident_events_at', ['at'], unique=False)
        batch_op.create_index('resident_events_resident', ['resident_id', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('resident_events', schema=None) as batch_op:
        batch_op.drop_index('resident_events_resident')
        batch_op.drop_index('resident_events_at')

    op.drop_table('resident_events')
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_index('residents_status')
        batch_op.drop_index('residents_area')

    op.drop_table('residents')
    with op.batch_alter_table('register_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_register_imports_sha256'))

    op.drop_table('register_imports')
    with op.batch_alter_table('coverage_daily', schema=None) as batch_op:
        batch_op.drop_index('coverage_daily_area')

    op.drop_table('coverage_daily')
