"""Spam through the real pipeline, on SQLite and PostgreSQL: the trusted MTA's verdict and the block list
file mail as a ticket in the ``spam`` status (no acknowledgement, no Slack post, never threaded into a
customer's ticket), listed for review, and ``helpline tickets not-spam`` releases it."""

from __future__ import annotations

import json

from helpline.store import models as m
from helpline.workers.tickets import spam_stage

from ..routing.test_routing_cli import helpline
from .builders import Desk, event_kinds, inbound_messages, mail

MX = "mx.helpline.test"
AR = f"Authentication-Results: {MX}; spf=pass smtp.mailfrom=example.org; dmarc=pass header.from=example.org\r\n"


def flagged(*headers: str, **kw) -> tuple[bytes, str]:  # noqa: ANN003
    raw, mid = mail(**kw)
    return ("".join(h + "\r\n" for h in headers) + AR).encode() + raw, mid


def test_flagged_mail_is_kept_as_spam_and_released(backend):
    desk = Desk(backend.replace(trusted_authserv_id=MX, slack_bot_token="xoxb-test", slack_channel="C0SUPPORT"))
    before = spam_stage.SPAM.labels("mta")._value.get()
    real, _ = desk.new_ticket(subject="Order never arrived")
    raw, mid = flagged(
        "X-Spam-Flag: YES",
        "X-Spam-Status: Yes, score=9.1 required=5.0",
        subject=f"Re: [{real.number}] Order never arrived",
    )  # even with a ticket's tag: not threaded
    outcome = desk.receive(raw)
    assert outcome.action == "spam" and outcome.ticket_id != real.id
    spam = m.Ticket.get_by_id(outcome.ticket_id)
    assert spam.status == "spam" and spam.assignee is None
    assert len(inbound_messages(spam)) == 1 and len(inbound_messages(real)) == 1
    assert "spam_filed" in event_kinds(spam)
    assert not m.Outbox.select().where(m.Outbox.ticket == spam).exists()  # no acknowledgement, no Slack post
    assert m.Inbound.get_by_id(inbound_messages(spam)[0].inbound_id).status == "processed"
    assert spam_stage.SPAM.labels("mta")._value.get() == before + 1
    listed = json.loads(helpline(desk.settings, "tickets", "list", "--status", "spam", "--json").stdout)
    assert [t["number"] for t in listed] == [spam.number]
    out = helpline(desk.settings, "tickets", "not-spam", spam.number)
    assert out.returncode == 0, out.stderr
    spam = m.Ticket.get_by_id(spam.id)
    assert spam.status == "new" and "spam_released" in event_kinds(spam)
    assert m.Outbox.select().where((m.Outbox.ticket == spam) & (m.Outbox.channel == "slack")).exists()
    # released: the customer's reply to that mail threads onto it now
    reply, _ = mail(subject="Re: hello", body="Did you get my mail?", in_reply_to=mid, references=[mid])
    assert desk.receive(reply).ticket_id == spam.id
    again = helpline(desk.settings, "tickets", "not-spam", spam.number)
    assert again.returncode == 1 and "not spam" in again.stderr


def test_forged_flag_below_the_mta_is_an_ordinary_ticket(backend):
    desk = Desk(backend.replace(trusted_authserv_id=MX))
    raw, _ = mail(headers={"X-Spam-Flag": "YES", "X-Spam-Status": "Yes, score=50 required=5"})
    outcome = desk.receive(AR.encode() + raw)  # the sender's own headers sit below the MTA's
    assert outcome.action == "created" and m.Ticket.get_by_id(outcome.ticket_id).status == "new"


def test_block_list_from_the_file_and_the_command_line(backend, tmp_path):
    toml = tmp_path / "helpline.toml"
    toml.write_text('[blocklist]\nsenders = ["Promo@Deals.example"]\ndomains = ["spammer.example"]\n')
    desk = Desk(backend.replace(config_file=str(toml)))
    for sender in ("promo@deals.example", "x@mail.spammer.example"):
        assert desk.receive(mail(sender=f"<{sender}>")[0]).action == "spam"
    assert desk.receive(mail(sender="<ann@ok.example>")[0]).action == "created"
    out = helpline(desk.settings, "blocklist", "add", "ok.example", "--reason", "newsletter")
    assert out.returncode == 0 and "domain ok.example: blocked" in out.stdout, out.stderr
    assert desk.receive(mail(sender="<ann@ok.example>")[0]).action == "spam"
    listed = json.loads(helpline(desk.settings, "blocklist", "list", "--json").stdout)
    assert {(r["kind"], r["value"], r["source"] == "database") for r in listed} == {
        ("sender", "promo@deals.example", False),
        ("domain", "spammer.example", False),
        ("domain", "ok.example", True),
    }
    bad = helpline(desk.settings, "blocklist", "add", "not a domain")
    assert bad.returncode == 2 and "neither an email address nor a domain" in bad.stderr
    assert helpline(desk.settings, "blocklist", "remove", "ok.example").returncode == 0
    assert helpline(desk.settings, "blocklist", "remove", "ok.example").returncode == 1
    assert desk.receive(mail(sender="<ann@ok.example>")[0]).action != "spam"
    assert m.Ticket.select().where(m.Ticket.status == "spam").count() == 3  # kept, never deleted
    from helpline.workers.jobs import reports

    assert reports.figures(desk.settings)["tickets"] == m.Ticket.select().where(m.Ticket.status != "spam").count()
