"""Reading units: the departments a user reaches, as plain rows for a filter's choices."""
from __future__ import annotations

from app.general.org import queries
from tests import factories


def test_department_rows_hold_the_active_departments_in_reach_with_their_school(org):
    closed = factories.make_unit("department", "Closed A", org.school_a)
    closed.is_active = False
    extra = factories.make_unit("department", "Art A", org.school_a)
    admin_a = factories.make_user("admin", unit=org.school_a)
    district_admin = factories.make_user("admin", unit=org.district)
    assert queries.department_rows(admin_a) == [(extra.id, "Art A", "School A"), (org.dept_a.id, "Maths A", "School A")]
    assert {row[0] for row in queries.department_rows(district_admin)} == {extra.id, org.dept_a.id, org.dept_b.id}
    assert queries.department_rows(factories.make_user("admin")) == []
