"""The brand portal: a brand's people register and look after their OAuth clients."""

from sayso.portal import views  # noqa: F401  (views register on bp)
from sayso.portal.blueprint import bp

__all__ = ["bp"]
