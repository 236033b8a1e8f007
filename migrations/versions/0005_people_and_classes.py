"""People and classes: staff members (+ subjects they may teach), subjects, classes, students,
guardians, enrolments, dated teaching assignments; and the background-job table imports report to.

Revision ID: 0005_people_and_classes
Revises: 0004_notifications
Create Date: 2026-11-22 13:38:50.514857

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_people_and_classes'
down_revision = '0004_notifications'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('subjects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subjects')),
    sa.UniqueConstraint('code', name=op.f('uq_subjects_code'))
    )
    op.create_table('guardians',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('preferred_channel', sa.String(length=8), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("preferred_channel in ('email', 'sms')", name=op.f('ck_guardians_preferred_channel')),
    sa.CheckConstraint('email IS NOT NULL OR phone IS NOT NULL', name=op.f('ck_guardians_contact')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_guardians_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_guardians')),
    sa.UniqueConstraint('user_id', name=op.f('uq_guardians_user_id'))
    )
    with op.batch_alter_table('guardians', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_guardians_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_guardians_phone'), ['phone'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('scope_unit_id', sa.Integer(), nullable=True),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status in ('queued', 'running', 'succeeded', 'failed')", name=op.f('ck_jobs_status')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_jobs_requested_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['scope_unit_id'], ['org_units.id'], name=op.f('fk_jobs_scope_unit_id_org_units'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_requested_by_id'), ['requested_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_status'), ['status'], unique=False)

    op.create_table('school_classes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('academic_year', sa.String(length=9), nullable=False),
    sa.Column('grade', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('grade >= 1 AND grade <= 12', name=op.f('ck_school_classes_grade')),
    sa.ForeignKeyConstraint(['school_id'], ['org_units.id'], name=op.f('fk_school_classes_school_id_org_units'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_classes')),
    sa.UniqueConstraint('school_id', 'academic_year', 'name', name=op.f('uq_school_classes_school_id_academic_year_name'))
    )
    with op.batch_alter_table('school_classes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_classes_school_id'), ['school_id'], unique=False)

    op.create_table('staff_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('employee_number', sa.String(length=40), nullable=False),
    sa.Column('family_name', sa.String(length=100), nullable=False),
    sa.Column('given_name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('hired_on', sa.Date(), nullable=False),
    sa.Column('probation_ends_on', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('max_weekly_periods', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('departed_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status in ('active', 'on_notice', 'departed')", name=op.f('ck_staff_members_status')),
    sa.CheckConstraint('max_weekly_periods >= 0 AND max_weekly_periods <= 60', name=op.f('ck_staff_members_max_weekly_periods')),
    sa.ForeignKeyConstraint(['department_id'], ['org_units.id'], name=op.f('fk_staff_members_department_id_org_units'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['school_id'], ['org_units.id'], name=op.f('fk_staff_members_school_id_org_units'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_staff_members_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_members')),
    sa.UniqueConstraint('school_id', 'employee_number', name=op.f('uq_staff_members_school_id_employee_number')),
    sa.UniqueConstraint('user_id', name=op.f('uq_staff_members_user_id'))
    )
    with op.batch_alter_table('staff_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_members_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_members_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_members_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_members_status'), ['status'], unique=False)

    op.create_table('students',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('student_number', sa.String(length=40), nullable=False),
    sa.Column('family_name', sa.String(length=100), nullable=False),
    sa.Column('given_name', sa.String(length=100), nullable=False),
    sa.Column('born_on', sa.Date(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['org_units.id'], name=op.f('fk_students_school_id_org_units'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_students')),
    sa.UniqueConstraint('school_id', 'student_number', name=op.f('uq_students_school_id_student_number'))
    )
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_students_school_id'), ['school_id'], unique=False)

    op.create_table('assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=True),
    sa.Column('weekly_periods', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('end_reason', sa.String(length=200), nullable=True),
    sa.Column('qualification_override', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(role = 'homeroom' AND subject_id IS NULL) OR (role = 'subject' AND subject_id IS NOT NULL)", name=op.f('ck_assignments_role_subject')),
    sa.CheckConstraint("role in ('homeroom', 'subject')", name=op.f('ck_assignments_role')),
    sa.CheckConstraint('ends_on IS NULL OR ends_on >= starts_on', name=op.f('ck_assignments_dates')),
    sa.CheckConstraint('weekly_periods >= 0 AND weekly_periods <= 40', name=op.f('ck_assignments_weekly_periods')),
    sa.ForeignKeyConstraint(['class_id'], ['school_classes.id'], name=op.f('fk_assignments_class_id_school_classes'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_members.id'], name=op.f('fk_assignments_staff_id_staff_members'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_assignments_subject_id_subjects'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignments'))
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_class_current', ['class_id', 'role', 'ends_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_class_id'), ['class_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_ends_on'), ['ends_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_subject_id'), ['subject_id'], unique=False)

    op.create_table('enrollments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.CheckConstraint('ends_on IS NULL OR ends_on >= starts_on', name=op.f('ck_enrollments_dates')),
    sa.ForeignKeyConstraint(['class_id'], ['school_classes.id'], name=op.f('fk_enrollments_class_id_school_classes'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_enrollments_student_id_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollments')),
    sa.UniqueConstraint('student_id', 'class_id', 'starts_on', name=op.f('uq_enrollments_student_id_class_id_starts_on'))
    )
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrollments_class_id'), ['class_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrollments_student_id'), ['student_id'], unique=False)

    op.create_table('staff_subjects',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_members.id'], name=op.f('fk_staff_subjects_staff_id_staff_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_staff_subjects_subject_id_subjects'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('staff_id', 'subject_id', name=op.f('pk_staff_subjects'))
    )
    with op.batch_alter_table('staff_subjects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_subjects_subject_id'), ['subject_id'], unique=False)

    op.create_table('student_guardians',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('guardian_id', sa.Integer(), nullable=False),
    sa.Column('relationship', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['guardian_id'], ['guardians.id'], name=op.f('fk_student_guardians_guardian_id_guardians'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_student_guardians_student_id_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_student_guardians')),
    sa.UniqueConstraint('student_id', 'guardian_id', name=op.f('uq_student_guardians_student_id_guardian_id'))
    )
    with op.batch_alter_table('student_guardians', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_student_guardians_guardian_id'), ['guardian_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_student_guardians_student_id'), ['student_id'], unique=False)



def downgrade():
    with op.batch_alter_table('student_guardians', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_student_guardians_student_id'))
        batch_op.drop_index(batch_op.f('ix_student_guardians_guardian_id'))

    op.drop_table('student_guardians')
    with op.batch_alter_table('staff_subjects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_subjects_subject_id'))

    op.drop_table('staff_subjects')
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrollments_student_id'))
        batch_op.drop_index(batch_op.f('ix_enrollments_class_id'))

    op.drop_table('enrollments')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignments_subject_id'))
        batch_op.drop_index(batch_op.f('ix_assignments_staff_id'))
        batch_op.drop_index(batch_op.f('ix_assignments_ends_on'))
        batch_op.drop_index(batch_op.f('ix_assignments_class_id'))
        batch_op.drop_index('ix_assignments_class_current')

    op.drop_table('assignments')
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_students_school_id'))

    op.drop_table('students')
    with op.batch_alter_table('staff_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_members_status'))
        batch_op.drop_index(batch_op.f('ix_staff_members_school_id'))
        batch_op.drop_index(batch_op.f('ix_staff_members_email'))
        batch_op.drop_index(batch_op.f('ix_staff_members_department_id'))

    op.drop_table('staff_members')
    with op.batch_alter_table('school_classes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_classes_school_id'))

    op.drop_table('school_classes')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_status'))
        batch_op.drop_index(batch_op.f('ix_jobs_requested_by_id'))
        batch_op.drop_index(batch_op.f('ix_jobs_kind'))

    op.drop_table('jobs')
    with op.batch_alter_table('guardians', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_guardians_phone'))
        batch_op.drop_index(batch_op.f('ix_guardians_email'))

    op.drop_table('guardians')
    op.drop_table('subjects')
