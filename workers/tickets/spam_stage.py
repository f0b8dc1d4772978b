"""The spam stage: the MTA's spam verdict and the block list, honoured without losing anything.

``judge`` is the decision, a plain function of the message's facts:

- a sender or domain on the block list (TOML ``[blocklist]`` and ``helpline
  blocklist add``; a domain blocks its subdomains) is spam, on every channel;
- an email whose trusted MTA (HELPLINE_TRUSTED_AUTHSERV_ID) said so is spam:
  ``X-Spam-Flag: YES``, ``X-Spam-Status: Yes, score=…`` (SpamAssassin, and
  rspamd's milter), ``X-Spam: Yes`` or ``X-Spamd-Result: default: True […]``
  (rspamd), or a score above HELPLINE_SPAM_SCORE_MAX in either status header.
  Only headers *above* the trusted MTA's Authentication-Results count: the MTA
  prepends its headers, so anything below came with the message and may be
  written by the sender (``ingest/email/spam_headers.py`` keeps their order).
  Without a trusted MTA no spam header is believed.

``file`` is what the pipeline does with such mail: a ticket in the ``spam``
status with the message, never threaded into a customer's ticket, with no
acknowledgement, no Slack post and no SLA clock; a counter
(``helpline_spam_total``) is all agents are alerted with. It is listed for
review (``helpline tickets list --status spam``, the API's ``status=spam``)
and never deleted unseen; ``release`` (``helpline tickets not-spam``) puts it
into the normal flow as a new ticket.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from prometheus_client import Counter

from helpline.store.inbound import blocklist
from helpline.store.inbound import message_rows
from helpline.store.config import ConfigError, Settings
from helpline.store.siteconfig.config_file import site_config
from helpline.store.envelope import Envelope
from helpline.store.inbound.sender_auth import trusted_header
from helpline.store.statuses import InboundStatus, TicketStatus

from helpline.store.inbound import audit_events
from helpline.store.inbound import customer_refs
from helpline.store.inbound import inbound_state
from helpline.store.inbound import message_state
from helpline.store.inbound import thread_state
from helpline.store.tickets import ticket_refs
from helpline.workers.tickets import routing_stage
from helpline.workers.inbound import threads
from helpline.workers.tickets import ticket_ops
from helpline.workers.inbound.dedupe import body_hash

log = logging.getLogger("helpline.workers")

SPAM = Counter("helpline_spam_total", "Messages filed as spam, by why", ["source"])

_SCORE = re.compile(r"\bscore=(-?\d+(?:\.\d+)?)", re.IGNORECASE)
_RSPAMD = re.compile(r"^\s*\S+:\s*(true|false)\s*\[\s*(-?\d+(?:\.\d+)?)\s*/", re.IGNORECASE)


@dataclass(frozen=True)
class SpamVerdict:
    source: str  # blocklist or mta
    reason: str
    score: float | None = None


def _blocked(address: str, senders: Iterable[str], domains: Iterable[str]) -> str:
    address = (address or "").strip().lower()
    if not address:
        return ""
    local, _, domain = address.rpartition("@")
    if not domain.isascii():  # entries are kept as A-labels (blocklist.kind_of)
        domain = blocklist.ascii_domain(domain)
    listed = set(senders)
    if address in listed or f"{local}@{domain}" in listed:
        return f"the sender {address} is on the block list"
    for d in domains:
        if not d.isascii():  # the TOML file's entries may be U-labels
            d = blocklist.ascii_domain(d)
        if domain == d or domain.endswith("." + d):
            return f"the domain {d} is on the block list"
    return ""


def trusted_spam_headers(mta_headers: Sequence[Sequence[str]], auth: dict, authserv_id: str) -> list[tuple[str, str]]:
    """The spam headers above the trusted MTA's topmost Authentication-Results; [] when that MTA wrote none,
    or no MTA is trusted.

    The topmost, not the lowest of its run (OpenDMARC's and OpenDKIM's headers): a header between two
    of them could be the sender's if a forged one of the trusted id sat right below the MTA's, so the
    spam filter must add its headers after the authentication milters (above their headers)."""
    want = (authserv_id or "").strip().lower()
    if not want or trusted_header(auth, want) is None:
        return []
    out: list[tuple[str, str]] = []
    for item in mta_headers:
        if len(item) != 2:
            continue
        name, value = str(item[0]).lower(), str(item[1])
        if name == "authentication-results":
            parts = value.split(";", 1)[0].split()
            if parts and parts[0].lower() == want:
                return out
            continue  # an internal hop's header above the trusted one
        out.append((name, value))
    return []  # the trusted header was not among those kept (a flood above it): believe nothing


def _mta_verdict(headers: list[tuple[str, str]], score_max: float) -> SpamVerdict | None:
    for name, value in headers:
        v = value.strip()
        low = v.lower()
        score = None
        if name == "x-spamd-result":
            got = _RSPAMD.match(v)
            if got is None:
                continue
            score = float(got.group(2))
            if got.group(1).lower() == "true":
                return SpamVerdict("mta", f"the spam filter said spam (X-Spamd-Result, score {score:g})", score)
        else:
            found = _SCORE.search(v)
            score = float(found.group(1)) if found else None
            if name in ("x-spam-flag", "x-spam") and low.startswith("yes"):
                return SpamVerdict("mta", f"the spam filter said spam ({name}: YES)", score)
            if name == "x-spam-status" and low.startswith("yes"):
                return SpamVerdict(
                    "mta",
                    "the spam filter said spam (X-Spam-Status: Yes"
                    + (f", score {score:g})" if score is not None else ")"),
                    score,
                )
        if score is not None and score_max > 0 and score > score_max:
            return SpamVerdict("mta", f"spam score {score:g} above HELPLINE_SPAM_SCORE_MAX={score_max:g}", score)
    return None


def judge(
    *,
    channel: str,
    sender: str,
    author_role: str,
    metadata: dict,
    auth: dict,
    authserv_id: str,
    score_max: float,
    blocked_senders: Iterable[str] = (),
    blocked_domains: Iterable[str] = (),
) -> SpamVerdict | None:
    """Spam or not (None), from the message's facts and the settings alone."""
    if author_role != "customer":
        return None
    why = _blocked(sender, blocked_senders, blocked_domains)
    if why:
        return SpamVerdict("blocklist", why)
    if channel != "email":
        return None
    listed = metadata.get("mta_headers") if isinstance(metadata, dict) else None
    if not isinstance(listed, list) or not listed:
        return None
    return _mta_verdict(trusted_spam_headers(listed, auth or {}, authserv_id), score_max)


