"""The spam decision (``workers/spam_stage.judge``) as a plain function, without a broker or a database:
real mails through the real normaliser, then the verdict. Spam headers count only above the trusted MTA's
Authentication-Results; the block list holds on every channel."""

from __future__ import annotations

from helpline.ingest.email.normalise import normalise_email
from helpline.workers.tickets.spam_stage import judge

MX = "mx.helpline.test"
AR = f"Authentication-Results: {MX}; spf=pass smtp.mailfrom=example.org; dmarc=pass header.from=example.org"


def env_of(*above: str, below: tuple[str, ...] = (), sender: str = "alice@example.org"):  # noqa: ANN201
    lines = [
        *above,
        AR,
        "Received: from mail.example.org by mx.helpline.test",
        *below,
        f"From: Alice <{sender}>",
        "To: support@example.com",
        "Subject: Hello",
        "Message-ID: <a1@example.org>",
        "Date: Mon, 07 Dec 2026 10:00:00 +0000",
        "",
        "Hello, my order did not arrive.",
    ]
    return normalise_email(
        "\r\n".join(lines).encode(), put_blob=lambda b: "k", support_addresses=["support@example.com"]
    )


def verdict(env, *, trusted: str = MX, score_max: float = 0.0, senders=(), domains=(), channel=None):  # noqa: ANN001, ANN201
    return judge(
        channel=channel or env.channel,
        sender=env.sender.address,
        author_role=env.author_role,
        metadata=env.metadata,
        auth=env.auth,
        authserv_id=trusted,
        score_max=score_max,
        blocked_senders=senders,
        blocked_domains=domains,
    )


def test_spamassassin_flag_and_status_above_the_trusted_mta():
    assert verdict(env_of("X-Spam-Flag: YES")).source == "mta"
    got = verdict(env_of("X-Spam-Status: Yes, score=7.2 required=5.0 tests=BAYES_99,URIBL_BLACK autolearn=no"))
    assert got is not None and got.score == 7.2
    assert verdict(env_of("X-Spam-Flag: NO", "X-Spam-Status: No, score=1.1 required=5.0")) is None
    assert verdict(env_of()) is None and env_of().metadata == {}  # no spam header: nothing kept


def test_score_over_the_maximum():
    low = env_of("X-Spam-Status: No, score=4.2 required=5.0 tests=NONE")
    assert verdict(low, score_max=0) is None  # 0: the filter's own verdict only
    assert verdict(low, score_max=4.5) is None
    got = verdict(low, score_max=4.0)
    assert got is not None and "above HELPLINE_SPAM_SCORE_MAX=4" in got.reason
    assert verdict(env_of("X-Spam-Status: No, score=-2.0 required=5.0"), score_max=1.0) is None


def test_rspamd_headers():
    assert verdict(env_of("X-Spamd-Result: default: True [16.30 / 15.00]; BAYES_SPAM(5.10)[99.9%]")).score == 16.3
    assert verdict(env_of("X-Spamd-Result: default: False [3.10 / 15.00]; R_SPF_ALLOW(-0.20)")) is None
    assert verdict(env_of("X-Spamd-Result: default: False [3.10 / 15.00]"), score_max=3.0).score == 3.1
    assert verdict(env_of("X-Spam: Yes")) is not None
    assert verdict(env_of("X-Spamd-Result: nonsense")) is None


def test_headers_below_the_trusted_mta_or_without_one_are_not_believed():
    forged = env_of(below=("X-Spam-Flag: YES", "X-Spam-Status: Yes, score=99 required=5"))
    assert verdict(forged) is None and verdict(forged, score_max=1.0) is None
    assert verdict(env_of("X-Spam-Flag: YES"), trusted="") is None  # no trusted MTA: no spam header counts
    assert verdict(env_of("X-Spam-Flag: YES"), trusted="mx.other.test") is None
    # A second Authentication-Results of the trusted id right below (OpenDKIM + OpenDMARC): still above the run.
    two = env_of("X-Spam-Flag: YES", f"Authentication-Results: {MX}; dkim=pass header.d=example.org")
    assert verdict(two) is not None


def test_block_list_on_every_channel():
    env = env_of(sender="bulk@news.spammer.example")
    assert verdict(env, senders={"bulk@news.spammer.example"}).source == "blocklist"
    assert verdict(env, domains={"spammer.example"}).reason == "the domain spammer.example is on the block list"
    assert verdict(env, domains={"news.spammer.example"}) is not None
    assert verdict(env, domains={"ammer.example", "other.example"}) is None  # no suffix match without a dot
    assert verdict(env, domains={"spammer.example"}, channel="webhook") is not None
    assert verdict(env, trusted="", domains={"spammer.example"}) is not None  # needs no trusted MTA


def test_only_email_customers_are_judged_by_headers():
    env = env_of("X-Spam-Flag: YES")
    assert verdict(env, channel="webhook") is None  # a webhook's metadata never carries a verdict
    env.author_role = "agent"
    assert verdict(env, domains={"example.org"}) is None
