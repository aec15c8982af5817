"""Alembic migrations of the hcdc metadata database."""
