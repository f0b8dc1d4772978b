"""Sentiment of a customer message: VADER's compound score, from -1 (angry) to +1 (pleased).

German and French are scored by ``sentiment_lexicon`` (the polarity lexicons of
textblob-de and textblob-fr, on the same compound scale), Spanish by the same
module with the lexicon Helpline ships; other languages get no score as
described below.

VADER (the ``vaderSentiment`` package, which ships its lexicon, so it works
offline) is a lexicon and rules tuned for short English text: negation,
"very", capitals and exclamation marks count. It knows no other language, so
a message detected as another language gets no score (``None``): the
negative-sentiment priority rule and the ``sentiment_dropped`` event then do
not apply to it, rather than reading German as neutral English. A message
whose language is undetermined (a word or two) is scored: English lexicon
words in it still say something, and unknown words count as neutral.

``dropped`` is the event's decision: a sharp negative turn is a message at or
below the threshold after an earlier message of the same ticket that was
neutral or positive.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

SCORED_LANGUAGES = ("en", "")  # "" = undetermined; VADER
LEXICON_LANGUAGES = ("de", "fr", "es")  # sentiment_lexicon
SAMPLE_CHARS = 1000  # VADER's cost grows faster than the length; the new text of a message is rarely longer
NEUTRAL_FLOOR = -0.05  # VADER's own band: compound above -0.05 is neutral or positive


@dataclass(frozen=True)
class Sentiment:
    compound: float
    negative: float
    positive: float

    def as_event(self) -> dict[str, Any]:
        return {"compound": self.compound, "neg": self.negative, "pos": self.positive}


_lock = threading.Lock()
_analyzer: Any = None


def analyzer() -> Any:
    """One VADER analyzer per process (loading the lexicon takes ~30 ms and ~5 MB)."""
    global _analyzer
    if _analyzer is None:
        with _lock:
            if _analyzer is None:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                _analyzer = SentimentIntensityAnalyzer()
    return _analyzer


def score(text: str, language: str) -> Sentiment | None:
    """VADER's scores of ``text``; None for a language VADER cannot read, or no text."""
    if not text.strip():
        return None
    if language in LEXICON_LANGUAGES:
        from helpline.router.sentiment_lexicon import polarity_scores

        s = polarity_scores(text[:SAMPLE_CHARS], language)
        return Sentiment(round(s["compound"], 4), round(s["neg"], 4), round(s["pos"], 4))
    if language not in SCORED_LANGUAGES:
        return None
    s = analyzer().polarity_scores(text[:SAMPLE_CHARS])
    return Sentiment(round(s["compound"], 4), round(s["neg"], 4), round(s["pos"], 4))


def dropped(previous: float | None, current: float | None, threshold: float) -> bool:
    """A sharp negative turn: now at or below ``threshold``, before neutral or better."""
    return previous is not None and current is not None and current <= threshold and previous > NEUTRAL_FLOOR
