"""`helpline customers`: an agent links a phone number to an email customer, and
that number's texts are then the same customer's (on both databases)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import urlencode

from helpline.ingest.channels import twilio_sms
from helpline.store import models as m

from .support.stack import settings_env
from .workers.builders import Desk, mail

PHONE = "+14155550123"


def helpline(settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings_env(settings)}
    return subprocess.run(
        [sys.executable, "-m", "helpline.ingest.cli", "customers", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def text_in(desk: Desk, body: str, sid: str) -> int:
    desk.intake.register(twilio_sms.KIND, twilio_sms.build_envelope)
    raw = urlencode({"MessageSid": sid, "From": PHONE, "To": "+14155550000", "Body": body}).encode()
    return desk.intake.accept_request(twilio_sms.KIND, raw, {}).inbound_id


def test_link_a_phone_to_an_email_customer_and_their_texts_follow(backend):
    desk = Desk(backend)
    ticket = m.Ticket.get_by_id(desk.receive(mail(sender="Ann <ann@example.org>")[0]).ticket_id)
    customer = ticket.customer_id

    found = json.loads(helpline(backend, "list", "--search", "ANN@example", "--json").stdout)
    assert [c["id"] for c in found] == [customer]
    out = helpline(
        backend, "link", str(customer), "--phone", "+1 415 555 0123", "--actor", "agent:dana", "--reason", "she called"
    )
    assert out.returncode == 0 and f"phone {PHONE} linked to customer {customer}" in out.stdout, out.stderr
    assert (
        helpline(backend, "link", str(customer), "--phone", PHONE)
        .stdout.strip()
        .endswith(f"already belongs to customer {customer}")
    )
    event = m.Event.get(m.Event.kind == "identity_linked")
    assert event.actor == "agent:dana" and event.data["address"] == PHONE and event.data["reason"] == "she called"

    outcome = desk.run(text_in(desk, "It is me again, the parcel is still not here", "SM" + "a" * 32))
    assert m.Ticket.get_by_id(outcome.ticket_id).customer_id == customer
    shown = json.loads(helpline(backend, "show", str(customer), "--json").stdout)
    assert {(i["kind"], i["address"]) for i in shown["identities"]} == {("email", "ann@example.org"), ("phone", PHONE)}


def test_an_identity_of_another_customer_is_not_moved_and_the_last_one_stays(backend):
    desk = Desk(backend)
    ann = m.Ticket.get_by_id(desk.receive(mail(sender="ann@example.org")[0]).ticket_id).customer_id
    bob = m.Ticket.get_by_id(desk.receive(mail(sender="bob@example.org")[0]).ticket_id).customer_id
    out = helpline(backend, "link", str(ann), "--email", "BOB@example.org")
    assert out.returncode == 1 and f"belongs to customer {bob}" in out.stderr
    assert m.Identity.get(m.Identity.address == "bob@example.org").customer_id == bob
    out = helpline(backend, "unlink", str(ann), "--email", "ann@example.org")
    assert out.returncode == 1 and "only identity" in out.stderr
    bad = helpline(backend, "link", str(ann), "--phone", "0301234")
    assert bad.returncode != 0 and "E.164" in bad.stderr
    assert helpline(backend, "link", "999999", "--email", "x@example.org").returncode == 1
    assert not m.Event.select().where(m.Event.kind == "identity_linked").exists()
