"""The REST API under ``/api/v1``, for consumers' own clients (and, later, brands)."""

from sayso.api import (  # noqa: F401  (views register on bp)
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
from sayso.api.blueprint import bp

__all__ = ["bp"]
