"""(being written)"""
from app.school.offboarding.views import bp  # noqa: F401
from app.general.auth.policy import requires


@bp.get("/mine")
@requires("departures.view_own")
def my_case():
    return ""
