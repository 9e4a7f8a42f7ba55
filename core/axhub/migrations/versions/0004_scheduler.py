"""scheduler: sent notifications (dedupe keys), scheduled fires, APScheduler's tables

Revision ID: 0004
Revises: 0003

On PostgreSQL, APScheduler's SQLAlchemy data store keeps its tables (metadata, tasks,
schedules, jobs, job_results) in their own schema, ``apscheduler``, created here so that
several processes starting at once do not race to create them.
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

SCHEMA = "apscheduler"


def upgrade() -> None:
    op.create_table('sent_notifications',
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('org_id', sa.String(length=128), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'key')
    )
    with op.batch_alter_table('sent_notifications', schema=None) as batch_op:
        batch_op.create_index('ix_sent_notifications_sent_at', ['sent_at'], unique=False)

    op.create_table('scheduled_fires',
    sa.Column('integration_id', sa.String(length=40), nullable=False),
    sa.Column('fire_at', sa.DateTime(), nullable=False),
    sa.Column('claimed_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('integration_id')
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from apscheduler.datastores.sqlalchemy import SQLAlchemyDataStore

        op.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"'))
        metadata = SQLAlchemyDataStore(bind.engine, schema=SCHEMA).get_table_definitions()
        metadata.create_all(bind)
        op.execute(sa.text(f'INSERT INTO "{SCHEMA}".metadata (schema_version) VALUES (1)'))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
    op.drop_table('scheduled_fires')
    with op.batch_alter_table('sent_notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_sent_notifications_sent_at')
    op.drop_table('sent_notifications')
