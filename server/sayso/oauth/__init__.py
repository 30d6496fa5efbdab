"""The OAuth 2 authorization server (Authlib) and its endpoints."""

from sayso.oauth import views  # noqa: F401  (views register on bp)
from sayso.oauth.blueprint import bp

__all__ = ["bp"]
