"""Contracts: versioned templates, contracts with a generic party, signatures (append-only), one-time
signing codes, obligations; triggers that lock an issued contract's text and terms.

Revision ID: 0006_contracts
Revises: 0005_people_and_classes
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_contracts"
down_revision = "0005_people_and_classes"
branch_labels = None
depends_on = None

# Frozen copies of the statements in app/general/contracts/models.py (migrations never import the app).
PG_SIGNATURE_GUARD = """
CREATE OR REPLACE FUNCTION contract_signatures_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'contract_signatures is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER contract_signatures_append_only
    BEFORE UPDATE OR DELETE ON contract_signatures
    FOR EACH ROW EXECUTE FUNCTION contract_signatures_refuse_change();
"""
PG_CONTRACT_GUARD = """
CREATE OR REPLACE FUNCTION contracts_refuse_locked_change() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'draft' THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'contract % is %: only a draft can be deleted', OLD.id, OLD.status;
    END IF;
    IF NEW.status = 'draft'
        OR NEW.rendered_text IS DISTINCT FROM OLD.rendered_text
        OR NEW.rendered_sha256 IS DISTINCT FROM OLD.rendered_sha256
        OR NEW.template_id IS DISTINCT FROM OLD.template_id
        OR NEW.template_version IS DISTINCT FROM OLD.template_version
        OR NEW.kind IS DISTINCT FROM OLD.kind
        OR NEW.employer_id IS DISTINCT FROM OLD.employer_id
        OR NEW.party_type IS DISTINCT FROM OLD.party_type
        OR NEW.party_id IS DISTINCT FROM OLD.party_id
        OR NEW.title IS DISTINCT FROM OLD.title
        OR NEW.starts_on IS DISTINCT FROM OLD.starts_on
        OR NEW.ends_on IS DISTINCT FROM OLD.ends_on
        OR NEW.terms::text IS DISTINCT FROM OLD.terms::text
    THEN
        RAISE EXCEPTION 'contract % is %: its issued text and terms are locked', OLD.id, OLD.status;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER contracts_locked_after_issue
    BEFORE UPDATE OR DELETE ON contracts
    FOR EACH ROW EXECUTE FUNCTION contracts_refuse_locked_change();
