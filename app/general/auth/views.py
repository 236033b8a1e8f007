"""Placeholder: replaced by the auth module's views."""
from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")
