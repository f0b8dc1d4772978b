"""Block Kit rendering, Slack markup to text, and what an agent's message means: pure functions."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from helpline.ingest.channels.slack_envelope import slack_to_text
from helpline.notifier.slack import slack_blocks as sb
from helpline.workers.slack.slack_intent import classify

HOSTILE = "<!channel> <!here|here> <@U0BOSS> <https://evil.example/login|Your bank> & <#C0GENERAL>"


def walk_texts(blocks: list) -> list[dict]:
    """Every text object (plain_text or mrkdwn) in a message's blocks."""
    found = []

    def visit(node):
        if isinstance(node, dict):
            if node.get("type") in ("plain_text", "mrkdwn") and "text" in node:
                found.append(node)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(blocks)
    return found


def card(**over) -> sb.TicketCard:
    base = dict(
        number="HL-2026-000042",
        subject="Printer on fire",
        status="new",
        priority="high",
        channel="email",
        customer_name="Alice Customer",
        customer_address="alice@example.org",
        first_text="Hello,\nmy printer is on fire.",
    )
    base.update(over)
    return sb.TicketCard(**base)


def test_escape_neutralises_slack_control_characters():
    assert sb.escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert sb.escape("&amp;") == "&amp;amp;"  # an entity the customer typed stays literal


@pytest.mark.parametrize(
    "field", ["subject", "customer_name", "customer_address", "first_text", "category", "assignee", "team"]
)
def test_customer_text_never_forms_a_mention_or_link_in_the_parent(field):
    msg = sb.ticket_message(card(**{field: HOSTILE}), hint=sb.reply_hint("thread", ">>", "#note"))
    for obj in walk_texts(msg["blocks"]):
        if obj["type"] == "mrkdwn":
            assert obj.get("verbatim") is True  # no automatic link or mention parsing
            assert "<!channel>" not in obj["text"] and "<@U0BOSS>" not in obj["text"]
            assert "<https://evil" not in obj["text"] and "<#C0GENERAL>" not in obj["text"]
        else:  # plain_text is never parsed by Slack; the customer's words arrive as written
            assert obj["type"] == "plain_text"
    assert "<!channel>" not in msg["text"] and "<https://evil" not in msg["text"] and "<@U0BOSS>" not in msg["text"]
    blob = json.dumps(msg)
    assert "evil.example" in blob  # shown, as text, not dropped


def test_hostile_thread_message_and_file_names_are_escaped():
    msg = sb.customer_message(
        name="<!everyone>", address="<@U0BOSS>", channel="sms", text=HOSTILE, attachments=[("<!channel>.pdf", 2048)]
    )
    for obj in walk_texts(msg["blocks"]):
        if obj["type"] == "mrkdwn":
            assert "<!" not in obj["text"] and "<@" not in obj["text"] and obj["verbatim"] is True
    body = [o for o in walk_texts(msg["blocks"]) if o["type"] == "plain_text"]
    assert body and body[0]["text"] == HOSTILE
    assert "<" not in msg["text"]


def test_parent_shows_the_ticket_and_leaves_out_what_is_not_known_yet():
    msg = sb.ticket_message(card())
    blob = json.dumps(msg)
    assert msg["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "HL-2026-000042 · Printer on fire", "emoji": False},
    }
    assert "Alice Customer (alice@example.org)" in blob and ":email:" in blob
    assert "High" in blob and "New" in blob and "my printer is on fire" in blob
    assert "Category" not in blob and "SLA due" not in blob and "Assignee" not in blob


def test_parent_shows_category_confidence_sla_assignee_and_attachments_when_present():
    due = dt.datetime(2026, 3, 2, 14, 30)
    msg = sb.ticket_message(
        card(
            category="refund",
            category_confidence=0.834,
            sla_due=due,
            assignee="Dana",
            channel="sms",
            customer_name="",
            customer_address="+15551234567",
            attachments=[("invoice.pdf", 12_800)],
        )
    )
    blob = json.dumps(msg)
    assert "refund (83%)" in blob
    epoch = int(due.replace(tzinfo=dt.timezone.utc).timestamp())
    assert f"<!date^{epoch}^" in blob and "2026-03-02 14:30 UTC" in blob
    assert "Dana" in blob and ":iphone: +15551234567" in blob and "invoice.pdf (12 KB)" in blob


