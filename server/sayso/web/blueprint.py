"""The ``web`` blueprint, which its view modules register on."""

from flask import Blueprint

bp = Blueprint("web", __name__)