"""
SQLITE_GUARDS = (
    "CREATE TRIGGER contract_signatures_no_update BEFORE UPDATE ON contract_signatures "
    "BEGIN SELECT RAISE(ABORT, 'contract_signatures is append-only (UPDATE refused)'); END",
    "CREATE TRIGGER contract_signatures_no_delete BEFORE DELETE ON contract_signatures "
    "BEGIN SELECT RAISE(ABORT, 'contract_signatures is append-only (DELETE refused)'); END",
    "CREATE TRIGGER contracts_locked_after_issue BEFORE UPDATE ON contracts "
    "WHEN OLD.status <> 'draft' AND (NEW.status = 'draft' OR NEW.template_id IS NOT OLD.template_id "
    "OR NEW.template_version IS NOT OLD.template_version OR NEW.kind IS NOT OLD.kind "
    "OR NEW.employer_id IS NOT OLD.employer_id OR NEW.party_type IS NOT OLD.party_type "
    "OR NEW.party_id IS NOT OLD.party_id OR NEW.title IS NOT OLD.title OR NEW.starts_on IS NOT OLD.starts_on "
    "OR NEW.ends_on IS NOT OLD.ends_on OR NEW.terms IS NOT OLD.terms OR NEW.rendered_text IS NOT OLD.rendered_text "
    "OR NEW.rendered_sha256 IS NOT OLD.rendered_sha256) "
    "BEGIN SELECT RAISE(ABORT, 'an issued contract''s text and terms are locked'); END",
    "CREATE TRIGGER contracts_no_delete_after_issue BEFORE DELETE ON contracts WHEN OLD.status <> 'draft' "
    "BEGIN SELECT RAISE(ABORT, 'only a draft contract can be deleted'); END",
)
SQLITE_TRIGGER_NAMES = ("contract_signatures_no_update", "contract_signatures_no_delete",
                        "contracts_locked_after_issue", "contracts_no_delete_after_issue")

KINDS = "kind in ('labour', 'confidentiality', 'non_compete', 'other')"


def _templates():
    op.create_table(
        "contract_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(KINDS, name=op.f("ck_contract_templates_kind")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_contract_templates_version")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_contract_templates_created_by_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["org_unit_id"], ["org_units.id"],
                                name=op.f("fk_contract_templates_org_unit_id_org_units"), ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_templates")),
        sa.UniqueConstraint("family", "version", name=op.f("uq_contract_templates_family_version")),
    )
    op.create_index(op.f("ix_contract_templates_family"), "contract_templates", ["family"])
    op.create_index(op.f("ix_contract_templates_kind"), "contract_templates", ["kind"])
    op.create_index(op.f("ix_contract_templates_org_unit_id"), "contract_templates", ["org_unit_id"])


def _contracts():
    op.create_table(
        "contracts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("employer_id", sa.Integer(), nullable=False),
        sa.Column("party_type", sa.String(length=40), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("party_user_id", sa.Integer(), nullable=True),
        sa.Column("party_name", sa.String(length=200), nullable=False),
        sa.Column("party_email", sa.String(length=254), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("rendered_text", sa.Text(), nullable=True),
        sa.Column("rendered_sha256", sa.String(length=64), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.CheckConstraint(KINDS, name=op.f("ck_contracts_kind")),
        sa.CheckConstraint("status = 'draft' OR (rendered_text IS NOT NULL AND rendered_sha256 IS NOT NULL)",
                           name=op.f("ck_contracts_frozen_text")),
        sa.CheckConstraint("status in ('draft', 'issued', 'signed', 'active', 'ended', 'terminated', 'expired')",
                           name=op.f("ck_contracts_status")),
        sa.CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name=op.f("ck_contracts_dates")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_contracts_created_by_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["employer_id"], ["org_units.id"], name=op.f("fk_contracts_employer_id_org_units"),
                                ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["party_user_id"], ["users.id"], name=op.f("fk_contracts_party_user_id_users"),
                                ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["template_id"], ["contract_templates.id"],
                                name=op.f("fk_contracts_template_id_contract_templates"), ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contracts")),
    )
    op.create_index(op.f("ix_contracts_employer_id"), "contracts", ["employer_id"])
    op.create_index(op.f("ix_contracts_ends_on"), "contracts", ["ends_on"])
    op.create_index(op.f("ix_contracts_kind"), "contracts", ["kind"])
    op.create_index("ix_contracts_party", "contracts", ["party_type", "party_id"])
    op.create_index(op.f("ix_contracts_party_user_id"), "contracts", ["party_user_id"])
    op.create_index(op.f("ix_contracts_status"), "contracts", ["status"])
    op.create_index("ix_contracts_status_ends_on", "contracts", ["status", "ends_on"])
    op.create_index(op.f("ix_contracts_template_id"), "contracts", ["template_id"])


def _obligations():
    op.create_table(
        "contract_obligations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("period_starts_on", sa.Date(), nullable=True),
        sa.Column("period_ends_on", sa.Date(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.CheckConstraint("kind in ('confidentiality', 'non_compete_compensation', 'other')",
                           name=op.f("ck_contract_obligations_kind")),
        sa.CheckConstraint("status in ('open', 'done', 'waived')", name=op.f("ck_contract_obligations_status")),
        sa.CheckConstraint("amount IS NULL OR amount >= 0", name=op.f("ck_contract_obligations_amount")),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"],
                                name=op.f("fk_contract_obligations_contract_id_contracts"), ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["done_by_id"], ["users.id"], name=op.f("fk_contract_obligations_done_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_obligations")),
    )
    op.create_index(op.f("ix_contract_obligations_contract_id"), "contract_obligations", ["contract_id"])
    op.create_index(op.f("ix_contract_obligations_due_on"), "contract_obligations", ["due_on"])
    op.create_index(op.f("ix_contract_obligations_status"), "contract_obligations", ["status"])


def _signatures():
    op.create_table(
        "contract_signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("signer_role", sa.String(length=10), nullable=False),
        sa.Column("signer_user_id", sa.Integer(), nullable=False),
        sa.Column("signer_name", sa.String(length=200), nullable=False),
        sa.Column("signer_email", sa.String(length=254), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("otp_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("signer_role in ('party', 'school')", name=op.f("ck_contract_signatures_signer_role")),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"],
                                name=op.f("fk_contract_signatures_contract_id_contracts"), ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["signer_user_id"], ["users.id"],
                                name=op.f("fk_contract_signatures_signer_user_id_users"), ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_signatures")),
        sa.UniqueConstraint("contract_id", "signer_role", name=op.f("uq_contract_signatures_contract_id_signer_role")),
    )
    op.create_index(op.f("ix_contract_signatures_contract_id"), "contract_signatures", ["contract_id"])
    op.create_index(op.f("ix_contract_signatures_signer_user_id"), "contract_signatures", ["signer_user_id"])


def _signing_codes():
    op.create_table(
        "contract_signing_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=128), nullable=False),
        sa.Column("sent_to", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"],
                                name=op.f("fk_contract_signing_codes_contract_id_contracts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_contract_signing_codes_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_signing_codes")),
    )
    op.create_index(op.f("ix_contract_signing_codes_contract_id"), "contract_signing_codes", ["contract_id"])
    op.create_index("ix_contract_signing_codes_user_created", "contract_signing_codes", ["user_id", "created_at"])


def upgrade():
    _templates()
    _contracts()
    _obligations()
    _signatures()
    _signing_codes()
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_CONTRACT_GUARD)
        op.execute(PG_SIGNATURE_GUARD)
    elif dialect == "sqlite":
        for statement in SQLITE_GUARDS:
            op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS contract_signatures_append_only ON contract_signatures")
        op.execute("DROP FUNCTION IF EXISTS contract_signatures_refuse_change()")
        op.execute("DROP TRIGGER IF EXISTS contracts_locked_after_issue ON contracts")
        op.execute("DROP FUNCTION IF EXISTS contracts_refuse_locked_change()")
    elif dialect == "sqlite":
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_contract_signing_codes_user_created", table_name="contract_signing_codes")
    op.drop_index(op.f("ix_contract_signing_codes_contract_id"), table_name="contract_signing_codes")
    op.drop_table("contract_signing_codes")
    op.drop_index(op.f("ix_contract_signatures_signer_user_id"), table_name="contract_signatures")
    op.drop_index(op.f("ix_contract_signatures_contract_id"), table_name="contract_signatures")
    op.drop_table("contract_signatures")
    op.drop_index(op.f("ix_contract_obligations_status"), table_name="contract_obligations")
    op.drop_index(op.f("ix_contract_obligations_due_on"), table_name="contract_obligations")
    op.drop_index(op.f("ix_contract_obligations_contract_id"), table_name="contract_obligations")
    op.drop_table("contract_obligations")
    for name in ("ix_contracts_template_id", "ix_contracts_status", "ix_contracts_party_user_id", "ix_contracts_kind",
                 "ix_contracts_ends_on", "ix_contracts_employer_id"):
        op.drop_index(op.f(name), table_name="contracts")
    op.drop_index("ix_contracts_status_ends_on", table_name="contracts")
    op.drop_index("ix_contracts_party", table_name="contracts")
    op.drop_table("contracts")
    op.drop_index(op.f("ix_contract_templates_org_unit_id"), table_name="contract_templates")
    op.drop_index(op.f("ix_contract_templates_kind"), table_name="contract_templates")
    op.drop_index(op.f("ix_contract_templates_family"), table_name="contract_templates")
    op.drop_table("contract_templates")
