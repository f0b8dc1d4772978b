"""The envelope's hand-written ``to_dict`` must stay what ``dataclasses.asdict`` gives,
including for fields added later (this test fails when one is forgotten)."""

from __future__ import annotations

import dataclasses

from helpline.store.envelope import Attachment, AutoReply, Envelope, Recipients, Sender, Thread


def full_envelope() -> Envelope:
    return Envelope(
        channel="email",
        external_id="<a@b>",
        received_at="2026-11-26T10:00:00+00:00",
        sender=Sender("a@example.org", "A", "email"),
        reply_to=["r@example.org"],
        recipients=Recipients(["support@example.com"], ["cc@example.org"]),
        author_role="customer",
        subject="s",
        text="t",
        full_text="ft",
        html="<p>h</p>",
        attachments=[Attachment("f.pdf", "application/pdf", 3, "ab", "sha256:ab", True, "cid1")],
        thread=Thread("m", "i", ["r1", "r2"], "HL-2026-000001", "tok", "C1:1.2", "conv", "tix"),
        auto_reply=AutoReply("auto-replied", "bulk", "<list>", True, ["x"], ["<m>"]),
        auth={"failed": ["dkim"], "nested": {"k": [1]}},
        raw_blob_key="sha256:cd",
        warnings=["w"],
        metadata={"plan": "pro", "n": [1, 2]},
        content_hash="h",
    )


def test_to_dict_equals_asdict_for_every_field():
    env = full_envelope()
    assert env.to_dict() == dataclasses.asdict(env)


def test_to_dict_is_a_copy_and_round_trips():
    env = full_envelope()
    d = env.to_dict()
    d["metadata"]["n"].append(3)
    d["thread"]["references"].append("r3")
    assert env.metadata["n"] == [1, 2] and env.thread.references == ["r1", "r2"]
    assert Envelope.from_dict(env.to_dict()) == env
