"""Certificate serials are 40 upper-case hex digits: pad the ones stored before that rule.

Serials made before issue 10 dropped a leading zero (39 digits when the first nibble was 0). The
certificates themselves are unchanged; only the stored spelling of their serial is fixed.

Revision ID: 0005_i10_serials
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_i10_serials"
down_revision = "0004"

_DIGITS = 40


def upgrade() -> None:
    conn = op.get_bind()
    merchants = sa.table(
        "merchants", sa.column("mchid"), sa.column("serial_no"), sa.column("platform_serial")
    )
    rows = conn.execute(sa.select(merchants.c.mchid, merchants.c.serial_no, merchants.c.platform_serial))
    for mchid, serial_no, platform_serial in rows.all():
        fixed = {
            "serial_no": f"{int(serial_no, 16):0{_DIGITS}X}",
            "platform_serial": f"{int(platform_serial, 16):0{_DIGITS}X}",
        }
        if fixed != {"serial_no": serial_no, "platform_serial": platform_serial}:
            conn.execute(sa.update(merchants).where(merchants.c.mchid == mchid).values(**fixed))


def downgrade() -> None:
    pass  # a padded serial is the same number
