"""Marshmallow schemas for everything that comes in, and what goes out."""
