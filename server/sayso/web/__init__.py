"""Pages for consumers: sign-up, sign-in, password, disclosures."""

from sayso.web import (  # noqa: F401  (views register on bp)
    accounts,
    brands,
    disclosures,
    home,
    my_data,
    questions,
    receipts,
)
from sayso.web.blueprint import bp

__all__ = ["bp"]
