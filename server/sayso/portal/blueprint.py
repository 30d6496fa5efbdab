"""The ``portal`` blueprint, which its view modules register on."""

from flask import Blueprint

bp = Blueprint("portal", __name__, url_prefix="/portal")
