"""Organisation units: district, schools, departments (a tree with a materialised path).

Revision ID: 0001_org_units
Revises:
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0001_org_units"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "org_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("path", sa.String(length=400), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind in ('district', 'school', 'department')", name=op.f("ck_org_units_kind")),
        sa.ForeignKeyConstraint(["parent_id"], ["org_units.id"], name=op.f("fk_org_units_parent_id_org_units"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_units")),
        sa.UniqueConstraint("code", name=op.f("uq_org_units_code")),
    )
    op.create_index(op.f("ix_org_units_kind"), "org_units", ["kind"])
    op.create_index(op.f("ix_org_units_parent_id"), "org_units", ["parent_id"])
    op.create_index(op.f("ix_org_units_path"), "org_units", ["path"])


def downgrade():
    op.drop_index(op.f("ix_org_units_path"), table_name="org_units")
    op.drop_index(op.f("ix_org_units_parent_id"), table_name="org_units")
    op.drop_index(op.f("ix_org_units_kind"), table_name="org_units")
    op.drop_table("org_units")
