"""Search and sort indexes for district-scale lists (PostgreSQL only; nothing changes on SQLite).

- pg_trgm trigram GIN indexes, so a name search (`LIKE`/`ILIKE '%word%'`) over 160,000 students or 10,000
  staff reads the index instead of every row: staff (names, number, e-mail as one text), students (names with
  a space between them, and written together), and a btree for student-number prefixes;
- the staff list's default order (lower family name, lower given name, id), carrying the columns the list
  filters and joins on, so its pages' ids are read in order from the index alone instead of sorting every
  staff member.

Revision ID: 0007_search_indexes
Revises: 0006_contracts
Create Date: 2026-12-07
"""
from alembic import op

revision = "0007_search_indexes"
down_revision = "0006_contracts"
branch_labels = None
depends_on = None

# Frozen copies of the expressions in app/school/staff/models.py and app/school/classes/models.py (migrations
# never import the app); the queries use the same expressions, which is what lets PostgreSQL use the indexes.
INDEXES = {
    "ix_staff_members_search_trgm": "staff_members USING gin "
    "((family_name || given_name || ' ' || employee_number || ' ' || coalesce(email, '')) gin_trgm_ops)",
    "ix_staff_members_name_order": "staff_members (lower(family_name), lower(given_name), id) "
    "INCLUDE (family_name, given_name, status, department_id, school_id)",
    "ix_students_names_trgm": "students USING gin ((family_name || ' ' || given_name) gin_trgm_ops)",
    "ix_students_full_name_trgm": "students USING gin ((family_name || given_name) gin_trgm_ops)",
    "ix_students_number_prefix": "students (student_number varchar_pattern_ops)",
}


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it without superuser rights.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {definition}")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in reversed(INDEXES):
        op.execute(f"DROP INDEX {name}")
    # The extension stays: it holds no data, and other schemas or later indexes in this database may use it.
