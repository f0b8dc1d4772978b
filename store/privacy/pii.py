"""Personal data in free text: find it and mask it where text leaves for a person.

A pure helper (no I/O) every layer may use: the Slack sender before posting,
the API before answering, the log formatters before writing, webhook events
and report exports. The pipeline stores texts as received; masking happens on
the way out, so an agent with the ``see_pii`` permission can still reveal a
message (an audited event).

What is found, each confirmed by its check digits with python-stdnum where
the format has them, so that numbers agents need (order, invoice and tracking
numbers, phone numbers, Message-IDs) are left alone:

- ``card``: payment card numbers, 13 to 19 digits (spaces or dashes between
  groups allowed), Luhn-valid and with the issuer prefix and length of a
  real card scheme; masked to the last four digits.
- ``iban``: IBANs with the country's length and the mod-97 checksum; masked
  to the last four characters.
- ``national_id``: US SSNs (dashed), and the EU numbers whose format is
  distinctive (Spanish DNI/NIE, Italian codice fiscale, Finnish HETU,
  French NIR, Belgian national number, Swedish personnummer, Danish CPR, UK
  National Insurance number), each checked; the bare-digit ones (German
  Steuer-IdNr, Dutch BSN, Polish PESEL) only right after their label. US SSNs
  keep their last four.
- ``secret``: the value of a ``password: …``-style line (password, passwort,
  pin, secret, api key, token … followed by ``:`` or ``=``).
- ``token``: API-token-like strings (known prefixes such as ``sk_live_``,
  ``ghp_``, ``xoxb-``, ``AKIA``; long random-looking strings). Only with
  ``tokens=True`` (``HELPLINE_PII_MASK_TOKENS``): elsewhere in text they are
  more often harmless ids than secrets.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from stdnum import iban as _iban
from stdnum import luhn
from stdnum.be import nn as _be_nn
from stdnum.de import idnr as _de_idnr
from stdnum.dk import cpr as _dk_cpr
from stdnum.es import dni as _es_dni
from stdnum.es import nie as _es_nie
from stdnum.fi import hetu as _fi_hetu
from stdnum.fr import nir as _fr_nir
from stdnum.it import codicefiscale as _it_cf
from stdnum.nl import bsn as _nl_bsn
from stdnum.pl import pesel as _pl_pesel
from stdnum.se import personnummer as _se_pnr
from stdnum.us import ssn as _us_ssn

KINDS = ("card", "iban", "national_id", "secret", "token")
DOT = "•"


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    label: str = ""  # which scheme or format (visa, DE, us_ssn …), for reports and tests

    def masked(self, text: str) -> str:
        raw = text[self.start : self.end]
        if self.kind == "card":
            return f"[card {DOT * 4}{_alnum(raw)[-4:]}]"
        if self.kind == "iban":
            return f"[IBAN {_alnum(raw)[:2].upper()}{DOT * 4}{_alnum(raw)[-4:]}]"
        if self.kind == "national_id":
            return f"[ID {DOT * 3}-{DOT * 2}-{_alnum(raw)[-4:]}]" if self.label == "us_ssn" else "[ID masked]"
        if self.kind == "secret":
            return "[secret masked]"
        return "[token masked]"


def _alnum(s: str) -> str:
    return "".join(c for c in s if c.isalnum())


# ---- payment cards ------------------------------------------------------------------
# (prefix ranges as (low, high) of equal-length digit strings, allowed lengths)
_SCHEMES: list[tuple[str, list[tuple[str, str]], tuple[int, ...]]] = [
    ("visa", [("4", "4")], (13, 16, 19)),
    ("mastercard", [("51", "55"), ("2221", "2720")], (16,)),
    ("amex", [("34", "34"), ("37", "37")], (15,)),
    ("discover", [("6011", "6011"), ("644", "649"), ("65", "65"), ("622126", "622925")], (16, 17, 18, 19)),
    ("jcb", [("3528", "3589")], (16, 17, 18, 19)),
    ("diners", [("300", "305"), ("36", "36"), ("38", "39")], (14, 15, 16, 17, 18, 19)),
    ("unionpay", [("62", "62"), ("81", "81")], (16, 17, 18, 19)),
    (
        "maestro",
        [
            ("5018", "5018"),
            ("5020", "5020"),
            ("5038", "5038"),
            ("5893", "5893"),
            ("6304", "6304"),
            ("6759", "6759"),
            ("6761", "6763"),
        ],
        (13, 14, 15, 16, 17, 18, 19),
    ),
    ("mir", [("2200", "2204")], (16, 17, 18, 19)),
]
# Digits in groups separated by single spaces or dashes; not part of a longer word, number, address, path or
# phone number (a leading "+"), nor a Message-ID's or URL's part.
_CARD = re.compile(r"(?<![\w+#@./=-])\d(?:[ -]?\d){12,18}(?![\w@]|[./-]\w|-\d)")


def card_scheme(digits: str) -> str:
    """The card scheme whose prefix and length ``digits`` has and whose Luhn check it passes, or ""."""
    if not digits.isdigit() or not 13 <= len(digits) <= 19 or not luhn.is_valid(digits):
        return ""
    for name, ranges, lengths in _SCHEMES:
        if len(digits) in lengths and any(lo <= digits[: len(lo)] <= hi for lo, hi in ranges):
            return name
    return ""


def _grouped_like_a_card(raw: str) -> bool:
    """Separated digits must be grouped as cards are printed (4-4-4-4, 4-6-5, 4-4-4-4-3 …), not as a
    phone number or a reference (3-3-4, 2-2-2 …)."""
    groups = re.split(r"[ -]", raw)
    if len(groups) == 1:
        return True
    sizes = [len(g) for g in groups]
    return sizes[0] == 4 and all(s in (4, 5, 6, 3) for s in sizes[1:]) and len(set(raw) & {" ", "-"}) == 1


def _cards(text: str) -> list[Finding]:
    out = []
    for m in _CARD.finditer(text):
        raw = m.group(0)
        digits = re.sub(r"[ -]", "", raw)
        scheme = card_scheme(digits)
        if scheme and _grouped_like_a_card(raw) and not _labelled_as_reference(text, m.start()):
            out.append(Finding("card", m.start(), m.end(), scheme))
    return out


_REFERENCE_LABEL = re.compile(
    r"(?i)(order|invoice|tracking|shipment|parcel|ticket|case|reference|ref|imei|"
    r"serial|sn|awb|po|customer|account|member|bestell|rechnung|sendung|auftrag|kunden)"
    r"[\s._-]*(?:no|nr|nummer|number|num|id|#)?[\s.:#-]*$"
)


def _labelled_as_reference(text: str, start: int) -> bool:
    """A number written right after "Order no.", "Tracking #", "IMEI:" … is that, not a card (the label ends
    at most a few characters before the number)."""
    return bool(_REFERENCE_LABEL.search(text[max(0, start - 30) : start]))


# ---- IBAN ---------------------------------------------------------------------------------
_IBAN = re.compile(r"(?<![\w/])([A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]){11,32})")


def _iban_valid(compact: str) -> bool:
    """The country's length and structure and the mod-97 checksum. Not the national bank-code checks: an IBAN
    of a bank python-stdnum does not list is still someone's account."""
    return bool(_iban.validate(compact, check_country=False))


