"""The officer console: search, verify and export the ledger; activity and checks per brand."""

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console")

from sayso.console import views  # noqa: E402,F401  (views register on bp)
