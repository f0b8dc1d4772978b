"""Durable acceptance: the one place that decides what a sender is told.

The sender hears "accepted" only after the raw message is durable: its blob
fsync'd and its inbound row committed, or, while the database is unreachable,
the message fsync'd into this host's spool. If neither works the caller must
answer with a temporary error so the sender retries.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import logging
import socket
from dataclasses import dataclass
from typing import Any, Callable

from helpline.store.inbound import intake_rows
from helpline.store.channels import webhook_state
from helpline.store.storage.blobs import BlobStore
from helpline.store.clock import utcnow
from helpline.store.config import Settings
from helpline.store.db import UNAVAILABLE, DatabaseUnavailable, IntegrityError, run_tx
from helpline.store.envelope import Envelope
from helpline.store.inbound.sender_auth import judge
from helpline.store.statuses import InboundStatus

from helpline.ingest.email.normalise import NotAnEmail, normalise_email
from helpline.ingest.spool import Spool

log = logging.getLogger("helpline.ingest")
HOST = socket.gethostname()


class TemporaryIntakeError(RuntimeError):
    """Neither the database nor the spool took the message: ask the sender to retry.

    ``storage_full`` says the disk (or quota) is full, which SMTP answers with its own
    code (452 4.3.1, "insufficient system storage") so operators and senders see why."""

    def __init__(self, message: str, *, storage_full: bool = False) -> None:
        super().__init__(message)
        self.storage_full = storage_full


def not_writable(exc: OSError, what: str = "blob store") -> TemporaryIntakeError:
    """The temporary error for a failed write, marked when the disk is full."""
    return TemporaryIntakeError(
        f"{what} not writable: {exc.strerror}", storage_full=exc.errno in (errno.ENOSPC, errno.EDQUOT)
    )


class SenderRefused(ValueError):
    """The trusted MTA in front says the sender is forged and HELPLINE_AUTH_FAILED_POLICY is reject: 550."""


class Rejected(ValueError):
    """The request can never become a message (bad fields, unknown format): tell the sender why, store nothing."""

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


# A channel adapter's parser: (raw request body, request facts, put_blob) -> Envelope.
# It runs at intake and again when the spool is drained, so it must be a pure
# function of its arguments (the clock comes in as meta["received_at"]).
Builder = Callable[[bytes, dict[str, Any], Callable[[bytes], str]], Envelope]


class IdempotencyConflict(Rejected):
    """The request's Idempotency-Key was accepted before with a different body (answer 422).

    A retry must repeat its request exactly; keeping the first body and
    answering "accepted" would drop the new text without anyone knowing."""

    def __init__(self) -> None:
        super().__init__(
            "Idempotency-Key reused with a different body",
            [
                {
                    "field": "idempotency-key",
                    "error": "this Idempotency-Key was already used for a request with a different body; a retry must send "
                    "the same body, and a new message needs a new key",
                }
            ],
        )


KEY_TAKEN = intake_rows.KEY_TAKEN  # _insert_row's id: a strict channel's external id stored with other content


@dataclass
class IntakeResult:
    status: str  # accepted, duplicate, spooled, quarantined
    inbound_id: int | None = None
    external_id: str = ""


def _store_row(env: Envelope, raw_key: str, status: str, reason: str, strict: bool = False) -> tuple[int, bool]:
    """Insert the inbound row; (id, created). A re-delivery of the same content is not a new row."""

    def tx() -> tuple[int, bool]:
        if strict:
            webhook_state.lock_idempotency_keys([_lock_name(env)])
        return _insert_row(env, raw_key, status, reason, strict)

    try:
        return run_tx(tx, retries=1)
    except IntegrityError:  # the same message committed by a concurrent session a moment ago
        return run_tx(lambda: (intake_rows.id_of(env), False))


def _lock_name(env: Envelope) -> str:
    return f"{env.channel}:{env.external_id[:998]}"


def _insert_row(env: Envelope, raw_key: str, status: str, reason: str, strict: bool = False) -> tuple[int, bool]:
    """Inside the caller's transaction: (id, created), or (``KEY_TAKEN``, False) for a strict channel's
    Idempotency-Key stored with other content (``intake_rows.insert``)."""
    return intake_rows.insert(env, raw_key, status, reason, strict, HOST)


_UNAVAILABLE = (DatabaseUnavailable, *UNAVAILABLE)


# A retry this long after the row was last touched finds it unqueued rather than merely waiting its turn.
REQUEUE_AFTER_S = 5.0


def _is_pending(inbound_id: int) -> bool:
    """Whether the row still waits for a worker, untouched for ``REQUEUE_AFTER_S`` (asked of
    duplicates only: rare)."""
    try:
        touched = intake_rows.pending_since(inbound_id)
    except _UNAVAILABLE:
        return False
    return touched is not None and (utcnow() - touched).total_seconds() >= REQUEUE_AFTER_S


@dataclass
class RequestOffer:
    """One HTTP channel request, already authenticated: the adapter's kind, the raw body, request facts."""

    kind: str
    raw: bytes
    meta: dict[str, Any]


