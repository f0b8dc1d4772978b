"""Text similarity of customer messages: MinHash signatures and LSH band keys. Pure functions, no I/O.

Why MinHash and not TF-IDF cosine: a signature is a fixed 96 numbers that can
be stored next to the ticket and compared without any corpus statistics, and
its LSH band keys turn "which recent tickets look like this text?" into an
indexed equality lookup in the database (``store.similarity_state``), which
works the same from every worker process and host and needs no index rebuilt
in memory. The price is lexical similarity only: two customers describing one
outage in entirely different words are not grouped.

Features are the distinct word stems of the message's new text (quotes and
signature already stripped by ingest), stop words removed. Reference numbers
(three digits or more: order, invoice, ticket ids) are kept apart as well: two
messages that both carry such numbers and share none are about different
things however alike the rest reads ("my order #4711 has not arrived" and
"my order #4712 has not arrived"), so ``near_duplicate`` says no.

The estimate of the Jaccard similarity from 96 hashes has a standard error of
about 0.05 around 0.5; thresholds are set with that in mind.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

NUM_PERM = 96
BANDS, ROWS = 32, 3  # P(candidate) = 1-(1-J^3)^32: 0.95 at J=0.45, 0.03 at J=0.1
assert BANDS * ROWS == NUM_PERM
MIN_FEATURES = 4  # fewer distinct words ("ok", "thanks!") say nothing about the problem

_rng = np.random.default_rng(0x48454C50)  # fixed: signatures must agree across processes and releases
_A = (_rng.integers(1, 2**63, NUM_PERM, dtype=np.uint64) | np.uint64(1)).reshape(1, NUM_PERM)
_B = _rng.integers(0, 2**63, NUM_PERM, dtype=np.uint64).reshape(1, NUM_PERM)
_SHIFT = np.uint64(32)

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_REF = re.compile(r"\d{3,}")
_STOP = frozenset(
    """
a about above after again against all am an and any are as at be because been before being below between both but
by can cannot could did do does doing down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on once
only or other our ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves hi hello dear thanks thank regards please
best cheers also get got still yet im ive dont cant wont isnt doesnt didnt its let us
""".split()
)
# "down", "not", "cannot" are stop words for similarity only: they carry little about *which* problem it is.


def _stem(word: str) -> str:
    """A crude suffix strip: enough to make "crashes", "crashed" and "crashing" one feature."""
    for suffix in ("ingly", "edly", "ing", "ed", "es", "ly", "s"):
        if len(word) - len(suffix) >= 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


@dataclass(frozen=True)
class Fingerprint:
    signature: bytes  # NUM_PERM little-endian uint32
    refs: frozenset[str]  # reference numbers in the text
    size: int  # distinct features

    @property
    def bands(self) -> tuple[int, ...]:
        """The LSH band keys, worked out when asked: only the incident grouper uses them, from the stored
        signature, so the pipeline does not hash 32 bands per message for nothing."""
        return band_keys(self.signature)

    def as_array(self) -> np.ndarray:
        return np.frombuffer(self.signature, dtype="<u4")


def features(text: str) -> tuple[set[str], frozenset[str]]:
    words = [w.lower() for w in _WORD.findall(text or "")]
    refs = frozenset(w.lstrip("0") or "0" for w in words if _REF.fullmatch(w))
    feats = {_stem(w) for w in words if w not in _STOP and (len(w) > 1 or w.isdigit())}
    return feats, refs


def _hash64(feature: str) -> int:
    return int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")


def _band_key(i: int, chunk: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(bytes([i]) + chunk, digest_size=8).digest(), "little", signed=True) >> 1


def fingerprint(text: str) -> Fingerprint | None:
    """The message's signature (band keys on demand); None for a text too short to compare."""
    feats, refs = features(text)
    if len(feats) < MIN_FEATURES:
        return None
    x = np.fromiter((_hash64(f) for f in feats), dtype=np.uint64, count=len(feats)).reshape(-1, 1)
    with np.errstate(over="ignore"):  # multiply-shift hashing wraps modulo 2**64 on purpose
        mins = ((x * _A + _B) >> _SHIFT).min(axis=0).astype("<u4")
    sig = mins.tobytes()
    return Fingerprint(sig, refs, len(feats))


def band_keys(signature: bytes) -> tuple[int, ...]:
    """The LSH band keys of a signature: ``BANDS`` signed 63-bit ints, one per band of ``ROWS`` hashes."""
    width = ROWS * 4
    return tuple(_band_key(i, signature[i * width : (i + 1) * width]) for i in range(BANDS))


def similarity(a: bytes | np.ndarray, b: bytes | np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures (0..1)."""
    x = a if isinstance(a, np.ndarray) else np.frombuffer(a, dtype="<u4")
    y = b if isinstance(b, np.ndarray) else np.frombuffer(b, dtype="<u4")
    return float(np.count_nonzero(x == y)) / NUM_PERM


def refs_conflict(a: frozenset[str], b: frozenset[str]) -> bool:
    """Both name reference numbers and none in common: different orders, invoices or tickets."""
    return bool(a) and bool(b) and not (a & b)


def parse_refs(text: str) -> frozenset[str]:
    return frozenset(text.split()) if text else frozenset()
