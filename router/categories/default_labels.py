"""The default model's label set, the Bitext intents mapped onto it, and the old labels' mapping.

The packaged default used to be the Bitext sample's 11 e-commerce categories
(ACCOUNT, INVOICE, REFUND, ...). A general support desk sorts mail into fewer,
broader piles, so the default now has the nine labels below. Desks whose
routing rules or team ``categories`` still name an old label keep working:
:func:`canonical` maps an old label to the label that replaced it, and the
routing stage compares canonical names (``LEGACY_LABELS`` is documented in
router/models/README.md).
"""

from __future__ import annotations

from typing import Iterable

BILLING = "billing_payments"
ACCOUNT = "account_login"
BUG = "bug_outage"
HOW_TO = "how_to"
ORDER = "order_delivery"
CANCEL = "cancellation_refund"
FEATURE = "feature_request"
FEEDBACK = "feedback_complaint"
OTHER = "other"

LABELS: tuple[str, ...] = (BILLING, ACCOUNT, BUG, HOW_TO, ORDER, CANCEL, FEATURE, FEEDBACK, OTHER)

# Bitext intent -> default label. By intent, not by Bitext's category: "cancel_order" is an
# ORDER there but a cancellation here.
BITEXT_INTENTS: dict[str, str] = {
    "cancel_order": CANCEL,
    "change_order": ORDER,
    "place_order": ORDER,
    "track_order": ORDER,
    "delivery_period": ORDER,
    "delivery_options": ORDER,
    "change_shipping_address": ORDER,
    "set_up_shipping_address": ORDER,
    "switch_account": ACCOUNT,
    "edit_account": ACCOUNT,
    "recover_password": ACCOUNT,
    "create_account": ACCOUNT,
    "delete_account": ACCOUNT,
    "registration_problems": ACCOUNT,
    "check_payment_methods": BILLING,
    "payment_issue": BILLING,
    "check_invoice": BILLING,
    "get_invoice": BILLING,
    "track_refund": CANCEL,
    "get_refund": CANCEL,
    "check_refund_policy": CANCEL,
    "check_cancellation_fee": CANCEL,
    "contact_human_agent": OTHER,
    "contact_customer_service": OTHER,
    "complaint": FEEDBACK,
    "review": FEEDBACK,
    "newsletter_subscription": OTHER,
}

# The previous default's labels -> the label that replaced each (compared case-insensitively).
LEGACY_LABELS: dict[str, str] = {
    "account": ACCOUNT,
    "cancellation_fee": CANCEL,
    "contact": OTHER,
    "delivery": ORDER,
    "feedback": FEEDBACK,
    "invoice": BILLING,
    "newsletter": OTHER,
    "order": ORDER,
    "payment": BILLING,
    "refund": CANCEL,
    "shipping_address": ORDER,
}


def canonical(category: str) -> str:
    """A category name as the default model spells it: an old label becomes its replacement;
    any other name is only lower-cased (a desk's own labels are left alone)."""
    name = (category or "").strip().lower()
    return LEGACY_LABELS.get(name, name)


def unknown_categories(configured: Iterable[str], known: Iterable[str]) -> list[str]:
    """The configured category names that no known model label answers to, even through the old
    labels' mapping: a team or rule naming one of them never matches a classified ticket."""
    known_names = {canonical(k) for k in known} | {"unclassified"}
    return sorted({c for c in configured if c and canonical(c) not in known_names})