def _ibans(text: str) -> list[Finding]:
    out = []
    for m in _IBAN.finditer(text):
        raw = m.group(1)
        # The longest run of whole groups that is a valid IBAN: a word in capitals or more digits may follow.
        ends = [i + 1 for i, c in enumerate(raw) if c.isalnum() and (i + 1 == len(raw) or raw[i + 1] == " ")]
        for end in reversed(ends):
            stop = m.start(1) + end
            if stop < len(text) and text[stop].isalnum():
                continue
            if _safe_valid(_iban_valid, _alnum(raw[:end]).upper()):
                out.append(Finding("iban", m.start(1), stop, raw[:2].upper()))
                break
    return out


# ---- national identifiers ---------------------------------------------------------------------
_NATIONAL: list[tuple[str, re.Pattern[str], Callable[[str], bool]]] = [
    ("us_ssn", re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])"), _us_ssn.is_valid),
    ("es_dni", re.compile(r"(?<![\w-])\d{8}-?[A-Z](?![\w-])"), _es_dni.is_valid),
    ("es_nie", re.compile(r"(?<![\w-])[XYZ]-?\d{7}-?[A-Z](?![\w-])"), _es_nie.is_valid),
    ("it_cf", re.compile(r"(?<![\w-])[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z](?![\w-])"), _it_cf.is_valid),
    ("fi_hetu", re.compile(r"(?<![\w-])\d{6}[-+A-F]\d{3}[0-9A-Y](?![\w-])"), _fi_hetu.is_valid),
    (
        "fr_nir",
        re.compile(r"(?<![\w+-])[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}(?![\w-])"),
        _fr_nir.is_valid,
    ),
    ("be_nn", re.compile(r"(?<![\w-])\d{2}\.\d{2}\.\d{2}-\d{3}\.\d{2}(?![\w-])"), _be_nn.is_valid),
    ("se_pnr", re.compile(r"(?<![\w-])(?:\d{2})?\d{6}[-+]\d{4}(?![\w-])"), _se_pnr.is_valid),
    ("dk_cpr", re.compile(r"(?<![\w-])\d{6}-\d{4}(?![\w-])"), _dk_cpr.is_valid),
    (
        "gb_nino",
        re.compile(
            r"(?<![\w-])(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?"
            r"\d{2} ?[A-D](?![\w-])"
        ),
        lambda s: True,
    ),
]
_LABELLED_NATIONAL: list[tuple[str, re.Pattern[str], Callable[[str], bool]]] = [
    (
        "de_idnr",
        re.compile(
            r"(?i)(?:steuer[- ]?id(?:entifikationsnummer)?|id[- ]?nr|tax[- ]?id)[\s.:#-]*"
            r"(\d{2} ?\d{3} ?\d{3} ?\d{3})(?!\d)"
        ),
        _de_idnr.is_valid,
    ),
    (
        "nl_bsn",
        re.compile(r"(?i)(?:bsn|burgerservicenummer)[\s.:#-]*(\d{4}\.?\d{2}\.?\d{3}|\d{9})(?!\d)"),
        _nl_bsn.is_valid,
    ),
    ("pl_pesel", re.compile(r"(?i)pesel[\s.:#-]*(\d{11})(?!\d)"), _pl_pesel.is_valid),
    ("us_ssn", re.compile(r"(?i)(?:ssn|social security(?: number| no\.?)?)[\s.:#-]*(\d{9})(?!\d)"), _us_ssn.is_valid),
]


