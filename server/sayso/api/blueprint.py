"""The ``api`` blueprint, which its view modules register on."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
