"""The officer console: search, verify and export the ledger; activity and checks per brand."""

from sayso.console import views  # noqa: F401  (views register on bp)
from sayso.console.blueprint import bp

__all__ = ["bp"]
