"""Sentiment of German, French and Spanish text from polarity lexicons that ship with Helpline's dependencies
or with Helpline.

VADER reads English only. For German, textblob-de ships the German Polarity
Lexicon (``de-sentiment.xml``, about 8,000 word forms with a polarity in
[-1, 1]); for French, textblob-fr ships pattern's lexicon of French adjectives
(``fr-sentiment.xml``, about 5,000 forms). Both packages are on PyPI under MIT
and their data is read from the installed package: nothing is downloaded.

For Spanish no usable packaged lexicon was found (SentiLeak pins spaCy < 3.5
and numpy < 1.22 and is GPL/LGPL; sentiment-analysis-spanish is a pickled
naive Bayes model of 30 MB; AFINN has no Spanish), so Helpline ships its own:
``router/models/es-sentiment.csv``, about 140 words and stems of support mail
written for Helpline (Apache-2.0), where ``decepcionad*`` matches every ending
and accents are ignored, scored the same way.

The score follows VADER's shape so that one threshold means the same in every
language: each lexicon word's polarity, scaled to VADER's valence range
(``SCALE``), flipped and damped by a negation among the three words before it
(VADER's factor), raised by an intensifier right before it; the sum is
normalised to a compound in (-1, 1) with VADER's ``x / sqrt(x^2 + 15)``.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
import xml.etree.ElementTree as ET
from importlib.util import find_spec
from pathlib import Path
from typing import Mapping

SCALE = 2.5  # lexicon polarity 1.0 ~ a strong VADER word (VADER's valences run to about 3-4)
NEGATION_FACTOR = -0.74  # VADER's N_SCALAR
BOOST = 0.3
ALPHA = 15.0

LEXICONS = {
    "de": ("textblob_de", "data/de-sentiment.xml"),
    "fr": ("textblob_fr", "fr-sentiment.xml"),
    "es": ("", "models/es-sentiment.csv"),
}  # "": shipped in helpline.router
FOLD_ACCENTS = frozenset({"es"})
NEGATIONS = {
    "de": frozenset({"nicht", "kein", "keine", "keinen", "keinem", "keiner", "nie", "niemals", "nichts", "ohne"}),
    "fr": frozenset({"pas", "jamais", "aucun", "aucune", "rien", "plus", "ni", "sans"}),
    "es": frozenset({"no", "nunca", "jamas", "ni", "nada", "sin", "tampoco", "ningun", "ninguna", "ninguno", "nadie"}),
}
BOOSTERS = {
    "de": frozenset({"sehr", "extrem", "total", "absolut", "wirklich", "völlig", "äußerst", "echt", "so"}),
    "fr": frozenset({"très", "vraiment", "extrêmement", "totalement", "trop", "tellement", "si", "absolument"}),
    "es": frozenset(
        {
            "muy",
            "realmente",
            "totalmente",
            "extremadamente",
            "super",
            "tan",
            "demasiado",
            "absolutamente",
            "sumamente",
            "completamente",
            "increiblemente",
        }
    ),
}
_STEM_MIN = 3  # a stem matches words at least this long
_WORD = re.compile(r"\w+", re.UNICODE)
_lock = threading.Lock()
_loaded: dict[str, Mapping[str, float]] = {}


def languages() -> tuple[str, ...]:
    return tuple(LEXICONS)


def data_path(package: str, name: str) -> Path:
    """A data file of an installed package, found without importing it (textblob-de's ``__init__``
    imports parts of textblob that newer textblob releases no longer have)."""
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"the {package} package is not installed: pip install it (a Helpline dependency) "
            "for sentiment in its language"
        )
    return Path(list(spec.submodule_search_locations)[0]) / name


def fold(word: str) -> str:
    """Lower case without accents (ñ kept): ``decepción`` -> ``decepcion``."""
    decomposed = unicodedata.normalize("NFD", word.lower().replace("ñ", "\0"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("\0", "ñ")


def _read_csv_lexicon(path: Path) -> tuple[dict[str, float], dict[str, float]]:
    """(exact forms, stems) of a ``word,polarity`` file; ``#`` lines are comments, ``stem*`` matches endings."""
    exact: dict[str, float] = {}
    stems: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, value = line.partition(",")
        word = fold(word.strip())
        if word.endswith("*"):
            stems[word[:-1]] = float(value)
        else:
            exact[word] = float(value)
    return exact, stems


_stems: dict[str, Mapping[str, float]] = {}


def lexicon(language: str) -> Mapping[str, float]:
    """word form (lower case) -> mean polarity, loaded once per process from the package's file."""
    got = _loaded.get(language)
    if got is not None:
        return got
    with _lock:
        if language not in _loaded:
            package, name = LEXICONS[language]
            if not package:
                exact, stems = _read_csv_lexicon(Path(__file__).resolve().parent / name)
                _stems[language] = stems
                _loaded[language] = exact
                return exact
            sums: dict[str, list[float]] = {}
            with open(data_path(package, name), "rb") as fh:
                for _, el in ET.iterparse(fh):
                    if el.tag == "word" and el.get("form") and el.get("polarity") is not None:
                        sums.setdefault(el.get("form", "").lower(), []).append(float(el.get("polarity", "0")))
                    el.clear()
            _loaded[language] = {w: sum(v) / len(v) for w, v in sums.items() if any(v)}
    return _loaded[language]


def polarity_scores(text: str, language: str) -> dict[str, float]:
    """VADER-shaped scores (compound, neg, pos) of ``text`` in ``language`` ("de", "fr" or "es")."""
    words = _WORD.findall(fold(text) if language in FOLD_ACCENTS else text.lower())
    lex = lexicon(language)
    stems = _stems.get(language)
    negations, boosters = NEGATIONS[language], BOOSTERS[language]
    total = pos = neg = 0.0
    for i, word in enumerate(words):
        p = lex.get(word)
        if p is None and stems:
            p = next((stems[word[:n]] for n in range(len(word), _STEM_MIN - 1, -1) if word[:n] in stems), None)
        if not p:
            continue
        v = p * SCALE
        if i and words[i - 1] in boosters:
            v += BOOST * SCALE * (1 if v > 0 else -1)
        if any(w in negations for w in words[max(0, i - 3) : i]):
            v *= NEGATION_FACTOR
        total += v
        if v > 0:
            pos += v
        else:
            neg -= v
    if "!" in text and total:  # VADER adds emphasis for exclamation marks, up to four
        total += min(text.count("!"), 4) * 0.292 * (1 if total > 0 else -1)
    compound = total / math.sqrt(total * total + ALPHA) if total else 0.0
    mass = pos + neg + max(0, len(words) - (pos > 0) - (neg > 0)) * 0.5 or 1.0
    return {"compound": compound, "neg": neg / mass, "pos": pos / mass}
