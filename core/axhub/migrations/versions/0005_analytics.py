"""analytics: provider calls, organisation settings, error codes of runs and messages

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('provider_calls',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('org_id', sa.String(length=128), nullable=False),
    sa.Column('integration_id', sa.String(length=40), nullable=True),
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('duration_ms', sa.Float(), nullable=False),
    sa.Column('bytes_out', sa.Integer(), nullable=False),
    sa.Column('bytes_in', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('provider_calls', schema=None) as batch_op:
        batch_op.create_index('ix_provider_calls_org_at', ['org_id', 'at', 'provider', 'duration_ms', 'bytes_in', 'bytes_out'], unique=False)

    op.create_table('organizations',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_code', sa.String(length=64), nullable=True))
    with op.batch_alter_table('delivery_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_code', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_delivery_messages_org_created', ['org_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('delivery_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_messages_org_created')
        batch_op.drop_column('error_code')
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.drop_column('error_code')
    op.drop_table('organizations')
    with op.batch_alter_table('provider_calls', schema=None) as batch_op:
        batch_op.drop_index('ix_provider_calls_org_at')
    op.drop_table('provider_calls')