def _nationals(text: str) -> list[Finding]:
    out = []
    for label, pattern, valid in _NATIONAL:
        for m in pattern.finditer(text):
            if _safe_valid(valid, m.group(0)):
                out.append(Finding("national_id", m.start(), m.end(), label))
    for label, pattern, valid in _LABELLED_NATIONAL:
        for m in pattern.finditer(text):
            if _safe_valid(valid, m.group(1)):
                out.append(Finding("national_id", m.start(1), m.end(1), label))
    return out


def _safe_valid(valid: Callable[[str], bool], value: str) -> bool:
    try:
        return bool(valid(value))
    except Exception:  # a checker's surprise on odd input is a "no", never a crash on the way out
        return False


# ---- secrets and tokens -------------------------------------------------------------------------
_SECRET_WORDS = (
    r"passwor[dt]s?|passwd|pwd|pw|pass ?phrase|pass|pin(?: ?code)?|kennwort|mot de passe|"
    r"contrase[nñ]a|secret|client[ _-]?secret|api[ _-]?key|access[ _-]?key|token|otp|"
    r"one[- ]time code|security code|cvv|cvc"
)
_SECRET_LINE = re.compile(
    rf"(?im)^[ \t>*_-]*(?:(?:my|the|new|old|your|current)\s+)?(?:{_SECRET_WORDS})"
    r"\s*[:=][ \t]*(\S[^\n]*)$"
)
_SECRET_FIELD = re.compile(rf"(?i)\b(?:{_SECRET_WORDS})\s*[:=][ \t]*([^\s,;]+(?:[ \t]+[^\s,;]+)*)")
_KNOWN_TOKEN = re.compile(
    r"(?<![\w-])(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|ghp_[A-Za-z0-9]{30,}|"
    r"gh[ousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}|xox[abposr]-[A-Za-z0-9-]{10,}|"
    r"AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20,}|hlk_[A-Za-z0-9_-]{20,}|"
    r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"
)
_LONG_RANDOM = re.compile(r"(?<![\w@<./=?&%:-])[A-Za-z0-9_-]{32,}(?![\w@>.])")


