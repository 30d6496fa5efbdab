"""The brand portal: a brand's people register and look after their OAuth clients."""

from flask import Blueprint

bp = Blueprint("portal", __name__, url_prefix="/portal")

from sayso.portal import views  # noqa: E402,F401  (views register on bp)
