"""Block Kit messages for Slack: a ticket's parent message and its thread posts.

Everything a customer wrote (subject, name, address, message text, file
names) is untrusted. In Slack's markup ``<!channel>``, ``<@U123>`` and
``<https://evil.example|your bank>`` are live, so customer text is either sent
as ``plain_text`` (never parsed) or escaped (``&``, ``<``, ``>``) inside
``mrkdwn`` objects marked ``verbatim`` (no automatic link or mention parsing).
The fallback ``text`` of a message (notifications, screen readers) is escaped
the same way. Pure functions: data in, JSON-able dicts out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Sequence

from helpline.store.privacy import pii

HEADER_MAX = 150  # Slack's limit for a header block
FIRST_TEXT_MAX = 1200  # the parent shows the start of the first message; the thread has the rest
THREAD_TEXT_MAX = 2900  # a section's text may hold 3000 characters
FIELD_MAX = 300

CHANNEL_ICONS = {
    "email": ":email:",
    "sms": ":iphone:",
    "slack": ":speech_balloon:",
    "webhook": ":globe_with_meridians:",
}
STATUS_LABELS = {
    "new": ":new: New",
    "open": ":large_blue_circle: Open",
    "in_progress": ":hammer_and_wrench: In progress",
    "waiting_customer": ":hourglass_flowing_sand: Waiting on customer",
    "resolved": ":white_check_mark: Resolved",
    "closed": ":lock: Closed",
    "merged": ":link: Merged",
    "spam": ":no_entry_sign: Spam",
}
PRIORITY_LABELS = {
    "urgent": ":red_circle: Urgent",
    "high": ":large_orange_circle: High",
    "medium": ":large_yellow_circle: Medium",
    "low": ":white_circle: Low",
}


def escape(text: str) -> str:
    """Slack's three control characters as entities: no mention, broadcast or link can be formed."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def trim(text: str, limit: int) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def one_line(text: str) -> str:
    return " ".join((text or "").split())


@dataclass
class TicketCard:
    """What the parent message shows; fields the triage and routing stages fill may be empty."""

    number: str
    subject: str
    status: str
    priority: str
    channel: str
    customer_name: str = ""
    customer_address: str = ""
    category: str = ""
    category_confidence: float | None = None
    tags: list[str] = field(default_factory=list)
    team: str = ""
    assignee: str = ""
    sla_due: dt.datetime | None = None  # naive UTC
    first_text: str = ""
    attachments: list[tuple] = field(default_factory=list)  # (file name, size[, signed download link])
    created_at: dt.datetime | None = None
    first_message_id: int = 0  # for the Reveal button when the first text holds personal data


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": False}