@functools.lru_cache(maxsize=16)
def _config_unusable(error: str) -> None:
    """Once per distinct error and process: every message would say the same."""
    log.error("event=config_file_unusable stage=spam using=database_block_list_only error=%r", error)


def verdict(env: Envelope, settings: Settings) -> SpamVerdict | None:
    """``judge`` with this desk's block list (file and database) and settings. A configuration file that does
    not parse must not stop mail: its block list is left out (the database's still counts) and it is logged,
    as triage falls back to its built-in rules."""
    try:
        cfg = site_config(settings)
        file_senders, file_domains = set(cfg.blocked_senders), set(cfg.blocked_domains)
    except ConfigError as exc:
        _config_unusable(str(exc)[:300])
        file_senders, file_domains = set(), set()
    senders, domains = blocklist.stored_sets()
    return judge(
        channel=env.channel,
        sender=env.sender.address,
        author_role=env.author_role,
        metadata=env.metadata,
        auth=env.auth,
        authserv_id=settings.trusted_authserv_id,
        score_max=settings.spam_score_max,
        blocked_senders=file_senders | senders,
        blocked_domains=file_domains | domains,
    )


def _support_address(env: Envelope, settings: Settings) -> str:
    ours = {a.lower() for a in settings.support_addresses}
    for addr in env.recipients.to + env.recipients.cc:
        local, _, domain = addr.rpartition("@")
        plain = f"{local.split('+', 1)[0]}@{domain}".lower()
        if plain in ours:
            return plain
    return settings.support_addresses[0]


def file(inbound_id: int, env: Envelope, found: SpamVerdict, settings: Settings, now: dt.datetime) -> int:
    """Keep the message as a ticket in the ``spam`` status (inside the pipeline's transaction); its id.

    Never threaded into another ticket, nothing sent, no clock started; the inbound row is processed."""
    kind, sender = env.sender.kind, env.sender.address
    customer = customer_refs.find(kind, sender) if sender else None
    if customer is None:
        customer = customer_refs.create(kind, sender, env.sender.name, now)
    subject = threads.clean_subject(env.subject) or "(no subject)"
    ticket = ticket_refs.create(
        env,
        customer.id,
        subject,
        "low",
        _support_address(env, settings),
        now,
        None,
        False,
        extra={"status": TicketStatus.SPAM},
    )
    thread_state.add_participants(ticket.id, [(kind, sender, "sender")])
    msg_id = message_state.add_inbound(ticket.id, inbound_id, env, body_hash(env), now)
    audit_events.event(
        ticket.id, "ticket_created", {"channel": env.channel, "reason": f"spam: {found.reason}"}, now=now
    )
    audit_events.event(
        ticket.id,
        "spam_filed",
        {"message": msg_id, "source": found.source, "reason": found.reason, "score": found.score},
        now=now,
    )
    inbound_state.update(
        inbound_id,
        status=InboundStatus.PROCESSED,
        reason=f"spam: {found.reason}"[:2000],
        ticket_id=ticket.id,
        processed_at=now,
        updated_at=now,
    )
    SPAM.labels(found.source).inc()
    return ticket.id


def release(t: ticket_ops.TicketState, *, now: dt.datetime, settings: Settings, actor: str) -> list[int]:
    """Not spam after all: the ticket becomes ``new`` and goes the normal way (its thread keys, team, agent,
    SLA clocks, the Slack post); returns the outbox rows to deliver. No acknowledgement: the customer wrote
    a while ago and an agent's answer is what they need now."""
    if t.status != TicketStatus.SPAM:
        raise ticket_ops.TicketOpError(f"{t.number} is {t.status}, not spam")
    first = message_rows.first_inbound_envelope(t.id)  # read first: a newer release's envelope refuses the release
    env = ticket_ops.readable_envelope(first, f"{t.number}'s first message") if first else None
    ticket_ops.change_status(t, TicketStatus.NEW, now=now, settings=settings, actor=actor, reason="not spam")
    if env is not None:
        thread_state.add_thread_keys(t.id, threads.own_keys(env))
        routing_stage.on_new_ticket(t.id, env, settings, now)
    audit_events.event(t.id, "spam_released", {}, actor=actor, now=now)
    ids: list[int] = []
    if settings.slack_bot_token and settings.slack_channel:
        from helpline.workers.slack_outbox import on_customer_message

        ids += on_customer_message(t.id, 0, "created", TicketStatus.NEW, settings, None)
    return ids
