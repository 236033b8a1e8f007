"""The teaching pages: terms and closures, the timetable, the lesson ledger and covers, hours, pay schemes and
bonuses, pay runs, and the teacher's own hours and pay statements."""
from flask import Blueprint

bp = Blueprint("teaching", __name__, url_prefix="/teaching")


@bp.record_once
def _follow_class_changes(_state):
    """The timetable and the ledger follow a class's change of teacher (see services/reassign.py)."""
    from app.school.teaching.services import reassign

    reassign.install()


def _register_profile_card() -> None:
    from app.school.staff.views.profile import register_profile_card
    from app.school.teaching.dashboard import profile_card

    register_profile_card("teaching/_profile_card.html", order=40, context=profile_card)


_register_profile_card()

# Navigation (each registered by the module that defines the page): "Teaching" → teaching.index (calendar.py),
# "Pay" → teaching.pay_runs (pay.py), "My hours" → teaching.my_hours (hours.py), "My pay" → teaching.my_pay (pay.py).

from app.school.teaching.views import (  # noqa: E402,F401  (each module adds its routes to bp)
    calendar,
    covers,
    hours,
    ledger,
    pay,
    schemes,
    timetable,
)