def _entropy(s: str) -> float:
    counts = {c: s.count(c) for c in set(s)}
    return -sum(n / len(s) * math.log2(n / len(s)) for n in counts.values())


def _secrets(text: str) -> list[Finding]:
    out = [Finding("secret", m.start(1), m.end(1), "line") for m in _SECRET_LINE.finditer(text) if m.group(1).strip()]
    out += [Finding("secret", m.start(1), m.end(1), "field") for m in _SECRET_FIELD.finditer(text)]
    return out


def _tokens(text: str) -> list[Finding]:
    out = [Finding("token", m.start(), m.end(), "known") for m in _KNOWN_TOKEN.finditer(text)]
    for m in _LONG_RANDOM.finditer(text):
        s = m.group(0)
        if any(c.isdigit() for c in s) and any(c.isalpha() for c in s) and _entropy(s) >= 4.0:
            out.append(Finding("token", m.start(), m.end(), "random"))
    return out


_ESCAPED_BREAK = re.compile(r"\\[nrt]")


# ---- the API ------------------------------------------------------------------------------------
def find(text: str, *, tokens: bool = False) -> list[Finding]:
    """Every piece of personal data in ``text``, in order, overlaps resolved to the first and longest."""
    if not text:
        return []
    # Escaped line breaks (a JSON or repr() of a text in a log line) count as the white space they stand for;
    # replaced by two spaces, so every offset stays that of ``text``.
    scan = _ESCAPED_BREAK.sub("  ", text) if "\\" in text else text
    found = _secrets(scan) + _cards(scan) + _ibans(scan) + _nationals(scan) + (_tokens(scan) if tokens else [])
    found.sort(key=lambda f: (f.start, -(f.end - f.start)))
    out: list[Finding] = []
    for f in found:
        if out and f.start < out[-1].end:
            continue
        out.append(f)
    return out


def mask(text: str, *, tokens: bool = False) -> str:
    """``text`` with every finding replaced by its mask (``[card ••••1111]`` …)."""
    if not text:
        return text
    found = find(text, tokens=tokens)
    if not found:
        return text
    parts, at = [], 0
    for f in found:
        parts.append(text[at : f.start])
        parts.append(f.masked(text))
        at = f.end
    parts.append(text[at:])
    return "".join(parts)


def has_pii(text: str, *, tokens: bool = False) -> bool:
    return bool(find(text, tokens=tokens))


def mask_json(value: Any, *, tokens: bool = False) -> Any:
    """Every string inside a JSON-like value masked (dict keys kept)."""
    if isinstance(value, str):
        return mask(value, tokens=tokens)
    if isinstance(value, dict):
        return {k: mask_json(v, tokens=tokens) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_json(v, tokens=tokens) for v in value]
    return value
