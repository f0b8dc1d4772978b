"""What differs between inbound channels, behind one interface: the pipeline asks, the channel answers.

One small class per channel, registered by the name an envelope carries in ``channel``
(``email``, ``sms``, ``slack``, ``webhook``, ``form``). The pipeline's stages (``workers/stages/``) and the
customer notices call these methods instead of comparing channel names, so adding a channel adds a class
here (and a normaliser in ``ingest/channels/``), not branches in ten modules. The outbound side has its
own interface, ``notifier/senders.Sender``.

What a channel decides:

- **identity** — who the customer is (``find_customer``; a webhook source vouches for more identities);
- **threading hints** — what the channel adds to or removes from the thread evidence: its own mail coming
  back (``own_message``), an agent writing in a ticket's thread (``agent_reply``), commands that are no
  message (``command``: SMS keywords), tickets it may not write into (``writable``, ``may_join``), a new
  line that continues an open conversation (``join_open``: Slack);
- **acknowledgement** — whether and how a new ticket is acknowledged (``wants_ack``, ``ack_may_echo``,
  ``acknowledge``), what it records after the message is stored (``after_message``), and where later
  notices about the ticket go (``notice_route``: SMS, a Slack thread, a source's app, else email).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from helpline.notifier.webhook import webhook_events
from helpline.notifier.message_ids import is_own_message_id
from helpline.store.inbound import customer_refs
from helpline.store.envelope import Envelope

from helpline.workers.inbound import api_messages

if TYPE_CHECKING:
    from helpline.store.config import Settings
    from helpline.store.inbound.customer_refs import CustomerRef

    from helpline.workers.stages.context import Context
    from helpline.workers.inbound.threads import Candidate, ThreadDecision


@dataclass
class Acknowledged:
    """What acknowledging a new ticket (or storing a message) asked the worker to do after the commit."""

    outbox_ids: list[int] = field(default_factory=list)  # pending rows to send
    claimed: list = field(default_factory=list)  # rows already marked sending (an email acknowledgement)
    media_ids: list[int] = field(default_factory=list)  # MMS media to fetch


@dataclass(frozen=True)
class NoticeRoute:
    """Where a notice about a customer's ticket goes on the channel the customer wrote in, or why nowhere."""

    channel: str = ""  # the outbound channel (its ``notifier`` sender)
    recipient: str = ""
    refused: str = ""  # why nothing may be sent that way


@dataclass
class Command:
    """A message that is a command to the channel (an SMS keyword): done, no ticket."""

    reason: str
    outbox_ids: list[int] = field(default_factory=list)


class InboundChannel:
    """The defaults: a channel whose sender's address is its identity and which threads like any other."""

    name: ClassVar[str] = ""
    wants_ack: ClassVar[bool] = False  # a new ticket from it is acknowledged by email
    ack_may_echo: ClassVar[bool] = True  # the acknowledgement may repeat the message's subject and the name

    # ---- threading hints -----------------------------------------------------------------------------
    def agent_reply(self, env: Envelope) -> bool:
        """An agent writing in a ticket's thread on this channel (not a customer's message)."""
        return False

    def own_message(self, env: Envelope, domains: set[str]) -> bool:
        """Our own outbound message coming back (a forwarding loop)."""
        return False

    def command(self, ctx: Context) -> Command | None:
        """A message that is a command to the channel rather than a message to the desk."""
        return None

    def writable(self, env: Envelope, cands: list[Candidate]) -> list[Candidate]:
        """The thread evidence, with tickets this message may not write into stripped of participants."""
        return cands

    def may_join(self, env: Envelope, ticket_id: int) -> bool:
        """May the message join ``ticket_id`` on likeness alone (a near-duplicate)? Not a source's ticket."""
        return api_messages.may_join_without_source(ticket_id)

    def copy_may_join(self, env: Envelope, ticket_id: int) -> bool:
        """May an exact copy of an earlier message be counted as that message's duplicate on ``ticket_id``?"""
        return True

    def join_open(self, ctx: Context) -> ThreadDecision | None:
        """A message with no thread evidence that continues the customer's open conversation."""
        return None

    # ---- identity ------------------------------------------------------------------------------------
    def find_customer(self, env: Envelope) -> CustomerRef | None:
        return customer_refs.find(env.sender.kind, env.sender.address) if env.sender.address else None

    # ---- acknowledgement -----------------------------------------------------------------------------
    def wants_ack_for(self, env: Envelope) -> bool:
        """A new ticket from this message is acknowledged by email (``stages/ack_email.py``)."""
        return self.wants_ack

    def acknowledge(self, ctx: Context) -> Acknowledged:
        """The channel's own acknowledgement of the stored message, besides the email one (SMS: a text)."""
        return Acknowledged()

    def after_message(self, ctx: Context) -> None:
        """Channel bookkeeping after the message is stored (the webhook source's identities and fields)."""

    def notice_route(self, ticket_id: int, env: Envelope, settings: Settings, *, chat: bool) -> NoticeRoute | None:
        """Where automatic messages about a ticket opened by ``env`` go (status notices, surveys, reminders;
        ``workers/tickets/customer_notices.py``); None: by email, the default. ``chat``: the message may go where
        the customer chats (a Slack thread, a source's app)."""
        return None


