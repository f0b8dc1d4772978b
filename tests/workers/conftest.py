"""Fixtures of the worker tests: a help desk on each backend."""

from __future__ import annotations

import pytest

from .builders import Desk


@pytest.fixture
def desk(backend) -> Desk:
    """Intake and worker pipeline on a fresh SQLite or PostgreSQL database."""
    return Desk(backend)
