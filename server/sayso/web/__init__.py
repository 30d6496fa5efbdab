"""Pages for consumers: sign-up, sign-in, password, disclosures."""

from sayso.web import (  # noqa: F401  (views register on bp)
    about,
    account_links,
    accounts,
    brands,
    disclosures,
    home,
    language,
    my_data,
    passkeys,
    questions,
    receipts,
    sessions,
)
from sayso.web.blueprint import bp

__all__ = ["bp"]
