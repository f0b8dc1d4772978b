"""One inbound row in, one decision out: the worker pipeline.

Stages run in one transaction so that a ticket, its message, its events and the
outbox rows it causes commit together or not at all; re-running the pipeline on
a processed row changes nothing. The stages themselves are plain functions
(``threads.decide``, ``dedupe.body_hash``, ``notifier.loops.autoreply_decision``,
``router.priority.evaluate`` through ``triage``); this module only loads, calls and writes.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
from dataclasses import dataclass, field

import peewee as pw

from helpline.notifier import loops, outbox, ratelimit
from helpline.notifier.message_ids import is_own_message_id, make_message_id
from helpline.notifier.templates import render_ack
from helpline.store import models as m
from helpline.store import import_mode, signing
from helpline.store.config import ConfigError, Settings
from helpline.store.config_file import site_config
from helpline.store.db import UNAVAILABLE, database, priority_writer_waiting, run_tx
from helpline.store.envelope import Envelope
from helpline.store.sender_auth import UNTRUSTED, AuthVerdict

from . import api_messages, auth_policy, persist, sms_stage, threads, triage
from . import routing_stage, spam_stage
from . import duplicates
from .dedupe import body_hash

log = logging.getLogger("helpline.workers")


@dataclass
class Outcome:
    action: str  # created, appended, reopened, duplicate, own_mail, bounce, noop, missing, quarantined, failed
    ticket_id: int | None = None
    outbox_ids: list[int] = field(default_factory=list)  # pending rows for the sender
    claimed: list = field(default_factory=list)  # rows already marked sending, to deliver right after commit
    media_ids: list[int] = field(default_factory=list)  # MMS media to fetch right after commit
    reason: str = ""
    delayed: list[tuple[int, float]] = field(default_factory=list)  # (outbox id, seconds): send after a delay (undo)


# ---- attempts: committed before each try --------------------------------------
def begin_attempt(inbound_id: int, max_attempts: int) -> Outcome | None:
    """Count this try before doing any work, so a message that kills its worker
    (out of memory, SIGKILL) is quarantined after ``max_attempts`` instead of
    looping forever. Returns an Outcome when there is nothing to do."""

    def tx() -> Outcome | None:
        row = persist.lock_inbound(inbound_id, with_envelope=False)
        if row is None:
            return Outcome("missing", reason=f"inbound {inbound_id} does not exist")
        if row.status != m.InboundStatus.PENDING:
            return Outcome("noop", row.ticket_id)
        now = m.utcnow()
        if row.attempts >= max_attempts:
            last = row.reason or "the worker died while processing it (killed or out of memory)"
            reason = f"quarantined after {row.attempts} attempts; last: {last}"
            persist.update_inbound(row.id, status=m.InboundStatus.QUARANTINED, reason=reason, updated_at=now)
            persist.event(None, "inbound_quarantined", {"inbound": row.id, "reason": reason}, now=now)
            return Outcome("quarantined", reason=reason)
        persist.update_inbound(row.id, attempts=row.attempts + 1, updated_at=now)
        return None

    # Not fsync'd: a process crash keeps the count (it is in the WAL / the
    # server), only a power cut may lose it, and a power cut is no crash loop.
    return run_tx(tx, durable=False)


def begin_attempts(inbound_ids: list[int]) -> tuple[list[int], list[int]]:
    """``begin_attempt`` for a batch in one transaction: (run now, run alone).

    Rows on their first try are counted and run now. A row that already had
    a try (this batch died halfway, or the row failed before) is not counted
    here but handed back to run on its own, so a message that kills its
    worker is isolated after one crash and never uses up its neighbours'
    attempts. Rows already done are left out of both lists."""

    def tx() -> tuple[list[int], list[int]]:
        counted = set(persist.count_first_attempts(inbound_ids, m.utcnow()))  # one statement for the usual case
        rest = [i for i in inbound_ids if i not in counted]
        retried = set(persist.pending_with_attempts(rest)) if rest else set()
        return [i for i in inbound_ids if i in counted], [i for i in inbound_ids if i in retried]

    return run_tx(tx, durable=False)  # not fsync'd, as in begin_attempt


def record_failure(inbound_id: int, error: BaseException, *, final: bool) -> None:
    """Keep the reason on the row; on the last try the row ends ``failed``, visibly."""
    reason = f"{type(error).__name__}: {error}"[:2000]

    def tx() -> None:
        row = persist.lock_inbound(inbound_id, with_envelope=False)
        if row is None or row.status != m.InboundStatus.PENDING:
            return
        values: dict = {"reason": reason, "updated_at": m.utcnow()}
        if final:
            values["status"] = m.InboundStatus.FAILED
        persist.update_inbound(row.id, **values)

    run_tx(tx)


# ---- the pipeline ------------------------------------------------------------
@dataclass
class Prepared:
    """What the pipeline can work out before taking the write lock."""

    env: Envelope
    category: dict | None = None  # computed ahead when the message will most likely open a ticket
    signals: triage.Signals | None = None  # language and sentiment, computed ahead for every customer message
    fingerprint: duplicates.sim.Fingerprint | None = None  # near-duplicate signature of a message that may open a ticket
    agent_files: list | None = None  # files an agent attached in Slack, fetched and stored (slack_attach)


def prepare(inbound_id: int, settings: Settings) -> Prepared | None:
    """Read and decode the envelope, and classify a message that carries no
    thread evidence, without holding a write transaction: SQLite has one
    writer for the whole desk, so every millisecond of CPU moved out of the
    transaction is a millisecond the other workers and the ingest daemon can
    commit in. The envelope of an inbound row never changes once written."""
    got = persist.read_pending_envelope(inbound_id)
    if got is None:
        return None
    env = Envelope.from_dict(got[0])
    env.raw_blob_key = got[1] or env.raw_blob_key
    return prepare_envelope(env, settings)


def prepare_envelope(env: Envelope, settings: Settings) -> Prepared:
    """``prepare`` for an envelope in hand: a history import computes it in its
    parser processes, before the row exists."""
    if env.channel == "slack" and env.author_role == "agent":  # an agent's reply: its files, fetched outside the lock
        from .slack_attach import fetch_agent_files, wants_files

        return Prepared(env, agent_files=fetch_agent_files(env, settings) if wants_files(env) else None)
    fresh = not (threads.thread_keys(env) or env.thread.ticket_ref or env.thread.reply_token
                 or env.auto_reply.bounced_message_ids)
    return Prepared(env, _categorise(threads.clean_subject(env.subject) or "(no subject)", env.text, settings)
                    if fresh else None, None if env.auto_reply.bounced_message_ids else triage.signals(env, settings),
                    duplicates.fingerprint_of(env, settings) if not (env.thread.in_reply_to or env.thread.references
                                                                     or env.thread.ticket_ref or env.thread.reply_token)
                    else None)  # a text's conversation key may be new: only reply headers rule a new ticket out


def process(inbound_id: int, settings: Settings) -> Outcome:
    pre = prepare(inbound_id, settings)
    for attempt in range(5):
        try:
            # Re-derivable from the durable inbound row, so not fsync'd (see store.db.write_tx).
            return run_tx(lambda: _process_buffered(inbound_id, settings, pre), durable=False)
        except pw.IntegrityError:
            # Another worker claimed a thread key of this conversation first;
            # run again and join the ticket it made.
            if attempt == 4:
                raise
            log.info("event=thread_race inbound=%d attempt=%d", inbound_id, attempt + 1)
    raise AssertionError("unreachable")


def process_batch(inbound_ids: list[int], settings: Settings) -> list[Outcome | Exception]:
    """The pipeline for rows that travelled the queue together, in one write
    transaction: an Outcome per row, or the exception that row raised.

    Why one transaction: every commit takes the desk-wide writer lock (SQLite)
    and writes each page it touched to the log; the rows of a batch touch the
    same index and counter pages, so one commit for eight messages writes
    those once instead of eight times and frees the lock for intake sooner.
    Each row runs in a savepoint of its own: a row that raises (a bug, another
    worker's thread race) is rolled back alone, and the caller runs it again on
    its own path (``process``) with its retries and failure record. Only a lost
    database connection aborts the batch, whose rows are then all still pending.
    When intake waits for the writer lock (SQLite), the transaction commits
    after the current row and the rest follow in the next one."""
    pres: dict[int, Prepared | None | Exception] = {}
    for inbound_id in inbound_ids:
        try:
            pres[inbound_id] = prepare(inbound_id, settings)
        except UNAVAILABLE:
            raise
        except Exception as exc:  # the row's own fault: it fails again, with its record, when run alone
            pres[inbound_id] = exc

    def tx(todo: list[int]) -> list[Outcome | Exception]:
        out: list[Outcome | Exception] = []
        for inbound_id in todo:
            if out and priority_writer_waiting():  # intake waits for the lock: commit what is done, go on after
                break
            pre = pres[inbound_id]
            if isinstance(pre, Exception):
                out.append(pre)
                continue
            try:
                with database().atomic():  # a savepoint
                    out.append(_process_buffered(inbound_id, settings, pre))
            except UNAVAILABLE:
                raise
            except Exception as exc:
                out.append(exc)
        return out

    results: list[Outcome | Exception] = []
    while len(results) < len(inbound_ids):
        todo = inbound_ids[len(results):]
        # Re-derivable from the durable inbound rows, so not fsync'd (see store.db.write_tx).
        results += run_tx(functools.partial(tx, todo), durable=False)
    return results


def _process_buffered(inbound_id: int, settings: Settings, pre: Prepared | None = None) -> Outcome:
    with persist.buffered_events():
        return _process(inbound_id, settings, pre)


def _finish(row: persist.InboundRow, status: str, reason: str, ticket_id: int | None, now: dt.datetime) -> None:
    persist.update_inbound(row.id, status=status, reason=reason, ticket_id=ticket_id, processed_at=now, updated_at=now)


def _process(inbound_id: int, settings: Settings, pre: Prepared | None = None) -> Outcome:
    now = m.utcnow()
    row = persist.lock_inbound(inbound_id, with_envelope=pre is None)
    if row is None:
        return Outcome("missing")
    if row.status != m.InboundStatus.PENDING:
        return Outcome("noop", row.ticket_id)
    if pre is not None:
        env = pre.env
    else:
        env = Envelope.from_dict(row.envelope)
        env.raw_blob_key = row.raw_blob_key or env.raw_blob_key
    domains = {a.rpartition("@")[2].lower() for a in settings.support_addresses}

    if env.channel == "slack" and env.author_role == "agent":  # an agent writing in a ticket's Slack thread
        from .slack_replies import handle

        done = handle(row.id, env, settings, now, pre.agent_files if pre is not None else None)
        return Outcome(done.action, done.ticket_id, done.outbox_ids, reason=done.reason, delayed=done.delayed)

    # Our own outbound mail coming back (a forwarding loop, a misconfigured alias).
    if env.channel == "email" and env.thread.message_id and is_own_message_id(env.thread.message_id, domains):
        _finish(row, m.InboundStatus.PROCESSED, "our own outbound message came back; ignored to avoid a loop", None, now)
        return Outcome("own_mail", reason="own message")

    # A delivery status notification about a message we sent.
    if env.auto_reply.bounced_message_ids:
        reported = _delivery_report(row, env, now)
        if reported is not None:
            return reported

    # SMS keywords (STOP, START, HELP) change the number's opt-out state and open no ticket.
    keyword = sms_stage.handle_keyword(row.id, env, settings, now) if env.channel == "sms" else None
    if keyword is not None:
        _finish(row, m.InboundStatus.PROCESSED, keyword.reason, None, now)
        return Outcome("sms_keyword", outbox_ids=keyword.outbox_ids, reason=keyword.reason)

    # What the trusted MTA in front said about the sender (HELPLINE_AUTH_FAILED_POLICY).
    auth = auth_policy.verdict(env, settings)
    refused = auth_policy.quarantine_reason(auth, settings.auth_failed_policy)
    if refused:
        _finish(row, m.InboundStatus.QUARANTINED, refused, None, now)
        persist.event(None, "inbound_quarantined", {"inbound": row.id, "reason": refused}, now=now)
        return Outcome("quarantined", reason=refused)

    spam = spam_stage.verdict(env, settings)  # the trusted MTA's spam verdict, the block list: kept, never sent to
    if spam is not None:
        return Outcome("spam", spam_stage.file(row.id, env, spam, settings, now), reason=spam.reason)

    mine = threads.own_keys(env)
    sender = env.sender.address
    bhash = body_hash(env)
    # Two copies of one mail under different Message-IDs share no thread key:
    # lock on sender + text too, so the second copy sees the first one.
    persist.lock_conversation(mine + ([f"dup:{sender}:{bhash}"] if bhash else []))

    token_ticket = signing.ticket_from_reply_token(settings.secret_key, env.thread.reply_token) \
        if env.thread.reply_token and settings.secret_key else None
    cands, known = persist.candidates(mine, env.thread.ticket_ref, token_ticket)
    cands = duplicates.follow_merges(cands)  # a reply to a merged ticket lands on the one it was merged into
    cands = api_messages.writable(env, cands)  # a webhook source writes only into its own tickets
    kind = env.sender.kind
    customer = api_messages.find_customer(env)
    sender_addrs = {sender} | (persist.customer_addresses(customer.id) if customer else set())
    decision = threads.decide(sender_addrs, cands, now=now, reopen_days=settings.reopen_days)
    decision = auth_policy.apply(decision, auth, settings.auth_failed_policy)
    if decision.action == "new" and env.channel == "slack" and customer is not None:  # one more line, same problem?
        from .slack_join import join_open

        decision = join_open(env, customer.id, (pre.fingerprint if pre is not None else None)
                             or duplicates.fingerprint_of(env, settings), settings, now) or decision

    # The same text again from the same sender is a duplicate only where it
    # would land: "Thanks, that fixed it!" on two different tickets is two replies.
    dup = persist.recent_duplicate(sender, bhash, now - dt.timedelta(seconds=settings.dedupe_window_s))
    if dup is not None and dup.external_id != env.external_id and decision.ticket_id in (None, dup.ticket_id) \
            and (env.channel != "webhook" or api_messages.may_join(env, dup.ticket_id)):
        persist.event(dup.ticket_id, "duplicate_received", {"inbound": row.id, "external_id": env.external_id,
                                                            "duplicate_of": dup.message_id}, now=now)
        _finish(row, m.InboundStatus.DUPLICATE, f"same sender and text as message {dup.message_id} within "
                f"{settings.dedupe_window_s}s", dup.ticket_id, now)
        return Outcome("duplicate", dup.ticket_id)
    fp = ((pre.fingerprint if pre is not None else None) or duplicates.fingerprint_of(env, settings)) \
        if decision.action == "new" else None
    near = duplicates.find_near(customer.id, fp, settings, now) if fp is not None and customer is not None else None
    if near is not None and near.merge and not api_messages.may_join(env, near.ticket_id):
        near = dataclasses.replace(near, merge=False)  # alike, but across a source's boundary: only a suggestion
    if near is not None and near.merge and auth_policy.may_join(auth, settings.auth_failed_policy):
        # the same customer's same problem again: into their open ticket
        decision = duplicates.as_decision(near)
    if customer is None:
        customer = persist.create_customer(kind, sender, env.sender.name, now)

    sig = (pre.signals if pre else None) or triage.signals(env, settings)
    outcome = Outcome("appended")
    if decision.action in ("append", "reopen"):
        assert decision.ticket_id is not None  # an append or reopen names its ticket
        ticket = persist.get_ticket(decision.ticket_id)
        changes: dict = {"updated_at": now, "last_customer_at": now}
        if decision.action == "reopen":
            persist.event(ticket.id, "ticket_reopened", {"from": ticket.status, "reason": decision.reason}, now=now)
            outcome.action = "reopened"
        persist.update_ticket(ticket.id, **changes)
        # Status through the lifecycle (waiting -> open, resolved -> open) with its SLA clocks.
        routing_stage.on_customer_message(ticket.id, decision.action == "reopen", decision.reason, settings, now)
        persist.add_thread_keys(ticket.id, mine)
    else:
        ticket = _new_ticket(env, customer.id, decision, settings, now, pre.category if pre else None, sig)
        routing_stage.on_new_ticket(ticket.id, env, settings, now)  # team, agent, SLA clocks
        persist.add_thread_keys(ticket.id, mine, claim=[k for k in mine if k not in known],
                                repoint=decision.action == "new_follow_up")
        outcome.action = "created"

    roles = [(kind, sender, "sender")] + [("email", a, "reply_to") for a in env.reply_to]
    if settings.cc_participants:
        roles += [("email", a, "cc") for a in env.recipients.cc if a.rpartition("@")[2].lower() not in domains]
    persist.add_participants(ticket.id, roles)
    if auth.trusted:  # kept on the message: agents' views show a failed sender (notifier/slack_blocks.py)
        env.auth = {**env.auth, "verdict": auth.as_dict()}
    msg_id = persist.add_message(ticket.id, row.id, env, bhash, now, extra=sig.message_columns())
    if fp is not None:  # near-duplicate events, the new ticket's fingerprint (incidents group it later)
        duplicates.after_message(ticket.id, customer.id, fp, near, outcome.action == "created", msg_id, now)
    if outcome.action != "created":  # language, sentiment turn, priority raise
        triage.after_customer_message(ticket.id, msg_id, env, sig, customer.id, settings, now)
    quiet = import_mode.active()  # a history import: nothing is sent (the outbox refuses it too)
    if not quiet and settings.slack_bot_token and settings.slack_channel:  # the new ticket in Slack, or this message in its thread
        from .slack_outbox import on_customer_message

        outcome.outbox_ids += on_customer_message(ticket.id, msg_id, outcome.action, ticket.status, settings, env)
    persist.event(ticket.id, "message_received", {"message": msg_id, "channel": env.channel, "via": decision.reason},
                  now=now)
    if auth.failed:
        persist.event(ticket.id, "sender_auth_failed", {"message": msg_id, "reason": auth.reason,
                                                        "policy": settings.auth_failed_policy, **auth.results}, now=now)
    if not quiet and outcome.action == "created" and api_messages.wants_ack(env):
        ack = _queue_ack(ticket, env, customer, settings, now, sig.language, auth)
        if ack is not None and ack.status == m.OutboxStatus.SENDING:
            outcome.claimed.append(ack)
        elif ack is not None:
            outcome.outbox_ids.append(ack.id)
    if env.channel == "sms" and not quiet:  # MMS media to fetch; the acknowledgement of a new ticket
        sms = sms_stage.after_message(ticket, msg_id, env, settings, now, created=outcome.action == "created")
        outcome.outbox_ids += sms.outbox_ids
        outcome.media_ids = sms.media_ids
    if not quiet and (env.channel in api_messages.API_CHANNELS or settings.webhook_callbacks):  # metadata, identities, webhooks out
        outcome.outbox_ids += api_messages.after_message(env, ticket, customer.id, outcome.action, msg_id, settings, now)
    _finish(row, m.InboundStatus.PROCESSED, decision.reason, ticket.id, now)
    outcome.ticket_id = ticket.id
    outcome.reason = decision.reason
    return outcome


def _delivery_report(row: persist.InboundRow, env: Envelope, now: dt.datetime) -> Outcome | None:
    """A DSN about mail we sent: fail it, or note the delay; None when it is not about our mail."""
    ids = env.auto_reply.bounced_message_ids
    if env.auto_reply.bounce:
        bounced = outbox.mark_bounced(ids, env.subject or "delivery failed")
        if bounced:
            tid = bounced[0].ticket_id
            _finish(row, m.InboundStatus.PROCESSED, f"delivery failure report for {len(bounced)} outbound message(s)",
                    tid, now)
            return Outcome("bounce", tid)
    known = persist.outbound_tickets(ids)
    if not known:
        return None
    tid = known[0]
    if env.auto_reply.bounce:  # already failed by an earlier report (a resend bounced again)
        _finish(row, m.InboundStatus.PROCESSED, "repeated delivery failure report", tid, now)
        return Outcome("bounce", tid)
    persist.event(tid, "delivery_delayed", {"message_ids": ids[:5], "subject": env.subject[:200]}, now=now)
    _finish(row, m.InboundStatus.PROCESSED, "delivery delay notice; the relay is still retrying", tid, now)
    return Outcome("bounce", tid)


def _support_address(env: Envelope, settings: Settings) -> str:
    ours = {a.lower() for a in settings.support_addresses}
    for addr in env.recipients.to + env.recipients.cc:
        local, _, domain = addr.rpartition("@")
        if f"{local.split('+', 1)[0]}@{domain}".lower() in ours:
            return f"{local.split('+', 1)[0]}@{domain}".lower()
    return settings.support_addresses[0]


def _new_ticket(env: Envelope, customer_id: int, decision: threads.ThreadDecision, settings: Settings,
                now: dt.datetime, category: dict | None = None, sig: triage.Signals = triage.NONE) -> persist.TicketRef:
    subject = threads.clean_subject(env.subject) or "(no subject)"
    cat = category or _categorise(subject, env.text, settings)
    prio = triage.new_ticket_priority(env, subject, customer_id, cat["category"], sig, settings, now)
    possible = decision.action == "new_possible_follow_up"
    ticket = persist.create_ticket(env, customer_id, subject, prio.level, _support_address(env, settings), now,
                                   decision.ticket_id, possible, extra={"category": cat["category"],
                                                                        "team": cat.get("team"),
                                                                        **triage.ticket_columns(sig)})
    persist.event(ticket.id, "ticket_created", {"channel": env.channel, "reason": decision.reason}, now=now)
    persist.event(ticket.id, "priority_set", prio.as_event(), now=now)
    triage.on_new_ticket(ticket.id, sig, now)
    persist.event(ticket.id, "category_set", cat, now=now)
    if decision.ticket_id:
        persist.event(ticket.id, "possible_follow_up" if possible else "follow_up_of",
                      {"ticket": decision.ticket_id, "reason": decision.reason}, now=now)
    return ticket


def _categorise(subject: str, text: str, settings: Settings) -> dict:
    """The category stage; a broken model must not stop tickets from being made."""
    from helpline.router.category import classify, load_active_model, models_dir_for
    from helpline.router.model_store import ModelError

    try:
        decision = classify(subject, text, load_active_model(models_dir_for(settings)), settings.category_threshold)
    except ModelError as exc:
        return {"category": "unclassified", "team": settings.triage_team, "reason": f"no usable model: {exc}"}
    data = decision.as_event()
    if decision.category == "unclassified":
        data["team"] = settings.triage_team
    return data


def _templates_dir(settings: Settings) -> str:
    """The operator's template overrides; a broken configuration file must not stop the acknowledgement."""
    try:
        return site_config(settings).templates_dir
    except ConfigError as exc:
        log.warning("event=config_file_unusable stage=ack using=bundled_templates error=%r", str(exc)[:300])
        return ""


def _queue_ack(ticket: persist.TicketRef, env: Envelope, customer: persist.CustomerRef, settings: Settings,
               now: dt.datetime, language: str = "", auth: AuthVerdict = UNTRUSTED) -> m.Outbox | None:
    refused = auth_policy.ack_refusal(env, auth)  # no backscatter to a forged From
    if refused:
        persist.event(ticket.id, "ack_suppressed", {"reason": refused}, now=now)
        return None
    recipient = loops.reply_address(env)
    to_addr, total = ratelimit.recent("ack", recipient, now) if recipient else (0, 0)
    verdict = loops.autoreply_decision(
        env, own_addresses=settings.support_addresses, sent_to_address_last_hour=to_addr,
        sent_total_last_hour=total, per_address_limit=settings.autoreply_limit,
        global_limit=settings.autoreply_global_limit,
    )
    if not verdict.send:
        persist.event(ticket.id, "ack_suppressed", {"reason": verdict.reason}, now=now)
        return None
    mid = make_message_id(settings.mail_domain, ticket.number)
    article = None
    if settings.kb_deflect_teams and api_messages.ack_may_echo(env):  # opt-in per team (workers/kb_deflection.py)
        from .kb_deflection import offer

        article = offer(ticket.id, f"{env.subject}\n{env.text}", language, settings, now)
    payload = render_ack(
        ticket_number=ticket.number, subject=ticket.subject, customer_name=customer.name,
        support_address=ticket.support_address, recipient=recipient,
        in_reply_to=f"<{env.thread.message_id}>" if env.thread.message_id else "",
        references=[f"<{r}>" for r in env.thread.references], message_id=mid,
        echo=api_messages.ack_may_echo(env) and auth_policy.ack_may_echo(env, auth, recipient),
        language=language, templates_dir=_templates_dir(settings), article=article,  # notifier/render.py
    )
    if settings.secret_key:  # replies carry the signed ticket id even when clients drop the headers
        local, _, domain = ticket.support_address.partition("@")
        token = signing.reply_token(settings.secret_key, ticket.id)
        payload.setdefault("headers", {})["Reply-To"] = f"{local}+{token}@{domain}"
    bare = mid.strip("<>").lower()
    out_id = persist.add_outbound_message(ticket.id, channel="email", author_role="system", message_id=bare,
                                          sender=ticket.support_address, subject=payload["subject"],
                                          text=payload["text"], now=now)
    persist.add_thread_keys(ticket.id, ["mid:" + bare])
    # With a relay configured the worker sends it right after this commit, so
    # the row is born 'sending' and needs no claim of its own.
    row = outbox.enqueue(channel="email", kind="ack", recipient=recipient, payload=payload,
                         unique_key=f"ack:{ticket.id}", ticket=ticket.id, out_message=out_id, message_id=mid,
                         claimed=bool(settings.smtp_relay))
    if row is not None:
        ratelimit.record("ack", recipient, now)
    persist.event(ticket.id, "ack_queued", {"to": recipient}, now=now)
    return row
