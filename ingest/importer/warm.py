"""Imported once by the import's forkserver, before it forks the parser processes.

Why: each parser process imported scikit-learn, skops, lingua and VADER on its
first message, about 2 s of CPU each, on a machine with two cores. Imported
here, the forkserver pays it once and every parser starts with the modules in
(copy-on-write) memory. Only imports: no model is loaded and no thread or
connection is started, so the fork stays safe; a library missing here (no
embeddings extra) is skipped, and its stage loads it as before.
"""

from __future__ import annotations

import importlib

_MODULES = (
    "helpline.ingest.email.normalise",
    "helpline.workers.pipeline",
    "helpline.workers.history_import",
    "sklearn.pipeline",
    "sklearn.linear_model",
    "sklearn.feature_extraction.text",
    "skops.io",
    "lingua",
    "vaderSentiment.vaderSentiment",
)

for _name in _MODULES:
    try:
        importlib.import_module(_name)
    except ImportError:
        pass
