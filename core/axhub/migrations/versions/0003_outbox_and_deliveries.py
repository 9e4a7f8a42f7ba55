"""signal outbox and deliveries

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('signal_outbox',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('dispatched_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_signal_outbox_dispatched_at', 'signal_outbox', ['dispatched_at'])
    op.create_table('delivery_messages',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('integration_id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=128), nullable=False),
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=128), nullable=True),
    sa.Column('dedupe_key', sa.String(length=128), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_retries', sa.Integer(), nullable=False),
    sa.Column('backoff_multiplier', sa.Float(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('delivered_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ux_delivery_messages_dedupe', 'delivery_messages', ['integration_id', 'dedupe_key'], unique=True)
    op.create_index('ix_delivery_messages_due', 'delivery_messages', ['status', 'next_attempt_at'])
    op.create_index('ix_delivery_messages_integration_created', 'delivery_messages', ['integration_id', 'created_at'])
    op.create_index('ix_delivery_messages_subject', 'delivery_messages', ['integration_id', 'target', 'subject'])
    op.create_table('delivery_attempts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=40), nullable=False),
    sa.Column('integration_id', sa.String(length=40), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('response_excerpt', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['delivery_messages.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_delivery_attempts_message_id', 'delivery_attempts', ['message_id'])
    op.create_table('delivery_targets',
    sa.Column('integration_id', sa.String(length=40), nullable=False),
    sa.Column('target', sa.String(length=128), nullable=False),
    sa.Column('failing_since', sa.DateTime(), nullable=True),
    sa.Column('disabled_at', sa.DateTime(), nullable=True),
    sa.Column('disabled_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('integration_id', 'target')
    )


def downgrade() -> None:
    op.drop_table('delivery_targets')
    op.drop_index('ix_delivery_attempts_message_id', 'delivery_attempts')
    op.drop_table('delivery_attempts')
    for name in ('ix_delivery_messages_subject', 'ix_delivery_messages_integration_created', 'ix_delivery_messages_due',
                 'ux_delivery_messages_dedupe'):
        op.drop_index(name, 'delivery_messages')
    op.drop_table('delivery_messages')
    op.drop_index('ix_signal_outbox_dispatched_at', 'signal_outbox')
    op.drop_table('signal_outbox')
