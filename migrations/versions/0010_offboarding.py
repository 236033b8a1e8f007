"""Offboarding: departure cases (one open case per person: a partial unique index; a version column for the
guarded transitions), checklist templates per role and each case's checklist items, blockers raised against a
person, the reassignment plan, and one parent notice per guardian per case (UNIQUE(case, guardian); the notice's
outbox key is unique too, so a re-run writes nothing twice).

Revision ID: 0010_offboarding
Revises: 0009_teaching
Create Date: 2026-12-07

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_offboarding'
down_revision = '0009_teaching'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('checklist_template_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('owner', sa.String(length=10), nullable=False),
    sa.Column('is_money', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("owner in ('teacher', 'it', 'finance', 'head', 'admin')", name=op.f('ck_checklist_template_items_owner')),
    sa.CheckConstraint("role in ('admin', 'head', 'teacher')", name=op.f('ck_checklist_template_items_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checklist_template_items'))
    )
    with op.batch_alter_table('checklist_template_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checklist_template_items_role'), ['role'], unique=False)

    op.create_table('departure_blockers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('raised_by_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('resolution', sa.String(length=500), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind in ('complaint', 'dispute', 'asset', 'money')", name=op.f('ck_departure_blockers_kind')),
    sa.ForeignKeyConstraint(['raised_by_id'], ['users.id'], name=op.f('fk_departure_blockers_raised_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_departure_blockers_resolved_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_members.id'], name=op.f('fk_departure_blockers_staff_id_staff_members'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departure_blockers'))
    )
    with op.batch_alter_table('departure_blockers', schema=None) as batch_op:
        batch_op.create_index('ix_departure_blockers_open', ['staff_id', 'resolved_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_departure_blockers_staff_id'), ['staff_id'], unique=False)

    op.create_table('departure_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=14), nullable=False),
    sa.Column('status', sa.String(length=18), nullable=False),
    sa.Column('submitted_on', sa.Date(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('private_reason', sa.Text(), nullable=True),
    sa.Column('notice_rule', sa.String(length=14), nullable=False),
    sa.Column('notice_days', sa.Integer(), nullable=False),
    sa.Column('earliest_last_day', sa.Date(), nullable=False),
    sa.Column('last_working_day', sa.Date(), nullable=False),
    sa.Column('waiver_reason', sa.String(length=500), nullable=True),
    sa.Column('waived_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.String(length=500), nullable=True),
    sa.Column('effective_on', sa.Date(), nullable=True),
    sa.Column('notice_wording', sa.JSON(), nullable=False),
    sa.Column('reassigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('parents_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoke_access_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('access_revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disabled_account', sa.Boolean(), nullable=False),
    sa.Column('final_pay', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('final_pay_detail', sa.JSON(), nullable=False),
    sa.Column('money_items_total', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('contract_id', sa.Integer(), nullable=True),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind in ('resignation', 'contract_end', 'dismissal', 'retirement', 'transfer')", name=op.f('ck_departure_cases_kind')),
    sa.CheckConstraint("notice_rule in ('statutory', 'probation', 'contract', 'contract_end', 'none')", name=op.f('ck_departure_cases_notice_rule')),
    sa.CheckConstraint("status in ('submitted', 'approved', 'handover', 'reassigned', 'parents_notified', 'access_revoked', 'settled', 'closed', 'withdrawn', 'rejected')", name=op.f('ck_departure_cases_status')),
    sa.CheckConstraint('last_working_day >= earliest_last_day OR waiver_reason IS NOT NULL', name=op.f('ck_departure_cases_waiver')),
    sa.CheckConstraint('notice_days >= 0', name=op.f('ck_departure_cases_notice_days')),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_departure_cases_contract_id_contracts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_departure_cases_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['school_id'], ['org_units.id'], name=op.f('fk_departure_cases_school_id_org_units'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_members.id'], name=op.f('fk_departure_cases_staff_id_staff_members'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_departure_cases_submitted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['waived_by_id'], ['users.id'], name=op.f('fk_departure_cases_waived_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departure_cases'))
    )
    with op.batch_alter_table('departure_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_departure_cases_last_working_day'), ['last_working_day'], unique=False)
        batch_op.create_index('ix_departure_cases_one_open', ['staff_id'], unique=True, sqlite_where=sa.text("status NOT IN ('closed', 'withdrawn', 'rejected')"), postgresql_where=sa.text("status NOT IN ('closed', 'withdrawn', 'rejected')"))
        batch_op.create_index(batch_op.f('ix_departure_cases_revoke_access_at'), ['revoke_access_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_departure_cases_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_departure_cases_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_departure_cases_status'), ['status'], unique=False)

    op.create_table('checklist_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('owner', sa.String(length=10), nullable=False),
    sa.Column('is_money', sa.Boolean(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.Column('evidence', sa.String(length=500), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("owner in ('teacher', 'it', 'finance', 'head', 'admin')", name=op.f('ck_checklist_items_owner')),
    sa.ForeignKeyConstraint(['case_id'], ['departure_cases.id'], name=op.f('fk_checklist_items_case_id_departure_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['done_by_id'], ['users.id'], name=op.f('fk_checklist_items_done_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checklist_items')),
    sa.UniqueConstraint('case_id', 'title', name=op.f('uq_checklist_items_case_id_title'))
    )
    with op.batch_alter_table('checklist_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checklist_items_case_id'), ['case_id'], unique=False)

    op.create_table('parent_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('guardian_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('wording', sa.Text(), nullable=False),
    sa.Column('outbox_key', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_via', sa.String(length=8), nullable=True),
    sa.CheckConstraint("acknowledged_via IS NULL OR acknowledged_via in ('portal', 'link')", name=op.f('ck_parent_notices_acknowledged_via')),
    sa.CheckConstraint("channel in ('email', 'sms')", name=op.f('ck_parent_notices_channel')),
    sa.ForeignKeyConstraint(['case_id'], ['departure_cases.id'], name=op.f('fk_parent_notices_case_id_departure_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['guardian_id'], ['guardians.id'], name=op.f('fk_parent_notices_guardian_id_guardians'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['school_id'], ['org_units.id'], name=op.f('fk_parent_notices_school_id_org_units'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parent_notices')),
    sa.UniqueConstraint('case_id', 'guardian_id', name=op.f('uq_parent_notices_case_id_guardian_id')),
    sa.UniqueConstraint('outbox_key', name=op.f('uq_parent_notices_outbox_key'))
    )
    with op.batch_alter_table('parent_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_parent_notices_guardian_id'), ['guardian_id'], unique=False)

    op.create_table('reassignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('old_assignment_id', sa.Integer(), nullable=False),
    sa.Column('new_staff_id', sa.Integer(), nullable=True),
    sa.Column('override_reason', sa.String(length=300), nullable=True),
    sa.Column('new_assignment_id', sa.Integer(), nullable=True),
    sa.Column('effective_on', sa.Date(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['departure_cases.id'], name=op.f('fk_reassignments_case_id_departure_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['new_assignment_id'], ['assignments.id'], name=op.f('fk_reassignments_new_assignment_id_assignments'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['new_staff_id'], ['staff_members.id'], name=op.f('fk_reassignments_new_staff_id_staff_members'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['old_assignment_id'], ['assignments.id'], name=op.f('fk_reassignments_old_assignment_id_assignments'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reassignments')),
    sa.UniqueConstraint('case_id', 'old_assignment_id', name=op.f('uq_reassignments_case_id_old_assignment_id'))
    )
    with op.batch_alter_table('reassignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reassignments_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reassignments_new_staff_id'), ['new_staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reassignments_old_assignment_id'), ['old_assignment_id'], unique=False)



def downgrade():
    with op.batch_alter_table('reassignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reassignments_old_assignment_id'))
        batch_op.drop_index(batch_op.f('ix_reassignments_new_staff_id'))
        batch_op.drop_index(batch_op.f('ix_reassignments_case_id'))

    op.drop_table('reassignments')
    with op.batch_alter_table('parent_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_parent_notices_guardian_id'))

    op.drop_table('parent_notices')
    with op.batch_alter_table('checklist_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checklist_items_case_id'))

    op.drop_table('checklist_items')
    with op.batch_alter_table('departure_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_departure_cases_status'))
        batch_op.drop_index(batch_op.f('ix_departure_cases_staff_id'))
        batch_op.drop_index(batch_op.f('ix_departure_cases_school_id'))
        batch_op.drop_index(batch_op.f('ix_departure_cases_revoke_access_at'))
        batch_op.drop_index('ix_departure_cases_one_open', sqlite_where=sa.text("status NOT IN ('closed', 'withdrawn', 'rejected')"), postgresql_where=sa.text("status NOT IN ('closed', 'withdrawn', 'rejected')"))
        batch_op.drop_index(batch_op.f('ix_departure_cases_last_working_day'))

    op.drop_table('departure_cases')
    with op.batch_alter_table('departure_blockers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_departure_blockers_staff_id'))
        batch_op.drop_index('ix_departure_blockers_open')

    op.drop_table('departure_blockers')
    with op.batch_alter_table('checklist_template_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checklist_template_items_role'))

    op.drop_table('checklist_template_items')