class EmailChannel(InboundChannel):
    name = "email"
    wants_ack = True

    def own_message(self, env: Envelope, domains: set[str]) -> bool:
        return bool(env.thread.message_id) and is_own_message_id(env.thread.message_id, domains)


class SmsChannel(InboundChannel):
    """Twilio SMS/MMS: the number is the identity and a ``conv:sms:`` thread key (workers/inbound/sms_stage.py)."""

    name = "sms"

    def command(self, ctx: Context) -> Command | None:
        from helpline.workers.inbound import sms_stage

        got = sms_stage.handle_keyword(ctx.row.id, ctx.env, ctx.settings, ctx.now)
        return Command(got.reason, got.outbox_ids) if got is not None else None

    def acknowledge(self, ctx: Context) -> Acknowledged:
        """MMS media to fetch; a new ticket's acknowledgement by text (not email)."""
        from helpline.workers.inbound import sms_stage

        assert ctx.ticket is not None and ctx.message_id is not None  # after the message stage
        sms = sms_stage.after_message(
            ctx.ticket, ctx.message_id, ctx.env, ctx.settings, ctx.now, created=ctx.outcome.action == "created"
        )
        return Acknowledged(outbox_ids=sms.outbox_ids, media_ids=sms.media_ids)

    def notice_route(self, ticket_id: int, env: Envelope, settings: Settings, *, chat: bool) -> NoticeRoute | None:
        """By text to the number, unless it is no phone number or opted out."""
        from helpline.workers.inbound import sms_stage

        refused = sms_stage.no_automatic_text(env)
        return NoticeRoute(refused=refused) if refused else NoticeRoute("sms", env.sender.address)


class SlackChannel(InboundChannel):
    """A customer in a shared Slack channel, or an agent answering in a ticket's thread."""

    name = "slack"

    def agent_reply(self, env: Envelope) -> bool:
        return env.author_role == "agent"

    def join_open(self, ctx: Context) -> ThreadDecision | None:
        if ctx.customer is None:
            return None
        from helpline.workers.inbound import duplicates
        from helpline.workers.inbound.slack_join import join_open

        fp = (ctx.pre.fingerprint if ctx.pre is not None else None) or duplicates.fingerprint_of(ctx.env, ctx.settings)
        return join_open(ctx.env, ctx.customer.id, fp, ctx.settings, ctx.now)

    def notice_route(self, ticket_id: int, env: Envelope, settings: Settings, *, chat: bool) -> NoticeRoute | None:
        """A chat message in the customer's own thread; other notices by email."""
        return NoticeRoute("slack", env.thread.conversation_id) if chat and env.thread.conversation_id else None


class WebhookChannel(InboundChannel):
    """A signed source's app (``/api/v1/messages``): it vouches for identities and writes only into its own
    tickets (workers/inbound/api_messages.py says why)."""

    name = "webhook"

    def wants_ack_for(self, env: Envelope) -> bool:
        """Only when the request asks and names an email address the source vouches for."""
        return api_messages.ack_requested(env)

    def find_customer(self, env: Envelope) -> CustomerRef | None:
        return api_messages.find_customer(env)

    def writable(self, env: Envelope, cands: list[Candidate]) -> list[Candidate]:
        return api_messages.writable(env, cands)

    def may_join(self, env: Envelope, ticket_id: int) -> bool:
        return api_messages.source_may_join(env, ticket_id)

    def copy_may_join(self, env: Envelope, ticket_id: int) -> bool:
        return api_messages.source_may_join(env, ticket_id)

    def after_message(self, ctx: Context) -> None:
        assert ctx.ticket is not None and ctx.customer is not None  # after the message stage
        api_messages.record_source(ctx.env, ctx.ticket.id, ctx.customer.id, ctx.outcome.action, ctx.now)

    def notice_route(self, ticket_id: int, env: Envelope, settings: Settings, *, chat: bool) -> NoticeRoute | None:
        """A chat message through the source's app when it registered a callback; other notices by email."""
        return NoticeRoute("webhook", "") if chat and webhook_events.listening(ticket_id, settings) else None


class ContactFormChannel(InboundChannel):
    """The web contact form: acknowledged, since the form promises the ticket number by email, but the typed
    address proves nothing, so the acknowledgement repeats nothing the form carried."""

    name = "form"
    wants_ack = True
    ack_may_echo = False


_REGISTRY: dict[str, InboundChannel] = {}


def register(channel: InboundChannel) -> InboundChannel:
    """Make ``channel`` the behaviour of envelopes whose ``channel`` is ``channel.name``."""
    _REGISTRY[channel.name] = channel
    return channel


for _cls in (EmailChannel, SmsChannel, SlackChannel, WebhookChannel, ContactFormChannel):
    register(_cls())

_DEFAULT = InboundChannel()


def of(name: str) -> InboundChannel:
    """The behaviour of channel ``name``; an unknown name gets the defaults (no acknowledgement, no hints)."""
    return _REGISTRY.get(name, _DEFAULT)


def of_envelope(env: Envelope) -> InboundChannel:
    return _REGISTRY.get(env.channel, _DEFAULT)


def names() -> list[str]:
    return sorted(_REGISTRY)
