"""The contact form's pages: plain HTML, usable without JavaScript or CSS, accessible.

Every input has a visible ``<label>``; required fields say so in words and with
``required``; errors are listed at the top in a ``role="alert"`` summary whose
entries link to their fields, and each field names its own error through
``aria-describedby`` and ``aria-invalid``. The honeypot field sits in a block
hidden from sight and from assistive technology (``aria-hidden``, out of the
tab order), labelled so that a person who somehow reaches it leaves it empty.
Everything the visitor typed is escaped before it is shown again.
"""

from __future__ import annotations

from html import escape
from typing import Mapping

TITLE = "Contact support"
HONEYPOT = "website"

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1a1a1a}
label{display:block;font-weight:600;margin-top:1rem}
input,textarea{width:100%;box-sizing:border-box;padding:.5rem;font:inherit;border:1px solid #555;border-radius:4px}
textarea{min-height:10rem}
input:focus,textarea:focus,button:focus{outline:3px solid #1565c0;outline-offset:2px}
.hint{font-weight:400;color:#444}
.error{color:#b00020;font-weight:600;margin:.25rem 0 0}
[aria-invalid=true]{border:2px solid #b00020}
.summary{border:2px solid #b00020;padding:.5rem 1rem;margin:1rem 0}
.hp{position:absolute;left:-10000px;top:auto;width:1px;height:1px;overflow:hidden}
button{margin-top:1.5rem;padding:.6rem 1.4rem;font:inherit;background:#1565c0;color:#fff;border:0;border-radius:4px}
"""

# (name, label, input type, required, hint)
FIELDS = (
    ("name", "Your name", "text", False, ""),
    ("email", "Email address", "email", True, "We send the ticket number and our answers here."),
    ("subject", "Subject", "text", True, ""),
    ("message", "Message", "textarea", True, ""),
)


def _page(body: str, title: str = TITLE) -> str:
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body><main>\n{body}\n</main></body></html>\n"
    )


def form_page(
    token: str,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    notice: str = "",
    action: str = "/contact",
) -> str:
    """The form; with ``errors`` (field -> message) the fields say what to fix."""
    values = values or {}
    errors = errors or {}
    out = [f"<h1>{TITLE}</h1>"]
    if notice:
        out.append(f'<p role="alert" class="summary">{escape(notice)}</p>')
    if errors:
        items = "".join(
            f'<li><a href="#{escape(f)}">{escape(msg)}</a></li>'
            for f, msg in errors.items()
            if f in {n for n, *_ in FIELDS} or f == "attachments"
        )
        general = "".join(
            f"<li>{escape(msg)}</li>"
            for f, msg in errors.items()
            if f not in {n for n, *_ in FIELDS} and f != "attachments"
        )
        out.append(
            f'<div role="alert" class="summary" id="errors"><h2>Please correct the following</h2>'
            f"<ul>{items}{general}</ul></div>"
        )
    out.append(f'<form method="post" action="{escape(action)}" enctype="multipart/form-data" novalidate>')
    out.append(f'<input type="hidden" name="csrf" value="{escape(token)}">')
    out.append('<p class="hint">Fields marked (required) must be filled in.</p>')
    for name, label, kind, required, hint in FIELDS:
        described = []
        mark = ' <span class="hint">(required)</span>' if required else ""
        out.append(f'<label for="{name}">{escape(label)}{mark}</label>')
        if hint:
            out.append(f'<p class="hint" id="{name}-hint">{escape(hint)}</p>')
            described.append(f"{name}-hint")
        if name in errors:
            out.append(f'<p class="error" id="{name}-error">{escape(errors[name])}</p>')
            described.append(f"{name}-error")
        attrs = f'id="{name}" name="{name}"' + (" required" if required else "")
        attrs += f' aria-describedby="{" ".join(described)}"' if described else ""
        attrs += ' aria-invalid="true"' if name in errors else ""
        auto = {"name": "name", "email": "email"}.get(name)
        attrs += f' autocomplete="{auto}"' if auto else ""
        value = escape(values.get(name, ""))
        if kind == "textarea":
            out.append(f"<textarea {attrs}>{value}</textarea>")
        else:
            out.append(f'<input type="{kind}" {attrs} value="{value}">')
    attachments_described = ' aria-describedby="attachments-error"' if "attachments" in errors else ""
    out.append('<label for="attachments">Attachments <span class="hint">(optional)</span></label>')
    if "attachments" in errors:
        out.append(f'<p class="error" id="attachments-error">{escape(errors["attachments"])}</p>')
    out.append(f'<input type="file" id="attachments" name="attachments" multiple{attachments_described}>')
    out.append(
        f'<div class="hp" aria-hidden="true"><label for="{HONEYPOT}">Leave this field empty</label>'
        f'<input type="text" id="{HONEYPOT}" name="{HONEYPOT}" tabindex="-1" autocomplete="off" value=""></div>'
    )
    out.append('<button type="submit">Send message</button></form>')
    return _page("\n".join(out))


def thanks_page(ticket_number: str = "") -> str:
    """After a message was accepted; without a number (not made yet, or a bot) it promises an email."""
    if ticket_number:
        said = (
            f'<p>Your ticket number is <strong id="ticket-number">{escape(ticket_number)}</strong>. '
            "Please keep it when you write to us about this request.</p>"
        )
    else:
        said = "<p>We will email you your ticket number shortly.</p>"
    return _page(f'<h1>Thank you</h1>\n<p role="status">We have received your message.</p>\n{said}', "Message received")


def problem_page(title: str, text: str) -> str:
    return _page(
        f'<h1>{escape(title)}</h1>\n<p role="alert">{escape(text)}</p>\n'
        '<p><a href="/contact">Back to the contact form</a></p>',
        title,
    )
