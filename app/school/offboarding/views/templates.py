"""(being written)"""
from app.school.offboarding.views import bp  # noqa: F401