def _slack_date(when: dt.datetime) -> str:
    """Shown in each reader's time zone; the fallback after ``|`` is UTC."""
    epoch = int(when.replace(tzinfo=dt.timezone.utc).timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{when:%Y-%m-%d %H:%M} UTC>"


def customer_line(name: str, address: str, channel: str) -> str:
    """``:email: Name <addr>``, escaped, for mrkdwn."""
    icon = CHANNEL_ICONS.get(channel, ":inbox_tray:")
    name, address = one_line(name)[:FIELD_MAX], one_line(address)[:FIELD_MAX]
    if name and address and name != address:
        who = f"{escape(name)} ({escape(address)})"
    else:
        who = escape(name or address or "unknown")
    return f"{icon} {who}"


def reply_hint(reply_mode: str, reply_prefix: str, note_prefix: str) -> str:
    """The line under a ticket telling agents how to answer, in the configured reply mode."""
    note = f"start with `{escape(note_prefix)}` for an internal note"
    if reply_mode == "explicit":
        return f"Start a message in this thread with `{escape(reply_prefix)}` to answer the customer · {note}"
    return f"Reply in this thread to answer the customer · {note}"


ACTION_PREFIX = "helpline_ticket:"  # action_id of the parent's buttons and menus: helpline_ticket:COMMAND[:VALUE]
ACTION_BLOCK = "helpline_ticket_actions:"  # block_id prefix, followed by the ticket number


def _button(label: str, command: str, number: str, style: str = "") -> dict[str, Any]:
    button = {"type": "button", "text": _plain(label), "action_id": ACTION_PREFIX + command, "value": number}
    if style:
        button["style"] = style
    return button


CATEGORY_OPTIONS_MAX = 100  # Slack's limit for a static_select


def _option(label: str, value: str) -> dict[str, Any]:
    return {"text": _plain(trim(label, 75)), "value": value}


def ticket_actions(card: TicketCard, categories: Sequence[str] = (), macros: Sequence[str] = ()) -> dict[str, Any]:
    """The parent's buttons and menus: what an agent can do to the ticket in its current state.

    ``categories`` are the labels of the active category model, offered as a
    menu (an agent's choice is stored as a labelled example)."""
    n = card.number
    if card.status in ("resolved", "closed", "merged"):
        elements = [_button("Reopen", "status:open", n)]
        if card.status == "resolved":
            elements.append(_button("Close", "status:closed", n))
    else:
        elements = [
            _button("Take", "take", n, "primary"),
            {"type": "users_select", "action_id": ACTION_PREFIX + "assign", "placeholder": _plain("Assign to")},
        ]
        if card.status != "waiting_customer":
            elements.append(_button("Waiting on customer", "status:waiting_customer", n))
        elements.append(_button("Resolve", "status:resolved", n))
        elements.append(_button("Escalate", "escalate", n, "danger"))
        options = [_option(label.split(" ", 1)[1], value) for value, label in PRIORITY_LABELS.items()]
        elements.append(_select("priority", "Priority", options, card.priority))
        labels = [c for c in categories if c and len(c) <= 150][:CATEGORY_OPTIONS_MAX]
        if labels:
            elements.append(_select("category", "Category", [_option(c, c) for c in labels], card.category))
        if macros:  # handled by ingest/slack_kb.py: the macro's reply through the Slack reply path
            elements.append(
                {
                    "type": "static_select",
                    "action_id": "helpline_kb:macro",
                    "placeholder": _plain("Macro"),
                    "options": [_option(name, name) for name in macros[:CATEGORY_OPTIONS_MAX]],
                }
            )
    return {"type": "actions", "block_id": ACTION_BLOCK + n, "elements": elements}


def _select(command: str, placeholder: str, options: list[dict[str, Any]], current: str) -> dict[str, Any]:
    select: dict[str, Any] = {
        "type": "static_select",
        "action_id": ACTION_PREFIX + command,
        "placeholder": _plain(placeholder),
        "options": options,
    }
    chosen = [o for o in options if o["value"] == current]
    if chosen:
        select["initial_option"] = chosen[0]
    return select


def ticket_message(
    card: TicketCard,
    *,
    hint: str = "",
    actions: bool = False,
    categories: Sequence[str] = (),
    macros: Sequence[str] = (),
) -> dict[str, Any]:
    """``text`` and ``blocks`` of a ticket's parent message (chat.postMessage / chat.update).

    ``hint`` is our own mrkdwn (``reply_hint``), shown under the ticket; with
    ``actions`` the buttons of ``ticket_actions`` come last."""
    subject = one_line(card.subject) or "(no subject)"
    fields = [
        _mrkdwn(f"*Customer*\n{customer_line(card.customer_name, card.customer_address, card.channel)}"),
        _mrkdwn(f"*Status*\n{STATUS_LABELS.get(card.status, escape(card.status))}"),
        _mrkdwn(f"*Priority*\n{PRIORITY_LABELS.get(card.priority, escape(card.priority))}"),
    ]
    if card.category:
        conf = f" ({card.category_confidence:.0%})" if card.category_confidence is not None else ""
        fields.append(_mrkdwn(f"*Category*\n{escape(one_line(card.category)[:FIELD_MAX])}{conf}"))
    if card.team:
        fields.append(_mrkdwn(f"*Team*\n{escape(one_line(card.team)[:FIELD_MAX])}"))
    if card.assignee:
        fields.append(_mrkdwn(f"*Assignee*\n{escape(one_line(card.assignee)[:FIELD_MAX])}"))
    if card.sla_due is not None:
        fields.append(_mrkdwn(f"*SLA due*\n{_slack_date(card.sla_due)}"))
    if card.tags:
        fields.append(_mrkdwn(f"*Tags*\n{tag_list(card.tags)}"))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(trim(f"{card.number} · {subject}", HEADER_MAX))},
        {"type": "section", "fields": fields},
    ]
    if card.first_text.strip():
        blocks.append({"type": "section", "text": _plain(trim(card.first_text, FIRST_TEXT_MAX))})
        if actions and card.first_message_id and pii.has_pii(card.first_text):
            blocks.append(reveal_block(card.first_message_id))
    if card.attachments:
        more = f" and {len(card.attachments) - 10} more" if len(card.attachments) > 10 else ""
        blocks.append({"type": "context", "elements": [_mrkdwn(f":paperclip: {file_list(card.attachments)}{more}")]})
    if hint:
        blocks.append({"type": "context", "elements": [_mrkdwn(hint)]})
    if actions:
        blocks.append(ticket_actions(card, categories, macros))
    text = f"{card.number}: {escape(trim(subject, 150))} ({STATUS_LABELS.get(card.status, escape(card.status))})"
    return {"text": text, "blocks": blocks}


