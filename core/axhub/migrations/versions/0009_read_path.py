"""read path: the people a message mentions, beside it; indexes the integration view's
figures are read through

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import msgspec
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'delivery_mentions',
        sa.Column('message_id', sa.String(length=40), nullable=False),
        sa.Column('integration_id', sa.String(length=40), nullable=False),
        sa.Column('person', sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(['message_id'], ['delivery_messages.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('message_id', 'person'),
    )
    op.create_index('ix_delivery_mentions_integration_id', 'delivery_mentions', ['integration_id'])
    op.create_index('ix_delivery_attempts_integration_id', 'delivery_attempts', ['integration_id'])
    op.create_index('ix_sync_runs_integration_completed', 'sync_runs', ['integration_id', 'completed_at'])
    # The messages stored before: their mentions read from their payloads, once.
    bind = op.get_bind()
    messages = sa.table('delivery_messages', sa.column('id'), sa.column('integration_id'), sa.column('payload'))
    mentions = sa.table('delivery_mentions', sa.column('message_id'), sa.column('integration_id'), sa.column('person'))
    found = bind.execute(sa.select(messages.c.id, messages.c.integration_id, messages.c.payload)
                         .execution_options(yield_per=1000))
    for chunk in found.partitions():  # a thousand payloads in memory at a time, not the table
        rows = [{'message_id': message_id, 'integration_id': integration_id, 'person': person}
                for message_id, integration_id, payload in chunk for person in mentioned(payload)]
        if rows:
            bind.execute(mentions.insert(), rows)


def mentioned(payload: bytes) -> list[str]:
    if not payload or b'"mentions"' not in payload:
        return []
    try:
        found = msgspec.json.decode(payload).get('mentions') or []
    except (msgspec.DecodeError, AttributeError):
        return []
    return list(dict.fromkeys(m[:320] for m in found if isinstance(m, str))) if isinstance(found, list) else []


def downgrade() -> None:
    op.drop_index('ix_sync_runs_integration_completed', table_name='sync_runs')
    op.drop_index('ix_delivery_attempts_integration_id', table_name='delivery_attempts')
    op.drop_index('ix_delivery_mentions_integration_id', table_name='delivery_mentions')
    op.drop_table('delivery_mentions')
