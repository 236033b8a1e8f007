"""Placeholder: replaced by the org module's views."""
from flask import Blueprint

bp = Blueprint("org", __name__, url_prefix="/org")
