"""(being written)"""
from app.school.teaching.views import bp  # noqa: F401
