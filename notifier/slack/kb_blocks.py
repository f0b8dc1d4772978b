"""Slack blocks of a suggested answer in a ticket's thread.

An article gets **Send this answer** and **Edit first**; a similar resolved
ticket only **Edit first**, because its reply was written for another customer
and may hold their details. Every suggestion also has **Dismiss**, so what
agents do with suggestions can be counted. The buttons carry the suggestion's
id; the click comes back to ``ingest/slack_kb.py``.
"""

from __future__ import annotations

from typing import Any

from helpline.notifier.slack.slack_blocks import _mrkdwn, _plain, escape, one_line, trim

KB_ACTION = "helpline_kb:"  # action_id prefix: helpline_kb:send|edit|dismiss, value = the suggestion's id
EDIT_CALLBACK = "helpline_kb_edit"  # the Edit-first modal's callback_id


def _button(label: str, command: str, suggestion_id: int, style: str = "") -> dict[str, Any]:
    b = {"type": "button", "text": _plain(label), "action_id": KB_ACTION + command, "value": str(suggestion_id)}
    if style:
        b["style"] = style
    return b


def suggestion(
    suggestion_id: int, kind: str, ref: str, title: str, score: float, why: str, excerpt: str, *, buttons: bool = True
) -> dict[str, Any]:
    if kind == "article":
        head = f":bulb: Suggested article *{escape(trim(one_line(title), 150))}* (`{escape(ref)}`, score {score:.1f})"
        elements = [
            _button("Send this answer", "send", suggestion_id, "primary"),
            _button("Edit first", "edit", suggestion_id),
        ]
    else:
        head = f":mag: Similar resolved ticket *{escape(ref)}* (score {score:.1f})"
        elements = [_button("Edit first", "edit", suggestion_id)]
    elements.append(_button("Dismiss", "dismiss", suggestion_id))
    lines = [head]
    if why:
        lines.append(f"_Why:_ {escape(trim(one_line(why), 200))}")
    if excerpt:
        lines.append("> " + escape(trim(one_line(excerpt), 280)))
    text = "\n".join(lines)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": _mrkdwn(text)}]
    if buttons:
        blocks.append({"type": "actions", "block_id": f"helpline_kb_suggestion:{suggestion_id}", "elements": elements})
    return {"text": text, "blocks": blocks}


def acted(text: str) -> dict[str, Any]:
    return {"text": text, "blocks": [{"type": "context", "elements": [_mrkdwn(text)]}]}


def edit_modal(suggestion_id: int, text: str, metadata: str) -> dict[str, Any]:
    """The Edit-first modal: the suggested text in a box the agent changes before it goes."""
    return {
        "type": "modal",
        "callback_id": EDIT_CALLBACK,
        "private_metadata": metadata,
        "title": _plain("Edit the answer"),
        "submit": _plain("Send"),
        "close": _plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": "answer",
                "label": _plain("Answer to the customer"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "text",
                    "multiline": True,
                    "initial_value": trim(text, 2900),
                },
            }
        ],
    }
