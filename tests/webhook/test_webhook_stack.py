"""The webhook API, outbound events and the contact form through the real processes:
``helpline ingest`` and ``helpline worker`` started as an operator starts them,
an SMTP sink as the relay, a local receiver as the source's callback, and
headless Chromium on the daemon's contact form."""

from __future__ import annotations

import json
import time

import pytest
import requests
from selenium.webdriver.common.by import By

from helpline.store import models as m
from tests.support.stack import Stack, wait_until

from .support import SOURCES, encode, message, signed_headers
from .test_contact_form import browser, fill, submit  # noqa: F401 (the module-scoped Chromium fixture)


@pytest.fixture
def stack(backend, relay_sink, receiver, tmp_path):
    s = Stack(
        backend.replace(
            smtp_relay=relay_sink.address,
            webhook_sources=SOURCES,
            webhook_callbacks=f"shop={receiver.url}",
            contact_ticket_wait_s=30.0,
        ),
        tmp_path,
    )
    s.start_ingest().start_worker(processes=1, threads=2)
    yield s
    s.stop()


def url(stack: Stack) -> str:
    return f"http://{stack.settings.http_listen}"


def test_signed_post_to_ticket_and_event_back(stack, receiver, relay_sink):
    body = message(acknowledge=True, metadata={"order": "4711"})
    raw = encode(body)
    answer = requests.post(
        url(stack) + "/api/v1/messages", data=raw, timeout=30, headers=signed_headers(raw, idempotency_key="e2e-1")
    )
    assert answer.status_code == 202, (answer.text, stack.log("ingest"))
    unsigned = requests.post(
        url(stack) + "/api/v1/messages", data=raw, timeout=30, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 401
    wait_until(lambda: receiver.requests, 60, what="the ticket.created event")
    ticket = m.Ticket.get()
    event = receiver.events()[0]
    assert event["type"] == "ticket.created" and event["ticket"]["number"] == ticket.number
    ack = relay_sink.wait_for(1)[0]
    assert ack.rcpt_tos == ["ann@example.org"] and f"[{ticket.number}]" in ack.message()["Subject"]
    again = requests.post(
        url(stack) + "/api/v1/messages",
        data=raw,
        timeout=30,
        headers=signed_headers(raw, idempotency_key="e2e-1", timestamp=int(time.time()) + 1),
    )
    assert again.json() == {"inbound_id": answer.json()["inbound_id"], "status": "duplicate"}
    assert m.Inbound.select().count() == 1


def test_contact_form_in_chromium_against_the_daemon(stack, browser, relay_sink):  # noqa: F811
    browser.delete_all_cookies()
    browser.get(url(stack) + "/contact")
    fill(browser, name="Ann Customer", subject="My invoice is wrong", message="The total of invoice 88 is wrong.")
    submit(browser)
    number = browser.find_element(By.ID, "ticket-number").text
    ticket = m.Ticket.get(m.Ticket.number == number)
    assert (ticket.channel, ticket.subject) == ("form", "My invoice is wrong")
    ack = relay_sink.wait_for(1)[0]
    mail = ack.message()
    text, html = (mail.get_body((kind,)).get_content() for kind in ("plain", "html"))
    assert ack.rcpt_tos == ["ann@example.org"] and number in mail["Subject"] and number in text and number in html
    assert "invoice" not in (mail["Subject"] + text + html).lower() and "Ann" not in text + html
    metrics = requests.get(f"http://{stack.settings.admin_listen}/metrics", timeout=30).text
    assert 'helpline_inbound_total{channel="form",result="accepted"}' in metrics
    assert json.loads(requests.get(url(stack) + "/", timeout=30).text) == {"service": "helpline"}
