"""Module that ``dramatiq`` imports in each worker process (``helpline worker``)."""

from __future__ import annotations

import os

from helpline.store import config

from helpline.workers.broker import setup
from helpline.store.logs import configure_logging

_settings = config.ensure_secret_key(config.load())
configure_logging(_settings)
broker = setup(_settings)

# Load the category model now, not on the first message (importing
# scikit-learn and reading the model takes a second or two).
from helpline.router.categories.category import load_active_model, models_dir_for  # noqa: E402

load_active_model(models_dir_for(_settings))

# Likewise the Public Suffix List (DMARC alignment, the block list): 50-140 ms on the first message otherwise.
from helpline.store import domains  # noqa: E402

domains.warm()

# Tell `helpline worker` (ingest/worker_host.py) that this instance got through its start: it kills and
# restarts one that has not within HELPLINE_WORKER_START_TIMEOUT_S.
_ready = os.environ.get("HELPLINE_WORKER_READY_FILE")
if _ready:
    with open(_ready, "a"):
        pass
