"""store/privacy/pii.py: what is masked and what is not, on the labelled set under tests/data/pii (precision and recall
printed by ``helpline pii eval`` and held here), and the edges of each detector."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from stdnum import luhn

from helpline.store.privacy import pii
from helpline.store.privacy import pii_eval

LABELLED = Path(__file__).parents[1] / "data" / "pii" / "labelled.jsonl"
HELDOUT = LABELLED.with_name("heldout.jsonl")  # written after the detectors, kept apart: see the report in git log


def test_the_labelled_set_no_false_masks_every_card_and_iban_caught():
    items = pii_eval.read(LABELLED.read_text().splitlines())
    assert len(items) >= 120 and sum(1 for i in items if not i["pii"]) >= 35  # negatives are a real part
    scores = pii_eval.evaluate(items)
    assert scores["all"].false_masks == [] and scores["all"].precision == 1.0
    assert scores["card"].misses == [] and scores["card"].tp >= 60
    assert scores["iban"].misses == [] and scores["iban"].tp >= 15
    assert scores["national_id"].recall == 1.0 and scores["secret"].recall == 1.0


def test_the_held_out_set_too():
    scores = pii_eval.evaluate(pii_eval.read(HELDOUT.read_text().splitlines()))
    assert scores["all"].false_masks == [] and scores["card"].misses == [] and scores["iban"].misses == []


def test_helpline_pii_eval_prints_precision_and_recall():
    out = subprocess.run(
        [sys.executable, "-m", "helpline.ingest.cli", "pii", "eval", str(LABELLED), "--strict"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line.split() for line in out.stdout.splitlines()[2:] if line.strip()}
    assert lines["card"][4:] == ["1.000", "1.000"] and lines["iban"][4:] == ["1.000", "1.000"]
    assert lines["all"][4] == "1.000"  # precision


def test_strict_eval_fails_on_a_false_mask(tmp_path):
    bad = tmp_path / "set.jsonl"
    bad.write_text('{"text": "card 4111 1111 1111 1111", "pii": []}\n')
    out = subprocess.run(
        [sys.executable, "-m", "helpline.ingest.cli", "pii", "eval", str(bad), "--strict"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1 and "false mask: line 1: card '4111 1111 1111 1111'" in out.stdout


def make_card(prefix: str, length: int) -> str:
    body = prefix + "7" * (length - len(prefix) - 1)
    return body + luhn.calc_check_digit(body)


@pytest.mark.parametrize(
    "prefix,length",
    [
        ("4", 16),
        ("5500", 16),
        ("2720", 16),
        ("34", 15),
        ("6011", 16),
        ("3530", 16),
        ("36", 14),
        ("6304", 19),
        ("62", 16),
    ],
)
def test_card_schemes_caught_with_the_last_four_kept(prefix, length):
    n = make_card(prefix, length)
    assert pii.mask(f"my card {n} thanks") == f"my card [card ••••{n[-4:]}] thanks"


def test_what_is_not_a_card():
    visa = make_card("4", 16)
    bad_luhn = visa[:-1] + str((int(visa[-1]) + 1) % 10)
    for text in (
        f"card {bad_luhn}",
        f"+{visa}",
        f"Order #{visa}",
        f"tracking number: {visa}",
        f"<{visa}@host>",
        f"https://x.example/{visa}/a",
        f"{visa}5",
        f"id-{visa}",
        f"IMEI {make_card('35', 15)}",
        f"{visa[:3]} {visa[3:6]} {visa[6:10]} {visa[10:]}",
    ):
        assert pii.find(text) == [], text


def test_iban_checksum_and_boundaries():
    assert pii.mask("IBAN DE89370400440532013000.") == "IBAN [IBAN DE••••3000]."
    assert pii.find("DE89370400440532013001") == []  # checksum
    assert pii.mask("to DE89 3704 0044 0532 0130 00 TODAY") == "to [IBAN DE••••3000] TODAY"
    assert pii.find("XDE89370400440532013000") == []


def test_secrets_only_in_password_lines_unless_tokens_are_opted_in():
    token = "ghp_" + "aB3" * 12
    assert pii.mask(f"the deploy used {token} yesterday") == f"the deploy used {token} yesterday"
    assert pii.mask(f"the deploy used {token} yesterday", tokens=True) == "the deploy used [token masked] yesterday"
    assert pii.mask(f"token: {token}") == "token: [secret masked]"
    assert pii.mask("Password:   hunter2  \nnext line") == "Password:   [secret masked]\nnext line"
    assert pii.mask("Reset my password please") == "Reset my password please"
    assert pii.mask("Message-ID: <CAFk3qF1234567890abcdefABCDEF123456@mail.gmail.com>", tokens=True).endswith(
        "@mail.gmail.com>"
    )


def test_mask_json_keeps_keys_and_other_types():
    value = {"text": "card 4111111111111111", "n": 4111111111111111, "list": ["IBAN GB82WEST12345698765432"]}
    assert pii.mask_json(value) == {
        "text": "card [card ••••1111]",
        "n": 4111111111111111,
        "list": ["IBAN [IBAN GB••••5432]"],
    }


def test_escaped_line_breaks_of_a_logged_text_do_not_hide_a_number():
    logged = repr(("INSERT", "Hi\n4539 1488 0343 6467\nDE89370400440532013000\tthanks"))
    masked = pii.mask(logged)
    assert "4539 1488" not in masked and "0532013000" not in masked
    assert "[card ••••6467]" in masked and "[IBAN DE••••3000]" in masked