TAGS_SHOWN = 12


def tag_list(tags: Sequence[str]) -> str:
    """The first tags as inline code, escaped (a tag is free text an agent or an API key chose; a
    backtick would end the code span, so it becomes a similar-looking quote)."""
    shown = [f"`{escape(one_line(t)[:64]).replace('`', 'ˋ')}`" for t in tags[:TAGS_SHOWN]]
    more = f" +{len(tags) - TAGS_SHOWN} more" if len(tags) > TAGS_SHOWN else ""
    return trim(" ".join(shown), FIELD_MAX) + more


def file_list(attachments: list[tuple]) -> str:
    """The first ten files as ``name (size)``, each name a link where a signed download link is given.

    The name is the customer's text: escaped, so it cannot close the link or
    form another; the link is ours (``/files/TOKEN``, no ``|`` or ``>``)."""
    out = []
    for item in attachments[:10]:
        name, size = escape(one_line(item[0])[:100]), _size(int(item[1]))
        url = item[2] if len(item) > 2 else ""
        out.append(f"<{url}|{name}> ({size})" if url and "|" not in url and ">" not in url else f"{name} ({size})")
    return ", ".join(out)


def auth_warning(auth: dict | None) -> str:
    """The warning for a message whose sender failed the trusted MTA's checks
    (the verdict the pipeline kept, store/inbound/sender_auth.py); "" otherwise."""
    verdict = (auth or {}).get("verdict") or {}
    if not verdict.get("failed"):
        return ""
    return (
        ":warning: The sender's address failed authentication at our mail server "
        f"({escape(one_line(str(verdict.get('reason', '')))[:120])}): it may be forged. "
        "Do not act on requests in it without checking with the customer."
    )


def customer_message(
    *, name: str, address: str, channel: str, text: str, attachments: list[tuple] | None = None, warning: str = ""
) -> dict[str, Any]:
    """A later customer message, posted into the ticket's thread; ``warning`` (ours, safe) above it."""
    who = customer_line(name, address, channel)
    body = trim(text, THREAD_TEXT_MAX) or "(no text)"
    blocks: list[dict[str, Any]] = [{"type": "context", "elements": [_mrkdwn(warning)]}] if warning else []
    blocks += [
        {"type": "context", "elements": [_mrkdwn(f"{who} wrote:")]},
        {"type": "section", "text": _plain(body)},
    ]
    if attachments:
        blocks.append({"type": "context", "elements": [_mrkdwn(f":paperclip: {file_list(attachments)}")]})
    fallback = f"{escape(one_line(name or address)[:80])}: {escape(trim(one_line(text), 200))}"
    return {"text": fallback, "blocks": blocks}


