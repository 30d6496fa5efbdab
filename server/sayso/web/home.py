"""The landing page."""

from flask import render_template

from sayso.fields import FIELDS
from sayso.web.blueprint import bp


@bp.get("/")
def index():
    """What Sayso is, and the way in."""
    return render_template("index.html", fields=FIELDS.values())
