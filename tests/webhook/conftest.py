"""Fixtures of the webhook and contact form tests: the public listener on each backend."""

from __future__ import annotations

import pytest

from .support import SOURCES, PublicServer


@pytest.fixture
def hook_settings(backend):
    """The backend's settings with two signing sources, ``shop`` and ``crm``."""
    return backend.replace(webhook_sources=SOURCES)


@pytest.fixture
def server(hook_settings):
    srv = PublicServer(hook_settings).start()
    yield srv
    srv.stop()