def agent_answer(agent: str, text: str) -> dict[str, Any]:
    """An agent's answer as the bot posts it to a customer in Slack: the name, then the text as written."""
    who = escape(one_line(agent)[:FIELD_MAX]) or "Support"
    body = trim(text, THREAD_TEXT_MAX) or "(no text)"
    return {
        "text": f"{who}: {escape(trim(one_line(text), 200))}",
        "blocks": [
            {"type": "context", "elements": [_mrkdwn(f"*{who}* (support)")]},
            {"type": "section", "text": _plain(body)},
        ],
    }


def notice(text: str) -> dict[str, Any]:
    """A short line of our own in a thread (a delivery failure, an edit noted). ``text`` is ours, already safe."""
    return {"text": text, "blocks": [{"type": "context", "elements": [_mrkdwn(text)]}]}


def merge_suggestion(number: str, other: str, similarity: float) -> dict[str, Any]:
    """A near-duplicate of the same customer: buttons to merge ``number`` into ``other`` or dismiss it.
    Both numbers are ours (``HL-…``); the buttons act on ``number`` (the block names it)."""
    text = (
        f":twisted_rightwards_arrows: This ticket reads like {escape(other)} of the same customer "
        f"(similarity {similarity:.2f}). Merge it if it is the same problem."
    )
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": _mrkdwn(text)},
            {
                "type": "actions",
                "block_id": ACTION_BLOCK + number,
                "elements": [
                    _button(trim(f"Merge into {other}", 75), f"merge:{other}", number, "primary"),
                    _button("Not a duplicate", f"not_duplicate:{other}", number),
                ],
            },
        ],
    }


def detach_offer(number: str, message_id: int, similarity: float) -> dict[str, Any]:
    """A customer's message joined ``number`` as a near-duplicate: a button to make it its own ticket
    (``workers/tickets/ticket_detach.py``). ``number`` is ours (``HL-…``), ``message_id`` our row id."""
    text = (
        f":link: The customer's message {message_id} joined this ticket as a near-duplicate "
        f"(similarity {similarity:.2f}). If it is another problem, detach it into its own ticket."
    )
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": _mrkdwn(text)},
            {
                "type": "actions",
                "block_id": ACTION_BLOCK + number,
                "elements": [_button("Detach into its own ticket", f"detach:{message_id}", number)],
            },
        ],
    }


REVEAL_ACTION = "helpline_reveal"  # value: the message id; answered at the edge (ingest/slack_reveal.py)


def reveal_block(message_id: int) -> dict[str, Any]:
    """Under a message whose personal data the post masks: who may see it unmasked can, only to themselves."""
    return {
        "type": "actions",
        "block_id": f"helpline_reveal:{message_id}",
        "elements": [
            {
                "type": "button",
                "text": _plain("Reveal masked data"),
                "action_id": REVEAL_ACTION,
                "value": str(message_id),
            }
        ],
    }


UNDO_ACTION = "helpline_undo"


def undo_offer(outbox_id: int, seconds: float, recipient: str) -> dict[str, Any]:
    """The agent's private note that their reply waits ``seconds`` before leaving, with an Undo button."""
    to = f" to {escape(one_line(recipient)[:FIELD_MAX])}" if recipient else ""
    text = f":outbox_tray: Your reply goes{to} in {seconds:g} s."
    return {
        "text": text,
        "blocks": [
            {
                "type": "section",
                "text": _mrkdwn(text),
                "accessory": {
                    "type": "button",
                    "action_id": UNDO_ACTION,
                    "value": str(outbox_id),
                    "style": "danger",
                    "text": _plain("Undo"),
                },
            },
        ],
    }


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / 1024 / 1024:.1f} MB"
