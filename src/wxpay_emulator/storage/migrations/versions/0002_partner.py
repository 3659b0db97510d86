"""Partner payments: a sub-merchant's service provider, and the partner fields of an order.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("merchants") as batch:
        batch.add_column(sa.Column("sp_mchid", sa.String(32)))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("sp_mchid", sa.String(32)))
        batch.add_column(sa.Column("sub_appid", sa.String(32)))
        batch.add_column(sa.Column("sub_openid", sa.String(128)))
