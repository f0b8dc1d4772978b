"""The language of a message, from its stripped text: lingua, restricted to the configured languages.

Why lingua's *low-accuracy* mode by default: its high-accuracy mode holds
1- to 5-gram models of every candidate language in memory, about 200 MB for
the seven default languages, which a worker process (about 200 MB already,
limit 250 MB) cannot afford. Low-accuracy mode uses trigrams only: about
16 MB, 0.1-0.3 ms per message, and on short support messages in the seven
languages it was right 104 times out of 105 (high-accuracy mode 105/105); it
is weak on one or two words, so a guess below ``MIN_CONFIDENCE`` is reported
as undetermined ("") instead of a coin toss ("Danke!" is Dutch or German to
trigrams). ``HELPLINE_LANGUAGE_ACCURACY=high`` is there for a machine with the
memory. Models load lazily, per language, on first use.

A message too short to tell borrows its subject (``sample``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from helpline.store.config import ConfigError

log = logging.getLogger("helpline.router")

MIN_CONFIDENCE = 0.5  # below: undetermined
SAMPLE_CHARS = 600  # the start of a mail tells its language; the cost grows with the length
MIN_LETTERS = 24  # fewer letters in the text than this: the subject is added to the sample


@dataclass(frozen=True)
class LanguageGuess:
    code: str  # ISO 639-1, "" = undetermined
    confidence: float
    reason: str

    def as_event(self) -> dict[str, Any]:
        return {"language": self.code, "confidence": round(self.confidence, 3), "reason": self.reason}


_lock = threading.Lock()
_detectors: dict[tuple[tuple[str, ...], str], Any] = {}


def detector(languages: tuple[str, ...], accuracy: str = "low") -> Any:
    """lingua's detector for these ISO 639-1 codes, built once per process (thread-safe)."""
    key = (tuple(sorted({c.strip().lower() for c in languages if c.strip()})), accuracy)
    found = _detectors.get(key)
    if found is not None:
        return found
    with _lock:
        if key in _detectors:
            return _detectors[key]
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        if accuracy not in ("low", "high"):
            raise ConfigError(f"HELPLINE_LANGUAGE_ACCURACY must be 'low' or 'high', not {accuracy!r}")
        langs = []
        for code in key[0]:
            iso = getattr(IsoCode639_1, code.upper(), None)
            if iso is None or len(code) != 2:
                raise ConfigError(
                    f"HELPLINE_LANGUAGES: {code!r} is not an ISO 639-1 code lingua knows (two letters, e.g. en,de,fr)"
                )
            langs.append(Language.from_iso_code_639_1(iso))
        if len(langs) < 2:
            raise ConfigError(
                "HELPLINE_LANGUAGES needs at least two languages to tell apart "
                f"(got {','.join(key[0]) or 'none'}); with one, every ticket is in it"
            )
        builder = LanguageDetectorBuilder.from_languages(*langs)
        if accuracy == "low":
            builder = builder.with_low_accuracy_mode()
        _detectors[key] = built = builder.build()
        return built


def sample(subject: str, text: str) -> str:
    """What to detect on: the text's start, with the subject when the text alone is too short."""
    head = text[:SAMPLE_CHARS]
    if sum(ch.isalpha() for ch in head) < MIN_LETTERS and subject:
        head = f"{subject[:200]}\n{head}"
    return head


def detect(
    subject: str, text: str, languages: tuple[str, ...], accuracy: str = "low", min_confidence: float = MIN_CONFIDENCE
) -> LanguageGuess:
    """The language of a message among ``languages`` ("" when unsure or when there is nothing to go by)."""
    words = sample(subject, text)
    if not any(ch.isalpha() for ch in words):
        return LanguageGuess("", 0.0, "no letters to go by")
    values = detector(languages, accuracy).compute_language_confidence_values(words)
    if not values:
        return LanguageGuess("", 0.0, "no configured language fits")
    best = values[0]
    code = best.language.iso_code_639_1.name.lower()
    if best.value < min_confidence:
        second = values[1].language.iso_code_639_1.name.lower() if len(values) > 1 else ""
        return LanguageGuess(
            "",
            best.value,
            f"undetermined: {code} at {best.value:.2f}"
            + (f", {second} at {values[1].value:.2f}" if second else "")
            + f" (below {min_confidence:g})",
        )
    return LanguageGuess(code, best.value, f"{code} at {best.value:.2f} ({accuracy}-accuracy lingua)")
