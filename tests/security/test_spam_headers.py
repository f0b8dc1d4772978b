"""Adversarial spam headers (issue 12, spam): a sender controls every header below the trusted MTA's, so
nothing there may file mail as spam or keep it out of spam; odd values and floods never raise and stay
bounded. The decision is ``workers/spam_stage.judge`` on envelopes of the real normaliser."""

from __future__ import annotations

import pytest

from helpline.ingest.email import spam_headers
from helpline.ingest.email.normalise import normalise_email
from helpline.workers.tickets.spam_stage import judge

MX = "mx.helpline.test"
AR = f"Authentication-Results: {MX}; spf=pass smtp.mailfrom=example.org; dmarc=pass header.from=example.org"


def env_of(lines: list[str]):  # noqa: ANN201
    body = [
        *lines,
        "From: Mallory <m@example.org>",
        "To: support@example.com",
        "Subject: hi",
        "Message-ID: <m1@example.org>",
        "",
        "buy now",
    ]
    return normalise_email(
        "\r\n".join(body).encode("utf-8", "surrogateescape"),
        put_blob=lambda b: "k",
        support_addresses=["support@example.com"],
    )


def spam(env, score_max: float = 0.0):  # noqa: ANN001, ANN201
    return judge(
        channel="email",
        sender=env.sender.address,
        author_role="customer",
        metadata=env.metadata,
        auth=env.auth,
        authserv_id=MX,
        score_max=score_max,
    )


def test_forged_trusted_header_below_the_real_one_changes_nothing():
    # The MTA's filter said spam on top; the sender's own "NO" and a forged trusted A-R below do not undo it.
    env = env_of(["X-Spam-Flag: YES", AR, "X-Spam-Flag: NO", AR.replace("pass", "pass"), "X-Spam-Status: No"])
    assert spam(env) is not None
    # And the sender's own YES below the MTA's clean verdict files nothing.
    clean = env_of(
        [
            "X-Spam-Flag: NO",
            "X-Spam-Status: No, score=0.1 required=5.0",
            AR,
            "X-Spam-Flag: YES",
            f"Authentication-Results: {MX}; dmarc=pass",
            "X-Spam-Flag: YES",
        ]
    )
    assert spam(clean, score_max=1.0) is None


def test_a_flood_of_headers_is_bounded_and_below_the_mta_ignored():
    lines = [AR] + ["X-Spam-Flag: YES"] * 500 + ["X-Spam-Status: Yes, score=999 required=5"] * 500
    env = env_of(lines)
    assert len(env.metadata["mta_headers"]) == spam_headers.MAX_KEPT
    assert spam(env, score_max=1.0) is None


@pytest.mark.parametrize(
    "value",
    [
        "No, score=1e999 required=5.0",
        "No, score=NaN required=5",
        "No, score= required=5",
        "No, score=--3",
        "No, score=99999999999999999999999999999999999999 required=5",
        "No, score=1.5.5",
        "\u202eseY, score=10",
        "No, " + "x" * 20000,
        "No, score=３ required=5",
    ],
)
def test_odd_scores_never_raise(value: str):
    env = env_of([f"X-Spam-Status: {value}", AR])
    got = spam(env, score_max=4.0)
    assert got is None or got.score is not None and got.score > 4.0
    assert all(len(v) <= spam_headers.MAX_VALUE for _, v in env.metadata["mta_headers"])


@pytest.mark.parametrize(
    "value",
    ["default: True [nan / 15]", "default: True", "x: TRUE [1e5 / 1]", ": True [1 / 2]", "default: maybe [20 / 15]"],
)
def test_odd_rspamd_results_never_raise(value: str):
    spam(env_of([f"X-Spamd-Result: {value}", AR]), score_max=2.0)


def test_undecodable_bytes_in_spam_headers():
    raw = (
        b"X-Spam-Status: Yes\xff\xfe, score=8\r\n" + AR.encode() + b"\r\nFrom: m@example.org\r\n"
        b"To: support@example.com\r\nSubject: x\r\n\r\nbody"
    )
    env = normalise_email(raw, put_blob=lambda b: "k", support_addresses=["support@example.com"])
    assert spam(env) is not None  # the verdict's first word still reads Yes
