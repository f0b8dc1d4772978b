"""The SMS channel's plain functions: segments, splitting, keywords, numbers, the envelope."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from helpline.ingest.intake import Rejected
from helpline.ingest.channels.twilio_sms import build_envelope, normalise_number
from helpline.notifier.sms.sms_sender import sms_payload
from helpline.notifier.sms.sms_text import MAX_BODY, segments, split_body
from helpline.workers.inbound.sms_stage import keyword_action

from ..support.fake_twilio import inbound_form


# ---- segments -------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, encoding, units, count",
    [
        ("", "GSM-7", 0, 1),
        ("Your ticket is HL-2026-000001.", "GSM-7", 30, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("Prix: 10€ [promo]", "GSM-7", 20, 1),  # € [ ] take two septets each
        ("€" * 80, "GSM-7", 160, 1),
        ("€" * 81, "GSM-7", 162, 2),
        ("Grüße aus Zürich, mañana?", "GSM-7", 25, 1),  # ü ß ñ are in the GSM-7 alphabet
        ("Ça coûte 5 €", "UCS-2", 12, 1),  # û is not: the whole text goes UCS-2
    ],
)
def test_segments(text, encoding, units, count):
    got = segments(text)
    assert (got.encoding, got.units, got.count) == (encoding, units, count)


def test_ucs2_segments_count_utf16_units_and_never_split_a_surrogate_pair():
    assert segments("Спасибо").encoding == "UCS-2"
    assert segments("x" * 69 + "ж") == segments("ж" * 70)
    assert segments("ж" * 70).count == 1 and segments("ж" * 71).count == 2
    assert segments("ж" * 134).count == 2 and segments("ж" * 135).count == 3
    emoji = segments("😀" * 35)  # 70 code units
    assert (emoji.units, emoji.count) == (70, 1)
    # 33 emoji fill 66 units of a 67-unit part; the 34th does not fit half-way
    assert segments("😀" * 36).count == 2
    assert segments("a" + "😀" * 33 + "😀" * 34).count == 3


def test_gsm7_escape_pair_is_not_split_across_segments():
    # 152 plain septets then "€" (2 septets) does not fit in the first 153-septet part
    assert segments("a" * 152 + "€" + "a" * 10).count == 2
    assert segments("a" * 152 + "€" + "a" * 152).count == 3


# ---- splitting --------------------------------------------------------------------
def test_text_that_fits_is_one_body_without_marker():
    text = "Hello. " * 200
    assert split_body(text) == [text.strip()]
    assert len(split_body("x" * MAX_BODY)) == 1


def test_long_text_is_split_at_sentence_boundaries_with_markers():
    sentences = [f"Sentence number {i} says something useful about your order." for i in range(60)]
    text = " ".join(sentences)
    parts = split_body(text)
    assert len(parts) == 3
    assert [p.split(" ", 1)[0] for p in parts] == ["(1/3)", "(2/3)", "(3/3)"]
    assert all(len(p) <= MAX_BODY for p in parts)
    assert all(p.endswith(".") for p in parts)  # cut after a full stop, never mid-sentence
    rejoined = " ".join(p.split(" ", 1)[1] for p in parts)
    assert rejoined == text


def test_without_sentences_a_split_falls_back_to_spaces_then_anywhere():
    words = " ".join(["word"] * 500)  # 2,499 characters, no full stop
    parts = split_body(words)
    assert len(parts) == 2 and all(len(p) <= MAX_BODY for p in parts)
    assert all(not p.endswith("wor") for p in parts)
    blob = "x" * 3500
    parts = split_body(blob)
    assert len(parts) == 3 and "".join(p.split(" ", 1)[1] for p in parts) == blob


def test_marker_width_grows_with_the_count():
    parts = split_body("Short one. " * 2000, limit=200)
    n = len(parts)
    assert n >= 100 and parts[0].startswith(f"(1/{n}) ") and parts[-1].startswith(f"({n}/{n}) ")
    assert all(len(p) <= 200 for p in parts)


def test_limit_counts_utf16_units():
    text = "😀" * 1000  # 2,000 UTF-16 units although 1,000 characters
    parts = split_body(text)
    assert len(parts) == 2
    assert all(sum(2 if ord(c) > 0xFFFF else 1 for c in p) <= MAX_BODY for p in parts)


def test_payload_records_segments_and_encoding():
    p = sms_payload("+14155550123", "Your ticket is HL-2026-000001.", ref="ack:1")
    assert (p["segments"], p["encoding"], p["parts"]) == (1, "GSM-7", 1)
    p = sms_payload("+14155550123", "Merci beaucoup, ça marche 😀", ref="x")
    assert (p["segments"], p["encoding"]) == (1, "UCS-2")
    long = sms_payload("+14155550123", "A sentence of some length here. " * 80, ref="x")
    assert long["parts"] == 2 and long["segments"] == sum(segments(b).count for b in split_body(long["body"]))


# ---- keywords -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "body, action",
    [
        ("STOP", "opt_out"),
        ("stop", "opt_out"),
        ("  Stop.  ", "opt_out"),
        ("STOPALL", "opt_out"),
        ("unsubscribe", "opt_out"),
        ("Cancel", "opt_out"),
        ("END", "opt_out"),
        ("quit!", "opt_out"),
        ("START", "opt_in"),
        ("unstop", "opt_in"),
        ("Yes", "opt_in"),
        ("HELP", "help"),
        ("help", "help"),
        ("info", "help"),
        ("Stop texting me", None),
        ("please stop", None),
        ("HELP me with my order", None),
        ("", None),
        ("STOPP", None),
    ],
)
def test_keyword_action(body, action):
    assert keyword_action(body) == action


def test_twilio_opt_out_type_decides_over_the_text():
    assert keyword_action("ARRET", "STOP") == "opt_out"  # an Advanced Opt-Out custom keyword
    assert keyword_action("hello", "start") == "opt_in"
    assert keyword_action("AIDE", "HELP") == "help"
    assert keyword_action("STOP", "") == "opt_out"


# ---- numbers and the envelope -----------------------------------------------------------
@pytest.mark.parametrize(
    "raw, e164",
    [
        ("+14155550123", "+14155550123"),
        ("+1 (415) 555-0123", "+14155550123"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+49 (0)30 1234567", "+49301234567"),
        ("12345", None),
        ("ACME", None),
        ("", None),
    ],
)
def test_normalise_number(raw, e164):
    assert normalise_number(raw) == e164


def _env(form: dict[str, str]):
    return build_envelope(urlencode(form).encode(), {"received_at": "2026-03-02T10:00:00+00:00"}, lambda b: "")


def test_envelope_of_an_inbound_mms():
    form = inbound_form(
        "Photo of the broken part",
        sender="+1 415 555 0123",
        sid="MM" + "1" * 32,
        media=[
            ("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", "image/jpeg"),
            ("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2", "image/png"),
        ],
        segments=2,
    )
    env = _env(form)
    assert (env.channel, env.external_id) == ("sms", "MM" + "1" * 32)
    assert (env.sender.address, env.sender.kind, env.sender.name) == ("+14155550123", "phone", "")
    assert env.thread.conversation_id == "+14155550123"
    assert env.text == "Photo of the broken part" and env.subject == "Photo of the broken part"
    assert env.recipients.to == ["+15005550006"]
    assert env.metadata["num_segments"] == 2 and env.metadata["num_media"] == 2
    assert env.metadata["media"][1] == {"url": form["MediaUrl1"], "content_type": "image/png"}
    assert env.attachments == []  # fetched later by a worker
    # the same webhook again has the same identity and content hash; another message does not
    assert _env(form).content_hash == env.content_hash
    assert _env(inbound_form("other", sid=form["MessageSid"])).content_hash != env.content_hash


def test_long_text_subject_is_cut_at_a_word_and_empty_mms_gets_a_name():
    env = _env(inbound_form("My parcel with the new phone never arrived and the tracking page says delivered"))
    assert env.subject.endswith("…") and len(env.subject) <= 61 and "page" not in env.subject
    assert _env(inbound_form("", media=[("https://api.twilio.com/x", "image/jpeg")])).subject.startswith("MMS from +")


def test_short_code_sender_is_kept_with_a_warning():
    env = _env(inbound_form("hello", sender="72345"))
    assert env.sender.address == "72345" and "sender_not_e164" in env.warnings


def test_webhook_without_sid_or_sender_is_rejected():
    form = inbound_form("hi")
    del form["MessageSid"], form["SmsMessageSid"]
    with pytest.raises(Rejected) as err:
        _env(form)
    assert err.value.errors == [{"field": "MessageSid", "error": "missing"}]
    with pytest.raises(Rejected):
        _env({"Body": "hi", "MessageSid": "SM1"})
