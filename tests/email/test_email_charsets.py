"""Charsets that lie, are unknown or need a codec mail-parser does not apply."""

from __future__ import annotations

from helpline.ingest.email import charsets
from helpline.ingest.email.headers import decode_words


def test_iso_2022_jp_body_subject_and_name(normalise):
    env = normalise("japanese_iso2022jp.eml")
    assert env.subject == "ログインできません"
    assert (env.sender.address, env.sender.name) == ("taro.tanaka@example.jp", "田中 太郎")
    assert env.full_text == "サポート御中\n\nログインできません。パスワードを再設定してください。\n\n田中 太郎"
    assert env.warnings == []


def test_cp1252_body_declared_utf8_and_8bit_subject(normalise):
    env = normalise("wrong_charset_cp1252.eml")
    assert env.text == "Meine Bestellung “A-1001” ist nicht angekommen.\nSchöne Grüße, Frank"
    assert env.subject == "Kaputte Bestellung – Grüße"
    assert env.warnings == ["8bit_header:subject", "charset_mismatch:utf-8"]


def test_unknown_charset_is_decoded_as_utf8_with_a_warning(normalise):
    env = normalise("unknown_charset.eml")
    assert env.text == "Where is my order? It costs 25 €."
    assert env.warnings == ["unknown_charset:x-foo"]


def test_utf8_header_without_encoding_is_not_junk(normalise):
    raw = (
        "From: Zoë <zoe@example.com>\r\nTo: support@helpline.example\r\nSubject: Café ☕\r\n"
        "Message-ID: <u8@example.com>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0100\r\n\r\nHi\r\n"
    ).encode()
    env = normalise(raw)
    assert (env.subject, env.sender.name, env.warnings) == ("Café ☕", "Zoë", [])


def test_decode_words_joins_a_character_split_across_words():
    # "€" (e2 82 ac) split over two encoded words, as some clients do
    assert decode_words("=?utf-8?q?Preis_=E2=82?= =?utf-8?q?=AC_42?=") == "Preis € 42"
    assert decode_words("=?UTF-8?B?w4lsb2RpZQ==?= Martin") == "Élodie Martin"
    assert decode_words("Re:=?utf-8?q?_Gr=C3=BC=C3=9Fe?=") == "Re: Grüße"
    assert decode_words("=?utf-8?b?!!!?= x") == "=?utf-8?b?!!!?= x"  # undecodable stays readable


def test_charset_fallbacks():
    w: list[str] = []
    assert charsets.decode("Grüße “x”".encode("cp1252"), "iso-8859-1", w) == "Grüße “x”"
    assert w == []  # iso-8859-1 means cp1252 in practice (WHATWG), not a mismatch
    assert charsets.decode("안녕".encode("cp949"), "ks_c_5601-1987", w) == "안녕"
    assert charsets.decode(b"a \xe2\x82\xac", None, w) == "a €"
    assert charsets.decode(b"a \x80", "us-ascii", w) == "a €" and w == ["charset_mismatch:us-ascii"]
    w.clear()
    assert charsets.decode(b"abc", "base64", w) == "abc" and w == ["unknown_charset:base64"]
    assert charsets.decode(b"a\x00b", "utf-8") == "ab"  # NUL would break PostgreSQL text
