"""The departure flow's beat task: access that is due is ended and cases move along the steps needing nobody."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="offboarding.tick")
def tick() -> dict:
    from app.school.offboarding.services.access import tick as run

    return run()
