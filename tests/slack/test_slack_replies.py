"""Agents work a ticket from its Slack thread: customer email in, ticket posted, agent
reply in the thread, email out to the customer in the right thread, confirmed in Slack.

In this process: the real intake, pipeline, senders and public listener (slack-bolt),
the fake Slack Web API and the relay sink; on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from helpline.notifier.deliver import deliver_claimed_many, deliver_one
from helpline.notifier.email.email_sender import EmailSender
from helpline.store import models as m
from helpline.store.signing import ticket_from_reply_token
from helpline.store.channels.slack_state import SlackAgent

from ..support.fake_slack import BOT_TOKEN, event_callback, signed_headers
from ..workers.builders import Desk, events, mail
from .conftest import AGENT, CHANNEL, Listener, OUTSIDER, next_ts, parent_ts, quick_sender, thread_message


class Team:
    """The help desk with Slack and a relay: runs each accepted message the way the
    ``process_inbound`` actor does (pipeline, then the rows it made, delivered at once)."""

    def __init__(self, settings, relay_sink, fake_slack) -> None:
        self.desk = Desk(settings.replace(smtp_relay=relay_sink.address))
        self.settings = self.desk.settings
        self.sink = relay_sink
        self.slack = fake_slack
        self.senders = {"email": EmailSender(self.settings), "slack": quick_sender(self.settings)}
        self.listener = Listener(self.settings, self.desk.intake)

    def close(self) -> None:
        self.listener.close()
        self.senders["email"].close()

    def work(self) -> list:
        """Process every submitted inbound row; the outcomes."""
        outcomes = []
        while self.desk.submitted:
            outcome = self.desk.run(self.desk.submitted.pop(0))
            for row in outcome.claimed:
                deliver_claimed_many(self.settings, self.senders[row.channel], [row])
            for oid in outcome.outbox_ids:
                row = m.Outbox.get_by_id(oid)
                deliver_one(self.settings, self.senders[row.channel], oid)
            outcomes.append(outcome)
        return outcomes

    def customer_writes(self, **kw) -> tuple[m.Ticket, str]:
        raw, mid = mail(**kw)
        self.desk.deliver(raw)
        (outcome,) = self.work()
        return m.Ticket.get_by_id(outcome.ticket_id), mid

    def agent_says(
        self,
        text: str,
        thread_ts: str,
        *,
        user: str = AGENT,
        ts: str | None = None,
        retry_num: int | None = None,
        event: dict | None = None,
    ) -> tuple[str, list]:
        ts = ts or next_ts()
        ev = event or thread_message(text, thread_ts, user=user, ts=ts)
        body = json.dumps(event_callback(ev, event_id=f"Ev{ts.replace('.', '')}")).encode()
        status, _ = self.listener.post(body, signed_headers(body, retry_num=retry_num))
        assert status == 200
        return ts, self.work()


@pytest.fixture
def team(slack_settings, relay_sink, fake_slack):
    t = Team(slack_settings, relay_sink, fake_slack)
    yield t
    t.close()


def test_agent_reply_in_the_thread_reaches_the_customer_in_the_right_thread(team):
    ticket, mid = team.customer_writes(subject="Order 4711 never arrived", body="Hello,\nwhere is order 4711?\n")
    ack = team.sink.wait_for(1)[0].message()
    parent = parent_ts(ticket.id)
    assert team.slack.calls_of("chat.postMessage")[0].args["channel"] == CHANNEL

    ts, (outcome,) = team.agent_says(
        "Hi Alice, it left our warehouse today: tracking <https://t.example/1|here>.", parent
    )
    assert outcome.action == "replied" and outcome.ticket_id == ticket.id
    reply = team.sink.wait_for(2)[1]
    msg = reply.message()
    assert reply.rcpt_tos == ["alice@example.org"]
    assert msg["In-Reply-To"] == mid
    assert mid in msg["References"].split()
    assert f"[{ticket.number}]" in msg["Subject"] and "Order 4711 never arrived" in msg["Subject"]
    assert msg["X-Helpline-Ticket"] == ticket.number and msg["Auto-Submitted"] is None
    assert msg["From"] == "Dana Agent <support@example.com>"
    local = msg["Reply-To"].split("@")[0]
    assert ticket_from_reply_token(team.settings.secret_key, local.split("+", 1)[1]) == ticket.id
    body = msg.get_content()
    assert "it left our warehouse today: tracking here (https://t.example/1)." in body and "Dana Agent" in body
    assert msg["Message-ID"] != ack["Message-ID"]

    out = m.Message.get(
        (m.Message.ticket == ticket) & (m.Message.direction == "out") & (m.Message.author_role == "agent")
    )
    assert (out.author, out.channel, out.external_id) == ("Dana Agent", "email", f"{CHANNEL}:{ts}")
    assert out.message_id == msg["Message-ID"].strip("<>").lower()
    (replied,) = events(ticket, "agent_replied")
    assert replied.actor == f"slack:{AGENT}" and replied.data["to"] == "alice@example.org"
    assert m.Ticket.get_by_id(ticket.id).status == "open"  # the first answer: somebody is on it
    assert team.slack.reactions[(CHANNEL, ts)] == ["white_check_mark"]  # confirmed in the thread once sent
    assert team.slack.calls_of("chat.update")  # the parent shows the new status
    agent = SlackAgent.get_by_id(AGENT)  # mapped on first action, with what users.info said
    assert (agent.name, agent.email) == ("Dana Agent", "dana@support.example.com")


def test_a_retried_event_sends_once(team):
    ticket, _ = team.customer_writes()
    parent = parent_ts(ticket.id)
    ts, _ = team.agent_says("Refund issued.", parent)
    team.agent_says("Refund issued.", parent, ts=ts, retry_num=1)
    team.agent_says("Refund issued.", parent, ts=ts, retry_num=2)
    assert len(team.sink.wait_for(2)) == 2  # the acknowledgement and one reply
    assert m.Outbox.select().where(m.Outbox.kind == "reply").count() == 1
    assert m.Inbound.select().where(m.Inbound.channel == "slack").count() == 1


def test_customer_answer_to_the_agent_threads_back_into_ticket_and_slack(team):
    ticket, _ = team.customer_writes()
    parent = parent_ts(ticket.id)
    team.agent_says("Could you send the order number?", parent)
    reply = team.sink.wait_for(2)[1].message()
    raw, _ = mail(
        subject="Re: " + reply["Subject"],
        body="It is 4711.\n",
        in_reply_to=reply["Message-ID"],
        references=[reply["Message-ID"]],
    )
    team.desk.deliver(raw)
    (outcome,) = team.work()
    assert (outcome.action, outcome.ticket_id) == ("appended", ticket.id)
    last = team.slack.calls_of("chat.postMessage")[-1]
    assert last.args["thread_ts"] == parent and "It is 4711." in json.dumps(last.args["blocks"])


def test_internal_note_stays_internal(team):
    ticket, _ = team.customer_writes()
    ts, (outcome,) = team.agent_says("#note customer is a VIP, refund without asking", parent_ts(ticket.id))
    assert outcome.action == "noted"
    assert len(team.sink.wait_for(1)) == 1  # only the acknowledgement
    assert m.Outbox.select().where(m.Outbox.kind == "reply").count() == 0
    note = m.Message.get((m.Message.ticket == ticket) & (m.Message.direction == "note"))
    assert (note.text, note.author_role, note.author) == (
        "customer is a VIP, refund without asking",
        "agent",
        "Dana Agent",
    )
    (added,) = events(ticket, "note_added")
    assert added.actor == f"slack:{AGENT}" and added.data["message"] == note.id
    assert team.slack.reactions[(CHANNEL, ts)] == ["lock"]


def test_explicit_mode_sends_only_prefixed_messages(slack_settings, relay_sink, fake_slack):
    team = Team(slack_settings.replace(slack_reply_mode="explicit"), relay_sink, fake_slack)
    try:
        ticket, _ = team.customer_writes()
        parent = parent_ts(ticket.id)
        _, (talk,) = team.agent_says("I think billing should look at this", parent)
        assert talk.action == "noop"
        _, (sent,) = team.agent_says("&gt;&gt; We are on it, Alice.", parent)  # how Slack delivers ">> …"
        assert sent.action == "replied"
        body = team.sink.wait_for(2)[1].message().get_content()
        assert body.startswith("We are on it, Alice.") and "billing" not in body
    finally:
        team.close()


def test_non_agents_in_the_thread_are_ignored(team):
    ticket, _ = team.customer_writes()
    team.agent_says("Sending your refund now!", parent_ts(ticket.id), user=OUTSIDER)
    assert m.Inbound.select().where(m.Inbound.channel == "slack").count() == 0
    assert len(team.sink.received) == 1 and m.Outbox.select().where(m.Outbox.kind == "reply").count() == 0


def test_agent_message_outside_a_ticket_thread_is_left_alone(team):
    team.customer_writes()
    _, (outcome,) = team.agent_says("lunch?", "1600000000.000001")
    assert outcome.action == "noop" and outcome.ticket_id is None
    assert m.Inbound.get(m.Inbound.channel == "slack").status == "processed"
    assert len(team.sink.received) == 1


def test_an_undeliverable_reply_is_reported_in_the_thread(team):
    ticket, _ = team.customer_writes()
    team.sink.wait_for(1)
    parent = parent_ts(ticket.id)
    team.sink.fail_with = "550 5.1.1 <alice@example.org>: Recipient address rejected"
    ts, _ = team.agent_says("Here is your invoice.", parent)
    row = m.Outbox.get(m.Outbox.kind == "reply")
    assert row.status == "failed"
    notice = team.slack.calls_of("chat.postMessage")[-1]
    assert notice.args["thread_ts"] == parent
    text = json.dumps(notice.args["blocks"])
    assert "not delivered" in text and "Recipient address rejected" in text
    assert "<alice@example.org>" not in text and "&lt;alice@example.org&gt;" in text  # escaped, no link
    assert (CHANNEL, ts) not in team.slack.reactions


def test_an_edit_after_delivery_is_noted_in_the_thread(team):
    ticket, _ = team.customer_writes()
    parent = parent_ts(ticket.id)
    ts, _ = team.agent_says("Refund of 20 EUR sent.", parent)
    edit = {
        "type": "message",
        "subtype": "message_changed",
        "channel": CHANNEL,
        "hidden": True,
        "ts": next_ts(),
        "message": {
            "type": "message",
            "user": AGENT,
            "text": "Refund of 25 EUR sent.",
            "ts": ts,
            "thread_ts": parent,
            "edited": {"user": AGENT, "ts": next_ts()},
        },
        "previous_message": {
            "type": "message",
            "user": AGENT,
            "text": "Refund of 20 EUR sent.",
            "ts": ts,
            "thread_ts": parent,
        },
    }
    _, (outcome,) = team.agent_says("", parent, event=edit)
    assert outcome.action == "edited"
    assert len(team.sink.wait_for(2)) == 2  # nothing sent again
    notice = team.slack.calls_of("chat.postMessage")[-1]
    assert notice.args["thread_ts"] == parent and "edited a reply" in json.dumps(notice.args["blocks"])
    (changed,) = events(ticket, "agent_reply_edited")
    assert changed.data["text"] == "Refund of 25 EUR sent." and changed.data["delivery"] == "sent"


def test_a_deletion_after_delivery_is_noted_in_the_thread_and_a_note_deletion_only_audited(team):
    ticket, _ = team.customer_writes()
    parent = parent_ts(ticket.id)
    ts, _ = team.agent_says("Refund of 20 EUR sent.", parent)
    note_ts, _ = team.agent_says("#note double-check the amount", parent)

    def deleted(of: str, text: str) -> dict:
        return {
            "type": "message",
            "subtype": "message_deleted",
            "channel": CHANNEL,
            "hidden": True,
            "ts": next_ts(),
            "deleted_ts": of,
            "previous_message": {"type": "message", "user": AGENT, "text": text, "ts": of, "thread_ts": parent},
        }

    _, (outcome,) = team.agent_says("", parent, event=deleted(ts, "Refund of 20 EUR sent."))
    assert outcome.action == "deleted"
    notice = team.slack.calls_of("chat.postMessage")[-1]
    assert notice.args["thread_ts"] == parent and "deleted a reply" in json.dumps(notice.args["blocks"])
    assert "the customer keeps the version sent" in json.dumps(notice.args["blocks"])
    (gone,) = events(ticket, "agent_reply_deleted")
    assert gone.data["delivery"] == "sent" and gone.actor == f"slack:{AGENT}"
    posts = len(team.slack.calls_of("chat.postMessage"))
    _, (outcome,) = team.agent_says("", parent, event=deleted(note_ts, "#note double-check the amount"))
    assert outcome.action == "deleted" and events(ticket, "note_deleted")
    assert len(team.slack.calls_of("chat.postMessage")) == posts  # a note's deletion is only audited
    assert len(team.sink.wait_for(2)) == 2  # nothing sent again


def test_files_an_agent_attaches_reach_the_customer_as_email_attachments(team):
    ticket, _ = team.customer_writes()
    parent = parent_ts(ticket.id)
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40
    files = [
        team.slack.add_file("F0001", "label <!channel>.pdf", pdf, "application/pdf"),
        team.slack.add_file("F0002", "Übersicht.txt", "Grüße\n".encode(), "text/plain"),
    ]
    ts = next_ts()
    team.agent_says(
        "", parent, event=thread_message("Here is the return label.", parent, ts=ts, subtype="file_share", files=files)
    )
    msg = team.sink.wait_for(2)[1].message()
    assert msg.get_content_type() == "multipart/mixed"
    assert "Here is the return label." in msg.get_body(("plain",)).get_content()
    got = {a.get_filename(): (a.get_content_type(), a.get_payload(decode=True)) for a in msg.iter_attachments()}
    assert got == {
        "label <!channel>.pdf": ("application/pdf", pdf),
        "Übersicht.txt": ("text/plain", "Grüße\n".encode()),
    }
    assert team.slack.file_gets == [("F0001", BOT_TOKEN), ("F0002", BOT_TOKEN)]  # fetched with the bot token
    out = m.Message.get(
        (m.Message.ticket == ticket) & (m.Message.direction == "out") & (m.Message.author_role == "agent")
    )
    assert sorted((a.filename, a.size) for a in out.attachments) == [
        ("label <!channel>.pdf", len(pdf)),
        ("Übersicht.txt", 8),
    ]
    assert events(ticket, "agent_files_sent")[0].data["files"] == ["label <!channel>.pdf", "Übersicht.txt"]
    assert not events(ticket, "agent_files_not_sent")
    # Only files, no text: not a reply; the thread says so (names escaped).
    team.agent_says("", parent, event=thread_message("", parent, subtype="file_share", files=files[:1]))
    notice = json.dumps(team.slack.calls_of("chat.postMessage")[-1].args["blocks"])
    assert "without a line of text" in notice and "label &lt;!channel&gt;.pdf" in notice
    assert len(team.sink.received) == 2 and len(events(ticket, "agent_files_not_sent")) == 1


def test_a_file_over_the_cap_is_refused_with_a_notice_and_the_text_still_goes(team):
    team.desk.settings = team.settings = team.settings.replace(slack_file_max_bytes=1000)
    ticket, _ = team.customer_writes()
    parent = parent_ts(ticket.id)
    files = [
        team.slack.add_file("F0003", "huge.zip", b"z" * 1001, "application/zip"),
        team.slack.add_file("F0004", "small.txt", b"fits", "text/plain"),
    ]
    team.agent_says("", parent, event=thread_message("See attached.", parent, subtype="file_share", files=files))
    msg = team.sink.wait_for(2)[1].message()
    assert [(a.get_filename(), a.get_payload(decode=True)) for a in msg.iter_attachments()] == [("small.txt", b"fits")]
    notice = json.dumps(team.slack.calls_of("chat.postMessage")[-1].args["blocks"])
    assert "huge.zip" in notice and "over the limit of 1000" in notice and "small.txt" not in notice
    assert [f for f, _ in team.slack.file_gets] == ["F0004"]  # the announced size refused it before any download
    (refused,) = events(ticket, "agent_files_not_sent")
    assert refused.data["files"] == ["huge.zip"] and "HELPLINE_SLACK_FILE_MAX_BYTES" in refused.data["errors"][0]


def test_a_file_the_bot_token_cannot_fetch_is_refused_not_sent_as_a_sign_in_page(team, fake_slack):
    ticket, _ = team.customer_writes()
    parent = parent_ts(ticket.id)
    file = team.slack.add_file("F0005", "report.pdf", b"%PDF", "application/pdf")
    fake_slack.files_scope = False  # a token without files:read: Slack answers with its sign-in page, HTTP 200
    team.agent_says("", parent, event=thread_message("Report attached.", parent, subtype="file_share", files=[file]))
    msg = team.sink.wait_for(2)[1].message()
    assert msg.get_content_type() == "text/plain" and not list(msg.iter_attachments())
    (refused,) = events(ticket, "agent_files_not_sent")
    assert "files:read" in refused.data["errors"][0]


def test_a_contact_form_customer_gets_the_reply_by_email(team):
    from helpline.ingest.channels import contact_form

    team.desk.intake.register(contact_form.KIND, contact_form.build)
    fields = {
        "name": "Fay Form",
        "email": "fay@example.org",
        "subject": "Warranty question",
        "message": "Is my kettle still covered?",
    }
    form = "".join(f'--b0\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items())
    team.desk.intake.accept_request(
        contact_form.KIND,
        (form + "--b0--\r\n").encode(),
        {"content_type": "multipart/form-data; boundary=b0", "nonce": "n-1"},
    )
    (created,) = team.work()
    ticket = m.Ticket.get_by_id(created.ticket_id)
    _, (replied,) = team.agent_says("Yes, two years from purchase.", parent_ts(ticket.id))
    assert replied.action == "replied"
    reply = team.sink.received[-1]
    msg = reply.message()
    assert reply.rcpt_tos == ["fay@example.org"] and f"[{ticket.number}]" in msg["Subject"]
    assert "two years from purchase" in msg.get_content()
