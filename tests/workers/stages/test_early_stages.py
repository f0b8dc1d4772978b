"""The stages before threading: each decides alone whether the message goes on (None) or is done."""

from __future__ import annotations

from helpline.store import models as m
from helpline.store.envelope import Envelope, Sender
from tests.workers.builders import SUPPORT, ack_message_id, dsn, mail

from .conftest import sms


def _status(ctx) -> str:
    return m.Inbound.get_by_id(ctx.row.id).status


# ---- slack_agent ----------------------------------------------------------------------------------
def test_slack_agent_leaves_a_customer_message_alone(sd):
    ctx = sd.context(mail()[0])
    assert sd.run("slack_agent", ctx) is None
    assert _status(ctx) == "pending"


def test_slack_agent_takes_an_agents_line_in_a_thread_it_does_not_know(sd):
    env = Envelope(
        channel="slack",
        external_id="C1:1700000000.000100",
        received_at="2026-03-02T10:00:00+00:00",
        sender=Sender(address="U1", kind="slack"),
        author_role="agent",
        text="on it",
    )
    d = sd.run("slack_agent", sd.context(env))
    assert d is not None and d.outcome is not None  # handled whole by slack_replies: no customer ticket
    assert m.Ticket.select().count() == 0


# ---- own_mail -------------------------------------------------------------------------------------
def test_own_mail_ignores_our_message_id_coming_back(sd):
    raw, _ = mail(message_id="<hl.HL-2026-000001.abc@example.com>", sender="Support <support@example.com>")
    ctx = sd.context(raw)
    d = sd.run("own_mail", ctx)
    assert d is not None and d.outcome is not None and d.outcome.action == "own_mail"
    assert _status(ctx) == "processed"


def test_own_mail_passes_a_customers_mail(sd):
    ctx = sd.context(mail()[0])
    assert sd.run("own_mail", ctx) is None
    assert _status(ctx) == "pending"


def test_own_mail_is_an_email_rule_only(sd):
    env = sms("hello")
    env.thread.message_id = "hl.HL-2026-000001.abc@example.com"  # an SMS never carries our Message-ID
    assert sd.run("own_mail", sd.context(env)) is None


# ---- delivery_report ------------------------------------------------------------------------------
def test_a_bounce_of_our_acknowledgement_fails_it(sd):
    ticket, _ = sd.desk.new_ticket()
    ack = ack_message_id(ticket)
    original, _ = mail(sender=f"Support <{SUPPORT}>", to="alice@example.org", message_id=ack)
    ctx = sd.context(dsn(original))
    d = sd.run("delivery_report", ctx)
    assert d is not None and d.outcome is not None
    assert (d.outcome.action, d.outcome.ticket_id) == ("bounce", ticket.id)
    assert m.Outbox.get((m.Outbox.ticket == ticket) & (m.Outbox.kind == "ack")).status == "failed"


def test_a_report_about_mail_that_is_not_ours_goes_on(sd):
    original, _ = mail(sender=f"Support <{SUPPORT}>", to="alice@example.org")
    ctx = sd.context(dsn(original))
    assert sd.run("delivery_report", ctx) is None
    assert _status(ctx) == "pending"


# ---- channel_command ------------------------------------------------------------------------------
def test_stop_opts_the_number_out_and_opens_no_ticket(sd):
    ctx = sd.context(sms("Stop"))
    d = sd.run("channel_command", ctx)
    assert d is not None and d.outcome is not None and d.outcome.action == "sms_keyword"
    assert "opted out" in d.outcome.reason
    assert _status(ctx) == "processed"
    assert m.Ticket.select().count() == 0


def test_an_ordinary_text_is_no_command(sd):
    assert sd.run("channel_command", sd.context(sms("Stop texting me, where is my parcel?"))) is None


def test_email_has_no_commands(sd):
    assert sd.run("channel_command", sd.context(mail(body="STOP\n")[0])) is None


# ---- sender_auth ----------------------------------------------------------------------------------
MX = "mx.helpline.test"
FAIL = f"{MX}; spf=fail smtp.mailfrom=example.org; dkim=none; dmarc=fail (p=reject) header.from=example.org"


def _flagged() -> bytes:
    return f"Authentication-Results: {FAIL}\r\n".encode() + mail()[0]


def test_a_failed_sender_is_quarantined_under_the_reject_policy(sd):
    sd = sd.configured(trusted_authserv_id=MX, auth_failed_policy="reject")
    ctx = sd.context(_flagged())
    d = sd.run("sender_auth", ctx)
    assert d is not None and d.outcome is not None and d.outcome.action == "quarantined"
    assert _status(ctx) == "quarantined"


def test_a_failed_sender_goes_on_with_the_verdict_under_new_ticket(sd):
    sd = sd.configured(trusted_authserv_id=MX, auth_failed_policy="new_ticket")
    ctx = sd.context(_flagged())
    d = sd.run("sender_auth", ctx)
    assert d is not None and d.outcome is None and d.what == "failed"
    assert ctx.auth.failed  # threading and the acknowledgement read it


def test_an_unflagged_sender_decides_nothing(sd):
    ctx = sd.context(mail()[0])
    assert sd.run("sender_auth", ctx) is None
    assert not ctx.auth.failed
