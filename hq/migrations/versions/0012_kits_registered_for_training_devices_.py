"""kits registered for training (devices.training, production by default): every kit
registered before this revision is a production kit

Revision ID: 0012
Revises: 0011
Created: 2026-12-05 03:24:44.962541
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (not a batch rebuild): SQLite adds a NOT NULL column with a constant
    # default in place, and rebuilding devices would break the keys other tables hold on it.
    op.add_column('devices', sa.Column('training', sa.Boolean(), server_default=sa.false(),
                                       nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_column('training')
