"""The ``console`` blueprint, which its view modules register on."""

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console")
