"""Loop protection decisions, one row per rule (ARCHITECTURE.md, "No loops, no spam storms")."""

import pytest

from helpline.notifier.loops import Decision, autoreply_decision, reply_address

OWN = ("support@example.com", "Help Desk <help@example.com>")
LIMITS = dict(per_address_limit=3, global_limit=100)

CASES = [
    ("normal mail", {}, (0, 0), Decision(True, "ok")),
    (
        "auto-submitted",
        {"auto_reply": {"auto_submitted": "auto-replied", "reasons": ["auto_submitted"]}},
        (0, 0),
        Decision(False, "auto_submitted"),
    ),
    ("auto-submitted: no is human", {"auto_reply": {"auto_submitted": "no"}}, (0, 0), Decision(True, "ok")),
    (
        "precedence bulk",
        {"auto_reply": {"precedence": "bulk", "reasons": ["precedence"]}},
        (0, 0),
        Decision(False, "precedence_bulk"),
    ),
    (
        "precedence junk, no reasons filled",
        {"auto_reply": {"precedence": "Junk"}},
        (0, 0),
        Decision(False, "precedence_junk"),
    ),
    (
        "mailing list",
        {"auto_reply": {"list_id": "<users.lists.example.org>", "reasons": ["list_id"]}},
        (0, 0),
        Decision(False, "mailing_list"),
    ),
    ("bounce", {"auto_reply": {"bounce": True, "reasons": ["dsn"]}}, (0, 0), Decision(False, "bounce")),
    ("other ingest reason", {"auto_reply": {"reasons": ["Out of Office"]}}, (0, 0), Decision(False, "out_of_office")),
    ("null sender", {"sender": {"address": ""}}, (0, 0), Decision(False, "null_sender")),
    (
        "null sender with reply-to",
        {"sender": {"address": ""}, "reply_to": ["x@customer.example"]},
        (0, 0),
        Decision(False, "null_sender"),
    ),
    (
        "mailer-daemon",
        {"sender": {"address": "MAILER-DAEMON@mx.customer.example"}},
        (0, 0),
        Decision(False, "no_reply_address"),
    ),
    ("postmaster", {"sender": {"address": "postmaster@customer.example"}}, (0, 0), Decision(False, "no_reply_address")),
    ("noreply", {"sender": {"address": "noreply@shop.example"}}, (0, 0), Decision(False, "no_reply_address")),
    (
        "no-reply variant",
        {"sender": {"address": "no-reply.alerts@shop.example"}},
        (0, 0),
        Decision(False, "no_reply_address"),
    ),
    ("donotreply", {"sender": {"address": "DoNotReply@bank.example"}}, (0, 0), Decision(False, "no_reply_address")),
    (
        "bounces+tag",
        {"sender": {"address": "bounces+12345@mailer.example"}},
        (0, 0),
        Decision(False, "no_reply_address"),
    ),
    (
        "list-bounces",
        {"sender": {"address": "users-bounces@lists.example.org"}},
        (0, 0),
        Decision(False, "no_reply_address"),
    ),
    ("our own address", {"sender": {"address": "support@example.com"}}, (0, 0), Decision(False, "own_address")),
    (
        "our own plus variant",
        {"sender": {"address": "Support+billing@EXAMPLE.com"}},
        (0, 0),
        Decision(False, "own_address"),
    ),
    ("reply-to is ours", {"reply_to": ["help+x@example.com"]}, (0, 0), Decision(False, "own_address")),
    ("reply-to is noreply", {"reply_to": ["noreply@customer.example"]}, (0, 0), Decision(False, "no_reply_address")),
    ("garbage sender", {"sender": {"address": "not an address"}}, (0, 0), Decision(False, "invalid_recipient")),
    ("per-address limit", {}, (3, 3), Decision(False, "rate_limited_address")),
    ("just under the per-address limit", {}, (2, 2), Decision(True, "ok")),
    ("global limit", {}, (0, 100), Decision(False, "rate_limited_global")),
]


@pytest.mark.parametrize("name,changes,counts,expected", CASES, ids=[c[0] for c in CASES])
def test_autoreply_decision(make_envelope, name, changes, counts, expected):
    env = make_envelope(**changes)
    got = autoreply_decision(
        env, own_addresses=OWN, sent_to_address_last_hour=counts[0], sent_total_last_hour=counts[1], **LIMITS
    )
    assert got == expected


def test_decision_is_frozen():
    d = Decision(True, "ok")
    with pytest.raises(AttributeError):
        d.send = False  # type: ignore[misc]


@pytest.mark.parametrize(
    "reply_to,expected",
    [
        ([], "ann@customer.example"),
        (["Ann Work <ann.work@customer.example>"], "ann.work@customer.example"),
        (["a@customer.example", "b@customer.example"], "ann@customer.example"),  # several: not trusted
        (["a@customer.example, b@customer.example"], "ann@customer.example"),
        (["garbage"], "ann@customer.example"),
        (["x@nodot"], "ann@customer.example"),
    ],
)
def test_reply_address(make_envelope, reply_to, expected):
    assert reply_address(make_envelope(reply_to=reply_to)) == expected
