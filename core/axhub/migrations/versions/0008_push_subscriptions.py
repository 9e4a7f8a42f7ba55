"""push: providers' change subscriptions and the signals of their notifications

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('push_subscriptions',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('integration_id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=128), nullable=False),
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('provider_id', sa.String(length=256), nullable=False),
    sa.Column('resource_id', sa.String(length=256), nullable=True),
    sa.Column('resource', sa.String(length=1024), nullable=False),
    sa.Column('secret', sa.LargeBinary(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('renew_at', sa.DateTime(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('last_notified_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ux_push_subscriptions_provider_id', 'push_subscriptions', ['provider', 'provider_id'], unique=True)
    op.create_index('ix_push_subscriptions_integration', 'push_subscriptions', ['integration_id'], unique=False)
    op.create_index('ix_push_subscriptions_due', 'push_subscriptions', ['state', 'renew_at'], unique=False)
    op.create_table('push_signals',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('subscription_id', sa.String(length=40), nullable=False),
    sa.Column('integration_id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('handled_at', sa.DateTime(), nullable=True),
    sa.Column('handled_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ux_push_signals_dedupe', 'push_signals', ['subscription_id', 'dedupe_key'], unique=True)
    op.create_index('ix_push_signals_pending', 'push_signals', ['integration_id', 'handled_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_push_signals_pending', table_name='push_signals')
    op.drop_index('ux_push_signals_dedupe', table_name='push_signals')
    op.drop_table('push_signals')
    op.drop_index('ix_push_subscriptions_due', table_name='push_subscriptions')
    op.drop_index('ix_push_subscriptions_integration', table_name='push_subscriptions')
    op.drop_index('ux_push_subscriptions_provider_id', table_name='push_subscriptions')
    op.drop_table('push_subscriptions')
