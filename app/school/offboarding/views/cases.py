"""(being written)"""
from app.school.offboarding.views import bp  # noqa: F401
from app.general.auth.policy import requires


@bp.get("/<int:case_id>")
@requires("departures.view")
def case(case_id: int):
    return str(case_id)
