"""The pay line's total check compares within half a cent: SQLite adds the amounts in binary floating point, so
`total = lesson_amount + …` refused correct lines such as 350.00 + 445.16 = 795.16 on the embedded default. On
PostgreSQL (exact numeric, whole cents) the new check is equivalent to the old one.

SQLite rebuilds the table to change a check constraint, which drops its triggers: the locked-run guards of
0009 are created again (frozen copies).

Revision ID: 0011_pay_line_total_check
Revises: 0010_offboarding
Create Date: 2026-12-08
"""
from alembic import op


revision = '0011_pay_line_total_check'
down_revision = '0010_offboarding'
branch_labels = None
depends_on = None

NEW_CHECK = "abs(total - (lesson_amount + overtime_amount + allowance_amount + bonus_amount)) < 0.005"
OLD_CHECK = "total = lesson_amount + overtime_amount + allowance_amount + bonus_amount"

# Frozen copies of 0009's SQLite guards on pay_lines.
SQLITE_PAY_LINE_GUARDS = (
    "CREATE TRIGGER pay_lines_locked_insert BEFORE INSERT ON pay_lines "
    "WHEN (SELECT status FROM pay_runs WHERE id = NEW.run_id) = 'locked' "
    "BEGIN SELECT RAISE(ABORT, 'the lines of a locked pay run cannot change'); END;",
    "CREATE TRIGGER pay_lines_locked_update BEFORE UPDATE ON pay_lines "
    "WHEN (SELECT status FROM pay_runs WHERE id = OLD.run_id) = 'locked' OR NEW.run_id <> OLD.run_id "
    "BEGIN SELECT RAISE(ABORT, 'the lines of a locked pay run cannot change'); END;",
    "CREATE TRIGGER pay_lines_locked_delete BEFORE DELETE ON pay_lines "
    "WHEN (SELECT status FROM pay_runs WHERE id = OLD.run_id) = 'locked' "
    "BEGIN SELECT RAISE(ABORT, 'the lines of a locked pay run cannot change'); END;",
)
SQLITE_TRIGGER_NAMES = ("pay_lines_locked_insert", "pay_lines_locked_update", "pay_lines_locked_delete")


def _replace(check: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        with op.batch_alter_table('pay_lines', schema=None, recreate='always') as batch_op:
            batch_op.drop_constraint(op.f('ck_pay_lines_total'), type_='check')
            batch_op.create_check_constraint(op.f('ck_pay_lines_total'), check)
        for statement in SQLITE_PAY_LINE_GUARDS:
            op.execute(statement)
    else:
        op.drop_constraint(op.f('ck_pay_lines_total'), 'pay_lines', type_='check')
        op.create_check_constraint(op.f('ck_pay_lines_total'), 'pay_lines', check)


def upgrade():
    _replace(NEW_CHECK)


def downgrade():
    _replace(OLD_CHECK)
