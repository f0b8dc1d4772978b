"""Properties of the email normaliser, shared by the suite's short slice
(test_mail_properties.py) and the long fuzz run (``python -m tests.security.fuzz``).

Each ``check_*`` takes generated input and fails by raising; strategies are
built here so both runners generate the same shapes of input.
"""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.policy import SMTP

from hypothesis import strategies as st

from helpline.ingest.email.normalise import NotAnEmail, normalise_email

SUPPORT = ("support@helpline.example",)
_HEADER_NAMES = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "MIME-Version",
    "Reply-To",
    "References",
    "In-Reply-To",
    "X-Mailer",
    "Received",
    "Return-Path",
    "Auto-Submitted",
    "Authentication-Results",
]
_FRAGMENTS = [
    b"=?utf-8?Q?",
    b"=?",
    b"?=",
    b"?B?",
    b"<",
    b">",
    b"@",
    b'"',
    b"\\",
    b";",
    b"boundary=",
    b"charset=",
    b"multipart/mixed",
    b"text/plain",
    b"text/html",
    b"base64",
    b"quoted-printable",
    b"--",
    b"\r\n",
    b"\n",
    b"\r\n ",
    b"\t",
    b"\x1b$B",
    b"\xff",
    b"\xe9",
    b"\x00",
    b"filename*0*=",
    b"''",
    b"%E6",
    b"name=",
    b"message/rfc822",
    b"=\r\n",
    b"=C3=A9",
    b"iso-2022-jp",
    b"utf-7",
    b"+AOk-",
    b"gbk",
]


class Blobs(dict):
    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        self[key] = data
        return key


def normalise(raw: bytes, blobs: Blobs | None = None):
    return normalise_email(raw, put_blob=(blobs if blobs is not None else Blobs()).put, support_addresses=SUPPORT)


# --- any bytes in: an envelope or NotAnEmail, nothing else ------------------------------------------------


def check_envelope_or_refusal(raw: bytes) -> None:
    try:
        env = normalise(raw)
    except NotAnEmail as exc:
        assert str(exc), "a refusal says why"
        return
    doc = env.to_dict()  # what is stored: must serialise as UTF-8, no NUL (PostgreSQL), no lone surrogate
    for value in (
        env.subject,
        env.text,
        env.full_text,
        env.html,
        env.sender.name,
        env.sender.address,
        *(a.filename for a in env.attachments),
    ):
        assert "\x00" not in value
        value.encode("utf-8")
    assert doc["channel"] == "email"


def _header_line() -> st.SearchStrategy[bytes]:
    value = st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.binary(max_size=12)), max_size=8).map(b"".join)
    return st.tuples(st.sampled_from(_HEADER_NAMES), value).map(lambda t: t[0].encode() + b": " + t[1] + b"\r\n")


def mail_like_bytes() -> st.SearchStrategy[bytes]:
    """Mostly header-shaped bytes, so generated input gets past the first check."""
    body = st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.binary(max_size=40)), max_size=20).map(b"".join)
    return st.tuples(st.lists(_header_line(), min_size=1, max_size=10), body).map(
        lambda t: b"".join(t[0]) + b"\r\n" + t[1]
    )


any_bytes = st.binary(max_size=2000)


# --- generated MIME survives the trip -----------------------------------------------------------------------

_text_chars = st.characters(blacklist_categories=("Cs", "Cc", "Co", "Cn", "Zl", "Zp"))
words = st.text(_text_chars, min_size=1, max_size=12).filter(lambda w: w.strip() == w and w.strip())
subjects = st.lists(words, min_size=1, max_size=8).map(" ".join)
_body_line = (
    st.lists(words, min_size=1, max_size=10)
    .map(" ".join)
    .filter(lambda s: not s.lstrip().startswith((">", "-", "_", "=")) and ":" not in s and "@" not in s)
)
bodies = st.lists(_body_line, min_size=1, max_size=6).map("\n".join)
filenames = st.tuples(
    st.text(st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=20),
    st.sampled_from([".pdf", ".png", ".txt", ".docx", ".zip"]),
).map("".join)
attachments = st.lists(st.tuples(filenames, st.binary(min_size=1, max_size=300)), max_size=3, unique_by=lambda a: a[0])
names = st.one_of(
    st.just(""),
    st.lists(st.text(st.characters(whitelist_categories=("L",)), min_size=1, max_size=10), min_size=1, max_size=3).map(
        " ".join
    ),
)


def build_mime(subject: str, name: str, body: str, files: list[tuple[str, bytes]], charset: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{name} <customer@example.net>" if name else "customer@example.net"
    msg["To"] = SUPPORT[0]
    msg["Subject"] = subject
    msg["Message-ID"] = "<prop@example.net>"
    msg.set_content(body, charset=charset)
    for filename, data in files:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=filename)
    return msg.as_bytes(policy=SMTP)


def check_round_trip(subject: str, name: str, body: str, files: list[tuple[str, bytes]], charset: str) -> None:
    try:
        raw = build_mime(subject, name, body, files, charset)
    except (UnicodeEncodeError, ValueError):
        return  # the generator cannot write this text in this charset
    blobs = Blobs()
    env = normalise(raw, blobs)
    # Whitespace between words is compared loosely: the stdlib's header folding
    # drops a space where it splits the subject into two encoded words.
    assert env.subject.split() == subject.split() or "".join(env.subject.split()) == "".join(subject.split())
    assert env.sender.address == "customer@example.net"
    assert "".join(env.sender.name.split()) == "".join(name.split())
    assert " ".join(env.full_text.split()) == " ".join(body.split())
    assert [a.filename for a in env.attachments] == [f for f, _ in files]
    assert [blobs[a.blob_key] for a in env.attachments] == [d for _, d in files]
