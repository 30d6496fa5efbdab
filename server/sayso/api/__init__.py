"""The REST API under ``/api/v1``, for consumers' own clients (and, later, brands)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from sayso.api import (  # noqa: E402,F401  (views register on bp)
    brands,
    contacts,
    disclosures,
    grants,
    me,
    openapi,
    profile,
    questions,
    rights,
)
