"""(being written)"""
from app.school.offboarding.views import bp  # noqa: F401
from app.general.auth.policy import public, requires


@bp.get("/notices/<int:notice_id>")
@requires("notices.view_own")
def parent_notice(notice_id: int):
    return ""


@bp.get("/notice/<token>")
@public
def notice_by_link(token: str):
    return ""
