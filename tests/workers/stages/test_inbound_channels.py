"""workers/inbound/inbound_channels.py: one class per channel, registered by name; unknown names get the defaults."""

from __future__ import annotations

from helpline.store.envelope import Envelope, Sender
from helpline.workers.inbound import inbound_channels


def _env(channel: str, **kw: object) -> Envelope:
    return Envelope(channel=channel, external_id="x", received_at="2026-03-02T10:00:00+00:00", **kw)


def test_every_inbound_channel_is_registered():
    assert inbound_channels.names() == ["email", "form", "slack", "sms", "webhook"]
    assert inbound_channels.of("carrier-pigeon") is inbound_channels._DEFAULT


def test_which_channels_acknowledge_by_email():
    assert inbound_channels.of("email").wants_ack_for(_env("email"))
    assert inbound_channels.of("form").wants_ack_for(_env("form"))
    assert not inbound_channels.of("sms").wants_ack_for(_env("sms"))
    assert not inbound_channels.of("slack").wants_ack_for(_env("slack"))
    webhook = inbound_channels.of("webhook")
    assert not webhook.wants_ack_for(_env("webhook", metadata={"acknowledge": True}))  # no vouched address
    assert webhook.wants_ack_for(
        _env("webhook", metadata={"acknowledge": True, "identities": [["email", "a@example.org"]]})
    )


def test_only_the_contact_forms_acknowledgement_repeats_nothing():
    assert [n for n in inbound_channels.names() if not inbound_channels.of(n).ack_may_echo] == ["form"]


def test_only_slack_has_agent_replies_and_only_email_has_own_message_ids():
    agent = _env("slack", author_role="agent", sender=Sender("U1", kind="slack"))
    assert inbound_channels.of("slack").agent_reply(agent)
    assert not inbound_channels.of("slack").agent_reply(_env("slack"))
    assert not inbound_channels.of("email").agent_reply(_env("email", author_role="agent"))
    env = _env("email")
    env.thread.message_id = "hl.abc@example.com"
    assert inbound_channels.of("email").own_message(env, {"example.com"})
    assert not inbound_channels.of("form").own_message(env, {"example.com"})


def test_a_new_channel_is_one_class():
    class Pigeon(inbound_channels.InboundChannel):
        name = "pigeon"
        wants_ack = True

    try:
        inbound_channels.register(Pigeon())
        assert inbound_channels.of("pigeon").wants_ack_for(_env("pigeon"))
    finally:
        inbound_channels._REGISTRY.pop("pigeon")
