"""An agent's files, uploaded in a ticket's Slack thread, reach the customer on every channel:
as MMS media that Twilio fetches from our signed links (or as links in the text past
Twilio's limits), re-uploaded into a Slack customer's own thread with the files API, and
as signed links in a webhook source's ``ticket.replied`` event. The new-ticket post
links the customer's own files. Real slack_sdk, twilio and urllib clients against the
local stand-ins, the public listener serving the links; on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import requests

from helpline.notifier.slack import slack_blocks
from helpline.store import models as m

from ..slack.conftest import CHANNEL, next_ts, parent_ts, thread_message
from ..workers.builders import events
from .conftest import CUSTOMERS, FileTeam

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16
PDF = b"%PDF-1.4\n" + b"label " * 500


def agent_sends_files(team: FileTeam, ticket: m.Ticket, text: str, files: list[tuple[str, bytes, str]]) -> tuple:
    """The agent's message with files in the ticket's thread, processed; (its ts, the outcomes)."""
    parent = parent_ts(ticket.id)
    objs = [team.slack.add_file(f"F{next_ts().replace('.', '')}", name, data, ctype) for name, data, ctype in files]
    ts = next_ts()
    return team.agent_says(
        "", parent, ts=ts, event=thread_message(text, parent, ts=ts, subtype="file_share", files=objs)
    )


def notices(team: FileTeam) -> list[str]:
    return [
        json.dumps(c.args.get("blocks"))
        for c in team.slack.calls_of("chat.postMessage")
        if c.args["channel"] == CHANNEL and c.args.get("thread_ts")
    ]


# ---- SMS: MMS media --------------------------------------------------------------------------
def test_files_to_an_sms_customer_go_as_mms_media_twilio_fetches_from_our_links(team):
    ticket = team.customer_texts("The display of my router shows error E7")
    ts, (outcome,) = agent_sends_files(
        team,
        ticket,
        "Here is the reset guide.",
        [("guide.png", PNG, "image/png"), ("label.pdf", PDF, "application/pdf")],
    )
    assert outcome.action == "replied"
    reply = team.twilio.wait_for(2)[-1]  # the acknowledgement, then the reply
    assert reply.body == "Here is the reset guide." and reply.to == "+14155550123"
    assert len(reply.media_urls) == 2 and all(u.startswith(team.public_url + "/files/") for u in reply.media_urls)
    # Twilio fetched each MediaUrl from the public listener, without credentials, and got the file
    assert [(f.status, f.content_type, f.data) for f in reply.media] == [
        (200, "image/png", PNG),
        (200, "application/pdf", PDF),
    ]
    out = m.Message.get((m.Message.ticket == ticket) & (m.Message.author_role == "agent"))
    assert out.channel == "sms" and sorted(a.filename for a in out.attachments) == ["guide.png", "label.pdf"]
    assert events(ticket, "agent_files_sent")[0].data["as"] == "files"
    assert not events(ticket, "agent_files_not_sent")
    assert team.slack.reactions[(CHANNEL, ts)] == ["white_check_mark"]


def test_past_twilios_mms_limits_the_files_go_as_links_in_the_text_and_the_thread_says_so(team):
    ticket = team.customer_texts("Please send me all the manuals")
    files = [(f"manual-{i}.pdf", PDF + bytes([i]), "application/pdf") for i in range(11)]  # 11 > 10 media
    _, (outcome,) = agent_sends_files(team, ticket, "All eleven manuals:", files)
    assert outcome.action == "replied"
    texts = team.twilio.wait_for(2)[1:]
    assert not any(t.media_urls for t in texts)
    body = "".join(t.body for t in texts)
    assert body.startswith("All eleven manuals:") and "Files (links valid until" in body
    links = [line.split(": ", 1)[1] for line in body.splitlines() if line.startswith("manual-")]
    assert len(links) == 11
    got = requests.get(links[3].split()[0], timeout=30)
    assert got.status_code == 200 and got.content == PDF + bytes([3])
    said = notices(team)[-1]
    assert "over Twilio" in said and "download links in the text" in said and "manual-0.pdf" in said
    assert events(ticket, "agent_files_sent")[0].data["as"] == "links"


def test_without_a_public_url_an_sms_customer_gets_the_text_and_the_thread_says_why(team):
    team.configure(public_url="")
    ticket = team.customer_texts("Is there a manual?")
    _, (outcome,) = agent_sends_files(team, ticket, "I attached the manual.", [("manual.pdf", PDF, "application/pdf")])
    reply = team.twilio.wait_for(2)[-1]
    assert reply.body == "I attached the manual." and not reply.media_urls
    assert "HELPLINE_PUBLIC_URL" in notices(team)[-1]
    (refused,) = events(ticket, "agent_files_not_sent")
    assert refused.data["files"] == ["manual.pdf"]


# ---- Slack customers: re-uploaded into their thread ----------------------------------------------
CARLA = "U0CARLA01"


def test_files_to_a_slack_customer_are_uploaded_into_their_thread_with_the_answer(team):
    team.slack.add_user(CARLA, "Carla Customer", "carla@client.example")
    root = next_ts()
    event = {
        "type": "message",
        "channel": CUSTOMERS,
        "user": CARLA,
        "text": "Where is the export guide?",
        "ts": root,
        "channel_type": "channel",
    }
    _, (created,) = team.agent_says("", "", event=event, ts=root)
    ticket = m.Ticket.get_by_id(created.ticket_id)
    ts, (outcome,) = agent_sends_files(
        team, ticket, "The guide is attached.", [("export.pdf", PDF, "application/pdf"), ("step.png", PNG, "image/png")]
    )
    assert outcome.action == "replied"
    # files_upload_v2's three steps: an upload URL per file, the bytes, one share into the customer's thread
    assert len(team.slack.calls_of("files.getUploadURLExternal")) == 2
    (done,) = team.slack.calls_of("files.completeUploadExternal")
    assert (done.args["channel_id"], done.args["thread_ts"]) == (CUSTOMERS, root)
    assert "Dana Agent" in done.args["blocks"] and "The guide is attached." in done.args["blocks"]
    assert [(f["name"], f["data"], f["channel"], f["thread_ts"]) for f in team.slack.shared_files] == [
        ("export.pdf", PDF, CUSTOMERS, root),
        ("step.png", PNG, CUSTOMERS, root),
    ]
    # the answer is that one upload: no second, text-only post in the customer's thread
    assert not [
        c
        for c in team.slack.calls_of("chat.postMessage")
        if c.args["channel"] == CUSTOMERS and "guide is attached" in json.dumps(c.args.get("blocks"))
    ]
    assert team.slack.reactions[(CHANNEL, ts)] == ["white_check_mark"]
    assert events(ticket, "agent_files_sent")[0].data["files"] == ["export.pdf", "step.png"]


def test_a_failed_share_is_retried_without_posting_the_answer_twice(team):
    from helpline.notifier.deliver import deliver_due

    team.slack.add_user(CARLA, "Carla Customer", "carla@client.example")
    team.configure(outbox_retry_base_s=0.0)
    root = next_ts()
    event = {
        "type": "message",
        "channel": CUSTOMERS,
        "user": CARLA,
        "text": "Send the invoice please",
        "ts": root,
        "channel_type": "channel",
    }
    _, (created,) = team.agent_says("", "", event=event, ts=root)
    ticket = m.Ticket.get_by_id(created.ticket_id)
    team.slack.fail("files.completeUploadExternal", "internal_error")
    agent_sends_files(team, ticket, "Invoice attached.", [("invoice.pdf", PDF, "application/pdf")])
    row = m.Outbox.get((m.Outbox.ticket == ticket) & (m.Outbox.kind == "reply"))
    assert row.status == "failed" and "internal_error" in row.last_error  # visible, with Slack's reason
    assert "not delivered" in notices(team)[-1]
    assert not team.slack.shared_files
    # A retried share (a temporary failure) shares once
    team.slack.rate_limit("files.completeUploadExternal", retry_after=0)
    ts2, _ = agent_sends_files(team, ticket, "Invoice attached, again.", [("invoice.pdf", PDF, "application/pdf")])
    deliver_due(team.settings, team.senders["slack"])
    assert len(team.slack.shared_files) == 1


# ---- the new ticket's post links the customer's files -----------------------------------------
def test_the_ticket_post_links_the_customers_files_and_the_links_work(team):
    ticket = team.app_posts(files=[("screenshot.png", "image/png", PNG), ("log <!channel>.txt", "text/plain", b"E7")])
    parent = team.slack.calls_of("chat.postMessage")[0]
    assert parent.args["channel"] == CHANNEL
    context = [
        b
        for b in json.loads(json.dumps(parent.args["blocks"]))
        if b["type"] == "context" and ":paperclip:" in b["elements"][0]["text"]
    ][0]["elements"][0]["text"]
    links = [part.split("|")[0].lstrip("<") for part in context.split(":paperclip: ")[1].split(", ")]
    assert len(links) == 2 and all(url.startswith(team.public_url + "/files/") for url in links)
    assert "<!channel" not in context  # the customer's file name stays inert (escaping: test_slack_blocks)
    assert requests.get(links[0], timeout=30).content == PNG
    assert requests.get(links[1], timeout=30).content == b"E7"
    assert ticket.channel == "webhook"


def test_without_links_the_post_names_the_files_as_before():
    card = slack_blocks.TicketCard(
        number="HL-1",
        subject="s",
        status="new",
        priority="low",
        channel="email",
        attachments=[("a.pdf", 2048), ("b|c>.txt", 10, "https://h.example/files/1.2.x")],
    )
    text = json.dumps(slack_blocks.ticket_message(card)["blocks"])
    assert "a.pdf (2 KB)" in text and "<https://h.example/files/1.2.x|b|c&gt;.txt> (10 B)" in text


# ---- webhook tickets: the answer is a ticket.replied event with signed links ---------------------
def test_a_slack_reply_to_a_webhook_ticket_reaches_the_sources_app_with_file_links(team, receiver):
    ticket = team.app_posts(subject="Cannot upload avatar", text="The app says 'error 9'.")
    ts, (outcome,) = agent_sends_files(
        team, ticket, "Fixed; this is what you should see now.", [("expected.png", PNG, "image/png")]
    )
    assert outcome.action == "replied"
    replied = [e for e in receiver.events() if e["type"] == "ticket.replied"]
    (event,) = replied
    msg = event["message"]
    assert (msg["author_role"], msg["channel"], msg["text"]) == (
        "agent",
        "webhook",
        "Fixed; this is what you should see now.",
    )
    (f,) = msg["files"]
    assert (f["filename"], f["content_type"], f["size"], msg["attachments"]) == (
        "expected.png",
        "image/png",
        len(PNG),
        1,
    )
    assert f["url"].startswith(team.public_url + "/files/") and f["expires_at"].endswith("Z")
    assert requests.get(f["url"], timeout=30).content == PNG
    out = m.Message.get((m.Message.ticket == ticket) & (m.Message.author_role == "agent"))
    assert out.channel == "webhook"
    rows = list(
        m.Outbox.select().where(
            (m.Outbox.ticket == ticket) & (m.Outbox.channel == "webhook") & (m.Outbox.out_message == out.id)
        )
    )
    assert [r.status for r in rows] == ["sent"]
    assert team.slack.reactions[(CHANNEL, ts)] == ["white_check_mark"]  # confirmed once the app had it


def test_a_refused_webhook_delivery_is_shown_in_the_thread(team, receiver):
    ticket = team.app_posts(subject="Refund", text="Where is my refund?")
    receiver.script = [400]
    _, (outcome,) = team.agent_says("Refund issued today.", parent_ts(ticket.id))
    assert outcome.action == "replied"
    row = m.Outbox.get(
        (m.Outbox.ticket == ticket) & (m.Outbox.channel == "webhook") & m.Outbox.out_message.is_null(False)
    )
    assert row.status == "failed" and "answered 400" in row.last_error
    assert "not delivered" in notices(team)[-1] and "answered 400" in notices(team)[-1]


def test_a_source_without_a_callback_url_is_refused_in_the_thread(team, receiver):
    ticket = team.app_posts(subject="Password", text="Reset please")
    team.configure(webhook_callbacks="")
    _, (outcome,) = team.agent_says("Done, check your inbox.", parent_ts(ticket.id))
    assert outcome.action == "noop"
    assert "without a callback URL" in notices(team)[-1]
    assert not m.Message.select().where((m.Message.ticket == ticket) & (m.Message.author_role == "agent")).exists()
    assert events(ticket, "agent_reply_not_sent")


def test_a_webhook_answer_waits_out_the_undo_window_and_can_be_withdrawn(team, receiver):
    from helpline.store.channels import slack_state

    ticket = team.app_posts(subject="Plan change", text="Switch me to the yearly plan")
    team.configure(slack_undo_seconds=30.0)
    _, (outcome,) = team.agent_says("Switched to yearly.", parent_ts(ticket.id))
    assert outcome.action == "replied" and len(outcome.delayed) == 1
    oid, seconds = outcome.delayed[0]
    assert seconds == 30.0 and m.Outbox.get_by_id(oid).status == "pending"
    offer = team.slack.calls_of("chat.postEphemeral")[-1]
    assert "the source's app" in json.dumps(offer.args["blocks"])
    assert slack_state.withdraw_reply(oid, "slack:U0AGENT01") == "withdrawn"
    assert m.Outbox.get_by_id(oid).status == "suppressed"
    assert not [e for e in receiver.events() if e["type"] == "ticket.replied"]
    assert slack_state.withdraw_reply(oid, "slack:U0AGENT01") == "too_late"
