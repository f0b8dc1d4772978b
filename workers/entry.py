"""Module that ``dramatiq`` imports in each worker process (``helpline worker``)."""
from __future__ import annotations

from helpline.store import config

from .broker import setup
from helpline.store.logs import configure_logging

_settings = config.ensure_secret_key(config.load())
configure_logging(_settings)
broker = setup(_settings)
