"""Pages for consumers: sign-up, sign-in, password, disclosures."""

from flask import Blueprint

bp = Blueprint("web", __name__)

from sayso.web import (  # noqa: E402,F401  (views register on bp)
    accounts,
    brands,
    disclosures,
    home,
    my_data,
    questions,
)
