"""The OAuth 2 authorization server (Authlib) and its endpoints."""

from flask import Blueprint

bp = Blueprint("oauth", __name__)

from sayso.oauth import views  # noqa: E402,F401  (views register on bp)