@dataclass
class Offer:
    """One message offered by a sender, as received."""

    raw: bytes
    mail_from: str | None
    rcpt_tos: list[str]
    received_at: str | None = None
    refusable: bool = False  # the sender can still be told no (SMTP DATA), rather than quarantining


class EmailIntake:
    def __init__(
        self,
        settings: Settings,
        blobs: BlobStore,
        submit: Callable[[int], None],
        spool: Spool,
        *,
        submit_many: Callable[[list[int]], None] | None = None,
    ) -> None:
        self.settings = settings
        self.blobs = blobs
        self.submit = submit
        self.submit_many = submit_many  # rows committed together go to the queue together
        self.request_batcher: Any = None  # the ingest daemon's IntakeBatcher, for group commits of HTTP requests
        self.spool = spool
        self.builders: dict[str, Builder] = {}
        self.strict_keys: set[str] = set()

    def register(self, kind: str, builder: Builder, *, idempotency_keys: bool = False) -> None:
        """Let a channel adapter (Twilio, webhooks, the contact form) use the same durable path as email.

        ``idempotency_keys``: the adapter's external ids are its callers'
        Idempotency-Keys, so the same id with another body is refused
        (``IdempotencyConflict``) instead of stored as a second message."""
        self.builders[kind] = builder
        if idempotency_keys:
            self.strict_keys.add(kind)

    def accept_request(
        self, kind: str, raw: bytes, meta: dict[str, Any], *, spool_on_failure: bool = True
    ) -> IntakeResult:
        """Build the envelope with the adapter's parser, keep the raw request as a
        blob, commit the inbound row, enqueue it. The caller has already
        authenticated the request; ``meta`` carries what the parser needs besides
        the body (source name, content type, idempotency key).

        Raises ``Rejected`` (answer 4xx) or ``TemporaryIntakeError`` (answer 503);
        without ``spool_on_failure``, also the database error itself.

        With a batcher attached (the ingest daemon), concurrent requests share
        one durable commit, as SMTP intake does (``accept_requests``)."""
        if spool_on_failure and self.request_batcher is not None:
            result = self.request_batcher.submit(RequestOffer(kind, raw, meta)).result()
        else:
            result = self.accept_requests([RequestOffer(kind, raw, meta)], spool_on_failure=spool_on_failure)[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def accept_requests(
        self, offers: list["RequestOffer"], *, defer_submit: list[int] | None = None, spool_on_failure: bool = True
    ) -> list[IntakeResult | BaseException]:
        """Group commit for HTTP channels: build each envelope and store its
        blobs, then commit all the inbound rows in one durable transaction. Each
        request gets its result, or the exception that answers it (``Rejected``,
        ``TemporaryIntakeError``); while the database is down, a spool entry."""
        results: list[IntakeResult | BaseException | None] = [None] * len(offers)
        ready: list[tuple[int, Envelope, dict[str, Any]]] = []
        deferred: list[int] = [] if defer_submit is None else defer_submit
        try:
            with self.blobs.synced_together():  # the batch's blob files, fsync'd together before the rows commit
                for i, offer in enumerate(offers):
                    meta = dict(offer.meta)
                    meta.setdefault("received_at", dt.datetime.now(dt.timezone.utc).isoformat())
                    try:
                        env = self.builders[offer.kind](offer.raw, meta, self.blobs.put)
                        if not env.content_hash:
                            env.content_hash = hashlib.sha256(offer.raw).hexdigest()
                        env.raw_blob_key = self.blobs.put(offer.raw)
                        ready.append((i, env, meta))
                    except Rejected as exc:
                        results[i] = exc
                    except OSError as exc:
                        results[i] = not_writable(exc)
                    except _UNAVAILABLE as exc:
                        results[i] = self._spool_or_error(offer.kind, offer.raw, meta, exc) if spool_on_failure else exc
                    except (
                        Exception
                    ) as exc:  # a parser bug answers its own request only (HTTP 500), never its neighbours
                        log.exception("event=request_parse_failed kind=%s error=%s", offer.kind, type(exc).__name__)
                        results[i] = exc
        except OSError as exc:
            for i, *_ in ready:
                results[i] = not_writable(exc)
            ready = []
        if ready:
            rows = [
                (env, env.raw_blob_key, InboundStatus.PENDING, "", offers[i].kind in self.strict_keys)
                for i, env, _ in ready
            ]
            keyed = [_lock_name(r[0]) for r in rows if r[4]]

            def tx() -> list[tuple[int, bool]]:
                webhook_state.lock_idempotency_keys(keyed)
                return [_insert_row(*r) for r in rows]

            try:
                stored = run_tx(tx, retries=1)
            except IntegrityError:  # a concurrent session stored one of them: one by one
                stored = [_store_row(*r) for r in rows]
            except _UNAVAILABLE as exc:
                for i, _env, meta in ready:
                    results[i] = (
                        self._spool_or_error(offers[i].kind, offers[i].raw, meta, exc) if spool_on_failure else exc
                    )
                ready, stored = [], []
            for (i, env, _meta), (inbound_id, created) in zip(ready, stored, strict=True):
                if inbound_id == KEY_TAKEN:
                    log.info("event=idempotency_conflict kind=%s", offers[i].kind)
                    results[i] = IdempotencyConflict()
                    continue
                results[i] = self._announce(
                    env, InboundStatus.PENDING, inbound_id, created, len(offers[i].raw), deferred
                )
        if defer_submit is None:
            self.submit_all(deferred)
        return results  # type: ignore[return-value]

    def _spool_or_error(
        self, kind: str, raw: bytes, meta: dict[str, Any], cause: BaseException
    ) -> IntakeResult | BaseException:
        try:
            return self._spool_request(kind, raw, meta, cause)
        except TemporaryIntakeError as exc:
            return exc

    def _spool_request(self, kind: str, raw: bytes, meta: dict[str, Any], cause: BaseException) -> IntakeResult:
        try:
            name = self.spool.put(raw, {"kind": kind, "meta": meta, "received_at": meta["received_at"]})
        except OSError as exc:
            raise TemporaryIntakeError(
                f"database unavailable ({type(cause).__name__}) and spool {self.spool.dir} not writable ({exc.strerror})",
                storage_full=exc.errno in (errno.ENOSPC, errno.EDQUOT),
            ) from exc
        log.warning("event=inbound_spooled entry=%s kind=%s cause=%s", name, kind, type(cause).__name__)
        return IntakeResult("spooled")

    def accept(
        self,
        raw: bytes,
        mail_from: str | None,
        rcpt_tos: list[str],
        *,
        received_at: str | None = None,
        spool_on_failure: bool = True,
        refusable: bool = False,
    ) -> IntakeResult:
        """Make the message durable, enqueue it, and say what happened.

        Raises ``NotAnEmail`` (reject permanently), ``SenderRefused`` (only when
        ``refusable``) or ``TemporaryIntakeError``; without ``spool_on_failure``,
        also the database error itself."""
        offer = Offer(raw, mail_from, rcpt_tos, received_at, refusable=refusable)
        result = self.accept_batch([offer], spool_on_failure=spool_on_failure)[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def accept_batch(
        self, offers: list[Offer], *, spool_on_failure: bool = True, defer_submit: list[int] | None = None
    ) -> list[IntakeResult | BaseException]:
        """Group commit: parse and store each message's blobs, then commit all
        their inbound rows in one durable transaction (one fsync for the batch).
        Each offer gets its own result, or the exception that answers it.

        With ``defer_submit`` the new ids are collected there instead of being
        enqueued, so the caller can answer the senders first (``submit_all``)."""
        results: list[IntakeResult | BaseException | None] = [None] * len(offers)
        ready: list[tuple[int, Envelope, str, str, str]] = []
        stamps = [
            dt.datetime.fromisoformat(o.received_at) if o.received_at else dt.datetime.now(dt.timezone.utc)
            for o in offers
        ]
        try:
            with self.blobs.synced_together():  # the batch's blob files, fsync'd together before the rows commit
                for i, offer in enumerate(offers):
                    try:
                        ready.append((i, *self._prepare(offer, stamps[i])))
                    except (NotAnEmail, TemporaryIntakeError, SenderRefused) as exc:
                        results[i] = exc
                    except _UNAVAILABLE as exc:
                        results[i] = self._fallback(offer, stamps[i], exc, spool_on_failure)
        except OSError as exc:
            for i, *_ in ready:
                results[i] = not_writable(exc)
            ready = []
        if ready:
            try:
                stored = run_tx(lambda: [_insert_row(env, key, st, rs) for _, env, key, st, rs in ready], retries=1)
            except IntegrityError:  # a concurrent session stored one of them: take them one by one
                stored = [_store_row(env, key, st, rs) for _, env, key, st, rs in ready]
            except _UNAVAILABLE as exc:
                for i, *_ in ready:
                    results[i] = self._fallback(offers[i], stamps[i], exc, spool_on_failure)
                ready = []
                stored = []
            for (i, env, _key, status, _reason), (inbound_id, created) in zip(ready, stored, strict=True):
                results[i] = self._announce(env, status, inbound_id, created, len(offers[i].raw), defer_submit)
        return results  # type: ignore[return-value]

    def _prepare(self, offer: Offer, now: dt.datetime) -> tuple[Envelope, str, str, str]:
        """Parse (attachments go to the blob store) and store the raw message."""
        status, reason = InboundStatus.PENDING, ""
        raw = offer.raw
        try:
            env = normalise_email(
                raw,
                put_blob=self.blobs.put,
                support_addresses=self.settings.support_addresses,
                mail_from=offer.mail_from,
                received_at=now,
            )
        except (NotAnEmail, *_UNAVAILABLE):
            raise
        except OSError as exc:
            raise not_writable(exc) from exc
        except Exception as exc:  # a parser bug must not lose the mail: keep it, quarantined
            log.exception("event=parse_failed error=%s", type(exc).__name__)
            digest = hashlib.sha256(raw).hexdigest()
            env = Envelope(
                channel="email",
                external_id="sha256:" + digest,
                content_hash=digest,
                received_at=now.astimezone(dt.timezone.utc).isoformat(),
                warnings=[f"parse_failed:{type(exc).__name__}"],
            )
            status, reason = InboundStatus.QUARANTINED, f"could not be parsed: {type(exc).__name__}: {exc}"[:2000]
        if offer.refusable and self.settings.auth_failed_policy == "reject":
            verdict = judge(
                env.auth, self.settings.trusted_authserv_id, env.sender.address, self.settings.auth_alignment
            )
            if verdict.failed:
                raise SenderRefused(f"sender authentication failed ({verdict.reason})")
        try:
            raw_key = self.blobs.put(raw)
        except OSError as exc:
            raise not_writable(exc) from exc
        env.raw_blob_key = raw_key
        return env, raw_key, status, reason

    def _announce(
        self, env: Envelope, status: str, inbound_id: int, created: bool, size: int, deferred: list[int] | None
    ) -> IntakeResult:
        if not created:
            # The sender retried: if the first copy's row never left 'pending' (its enqueue was
            # lost with a killed ingest or Redis), queue it now rather than at the next sweep.
            still_pending = _is_pending(inbound_id)
            log.info("event=inbound_duplicate inbound=%d requeued=%s", inbound_id, still_pending)
            if still_pending:
                if deferred is not None:
                    deferred.append(inbound_id)
                else:
                    self.submit_all([inbound_id])
            return IntakeResult("duplicate", inbound_id, env.external_id)
        if status == InboundStatus.PENDING:
            if deferred is not None:
                deferred.append(inbound_id)
            else:
                self.submit_all([inbound_id])
        log.info("event=inbound_accepted inbound=%d status=%s size=%d", inbound_id, status, size)
        return IntakeResult(
            "accepted" if status == InboundStatus.PENDING else "quarantined", inbound_id, env.external_id
        )

    def submit_all(self, inbound_ids: list[int]) -> None:
        """Enqueue durable rows; a failure only delays them (the sweeper enqueues them later)."""
        self.try_submit(inbound_ids)

    def try_submit(self, inbound_ids: list[int]) -> list[int]:
        """Enqueue durable rows; the ids that were not (after the first failure the rest are not
        tried: a broker that failed once would make each of them wait for its timeout)."""
        if self.submit_many is not None and len(inbound_ids) > 1:
            try:
                self.submit_many(inbound_ids)
            except Exception as exc:
                log.warning(
                    "event=enqueue_failed count=%d first=%d error=%s",
                    len(inbound_ids),
                    inbound_ids[0],
                    type(exc).__name__,
                )
                return list(inbound_ids)
            return []
        for i, inbound_id in enumerate(inbound_ids):
            try:
                self.submit(inbound_id)
            except Exception as exc:
                log.warning("event=enqueue_failed inbound=%d error=%s", inbound_id, type(exc).__name__)
                return list(inbound_ids[i:])
        return []

    def _fallback(
        self, offer: Offer, now: dt.datetime, cause: BaseException, spool_on_failure: bool
    ) -> IntakeResult | BaseException:
        if not spool_on_failure:
            return cause
        try:
            return self._spool(offer.raw, offer.mail_from, offer.rcpt_tos, now, cause)
        except TemporaryIntakeError as exc:
            return exc

    def _spool(
        self, raw: bytes, mail_from: str | None, rcpt_tos: list[str], now: dt.datetime, cause: BaseException
    ) -> IntakeResult:
        meta: dict[str, Any] = {"mail_from": mail_from, "rcpt_tos": rcpt_tos, "received_at": now.isoformat()}
        try:
            name = self.spool.put(raw, meta)
        except OSError as exc:
            raise TemporaryIntakeError(
                f"database unavailable ({type(cause).__name__}) and spool {self.spool.dir} not writable ({exc.strerror})",
                storage_full=exc.errno in (errno.ENOSPC, errno.EDQUOT),
            ) from exc
        log.warning("event=inbound_spooled entry=%s cause=%s", name, type(cause).__name__)
        return IntakeResult("spooled")

    def _quarantine_request(self, meta: dict[str, Any], raw: bytes, reason: str) -> None:
        digest = hashlib.sha256(raw).hexdigest()
        env = Envelope(
            channel=str(meta.get("kind")),
            external_id="sha256:" + digest,
            content_hash=digest,
            received_at=str(meta.get("received_at") or dt.datetime.now(dt.timezone.utc).isoformat()),
            warnings=["rejected_after_spool"],
        )
        env.raw_blob_key = self.blobs.put(raw)
        _store_row(env, env.raw_blob_key, InboundStatus.QUARANTINED, f"spooled request rejected: {reason}"[:2000])

    def drain_spool(self) -> int:
        """Move spooled messages into the database (this host only)."""

        def handle(raw: bytes, meta: dict[str, Any]) -> None:
            if meta.get("kind"):
                if meta["kind"] not in self.builders:
                    self._quarantine_request(meta, raw, f"no {meta['kind']} adapter is configured on this host")
                    return
                try:
                    self.accept_request(meta["kind"], raw, meta.get("meta") or {}, spool_on_failure=False)
                except Rejected as exc:  # a parser change since it was spooled: keep it, quarantined
                    self._quarantine_request(meta, raw, str(exc))
                return
            self.accept(
                raw,
                meta.get("mail_from"),
                meta.get("rcpt_tos") or [],
                received_at=meta.get("received_at"),
                spool_on_failure=False,
            )

        try:
            return self.spool.drain(handle)
        except _UNAVAILABLE:
            return 0
