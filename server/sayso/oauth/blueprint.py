"""The ``oauth`` blueprint, which its view modules register on."""

from flask import Blueprint

bp = Blueprint("oauth", __name__)