def test_long_texts_are_trimmed_within_slack_limits():
    msg = sb.ticket_message(card(subject="S" * 400, first_text="x" * 10_000))
    assert len(msg["blocks"][0]["text"]["text"]) <= sb.HEADER_MAX
    body = [o["text"] for o in walk_texts(msg["blocks"]) if o["type"] == "plain_text"][1]
    assert len(body) <= sb.FIRST_TEXT_MAX and body.endswith("…")
    thread = sb.customer_message(name="A", address="a@x", channel="email", text="y" * 10_000)
    assert all(len(o["text"]) <= 3000 for o in walk_texts(thread["blocks"]))


def test_reply_hint_follows_the_reply_mode():
    assert "Reply in this thread" in sb.reply_hint("thread", ">>", "#note")
    explicit = sb.reply_hint("explicit", ">>", "#note")
    assert "`&gt;&gt;`" in explicit and "`#note`" in explicit


@pytest.mark.parametrize(
    "markup,text",
    [
        (
            "Hi <@U0ALICE|alice>, see <https://example.com/x?a=1&amp;b=2|the guide>",
            "Hi @alice, see the guide (https://example.com/x?a=1&b=2)",
        ),
        ("<https://example.com>", "https://example.com"),
        ("mail <mailto:bob@example.org|bob@example.org>", "mail bob@example.org"),
        ("in <#C0GENERAL|general> <!here>", "in #general @here"),
        ("5 &lt; 6 &amp;&amp; 7 &gt; 3", "5 < 6 && 7 > 3"),
        ("&gt;&gt; Thanks", ">> Thanks"),
    ],
)
def test_slack_markup_becomes_plain_text(markup, text):
    assert slack_to_text(markup) == text


@pytest.mark.parametrize(
    "mode,text,kind,kept",
    [
        ("thread", "Thanks, refunded.", "reply", "Thanks, refunded."),
        ("thread", "#note customer is VIP", "note", "customer is VIP"),
        ("thread", "  #NOTE: check stock", "note", "check stock"),
        ("thread", ">> Sure", "reply", "Sure"),
        ("explicit", "let me check with billing", "discussion", "let me check with billing"),
        ("explicit", ">> Your refund is on its way", "reply", "Your refund is on its way"),
        ("explicit", "#note refund done", "note", "refund done"),
        ("thread", "#note", "empty", ""),
        ("thread", "   ", "empty", ""),
    ],
)
def test_what_an_agent_meant(mode, text, kind, kept):
    intent = classify(text, mode=mode, reply_prefix=">>", note_prefix="#note")
    assert (intent.kind, intent.text) == (kind, kept)


def test_the_card_shows_the_tickets_tags():
    msg = sb.ticket_message(card(tags=["vip", "refund", "bug/1234"]))
    fields = [f["text"] for b in msg["blocks"] if b["type"] == "section" for f in b.get("fields", [])]
    tagged = [f for f in fields if f.startswith("*Tags*")]
    assert tagged == ["*Tags*\n`vip` `refund` `bug/1234`"]
    assert not [f for f in fields if f.startswith("*Tags*")] or len(fields) <= 10  # Slack: ten fields at most
    none = sb.ticket_message(card())
    assert not [
        f
        for b in none["blocks"]
        if b["type"] == "section"
        for f in b.get("fields", [])
        if f["text"].startswith("*Tags*")
    ]


def test_tags_cannot_form_markup_or_flood_the_card():
    text = sb.tag_list(["<!channel>", "a`b", *[f"t{i}" for i in range(20)]])
    assert "<" not in text and "&lt;!channel&gt;" in text
    assert "`a`b`" not in text  # a backtick cannot end the code span early
    assert text.endswith("+10 more")
