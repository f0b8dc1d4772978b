"""Status notices and CSAT surveys through ticket_ops.change_status, the survey pages, SMS digits."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient, TestServer

from helpline.ingest import public
from helpline.notifier.templates import build_email
from helpline.store.tickets import csat_state
from helpline.store import models as m
from helpline.workers.tickets import ticket_ops

from ..routing.conftest import in_tx
from ..workers.builders import Desk, events, mail, passed


def status(desk: Desk, ticket_id: int, to: str, when: dt.datetime | None = None) -> None:
    in_tx(
        lambda: ticket_ops.change_status(
            ticket_ops.load(ticket_id), to, now=when or m.utcnow(), settings=desk.settings, actor="agent", reason="test"
        )
    )


def outbox(ticket_id: int, kind: str) -> list[m.Outbox]:
    return list(m.Outbox.select().where((m.Outbox.ticket == ticket_id) & (m.Outbox.kind == kind)))


def test_resolution_sends_notice_and_one_survey(backend):
    desk = Desk(backend).authenticated()  # the notice may repeat the subject to an authenticated sender
    ticket, _ = desk.new_ticket(sender="Ann Lee <ann@example.org>", subject="Printer on fire", headers=passed())
    status(desk, ticket.id, "resolved")
    (notice,) = outbox(ticket.id, "notification")
    (survey,) = outbox(ticket.id, "csat")
    assert notice.recipient == survey.recipient == "ann@example.org"
    assert "has been resolved" in notice.payload["text"] and "Printer on fire" in notice.payload["text"]
    msg = build_email(survey.payload)
    assert msg.get_content_type() == "multipart/alternative"
    links = re.findall(r"https?://\S+/csat/\S+\?score=\d", survey.payload["text"])
    assert [u[-1] for u in links] == list("12345")
    # Reopened and resolved again: a new notice, no second survey.
    status(desk, ticket.id, "open")
    status(desk, ticket.id, "resolved", m.utcnow() + dt.timedelta(seconds=1))
    assert len(outbox(ticket.id, "notification")) == 2 and len(outbox(ticket.id, "csat")) == 1
    assert [e.kind for e in events(ticket.id, "csat_sent")] == ["csat_sent"]


def test_no_survey_to_auto_reply_or_no_reply_addresses(backend):
    desk = Desk(backend)
    ticket, _ = desk.new_ticket(sender="noreply@shop.example", subject="Your order")
    status(desk, ticket.id, "resolved")
    assert outbox(ticket.id, "csat") == [] and outbox(ticket.id, "notification") == []
    assert events(ticket.id, "customer_notice_suppressed")[0].data["reason"] == "noreply_sender"
    assert csat_state.get(ticket.id) is None
    raw, _ = mail(sender="bob@example.org", subject="Out of office", headers={"Auto-Submitted": "auto-replied"})
    out = desk.receive(raw)
    status(desk, out.ticket_id, "resolved")
    assert outbox(out.ticket_id, "csat") == []


def test_status_notices_only_where_configured(backend):
    desk = Desk(backend.replace(notify_statuses=(), csat_survey=False))
    ticket, _ = desk.new_ticket()
    status(desk, ticket.id, "waiting_customer")
    status(desk, ticket.id, "resolved")
    assert outbox(ticket.id, "notification") == [] and outbox(ticket.id, "csat") == []
    desk = Desk(backend.replace(notify_statuses=("waiting_customer",), csat_survey=False))
    ticket, _ = desk.new_ticket(subject="Another")
    status(desk, ticket.id, "waiting_customer")
    (notice,) = outbox(ticket.id, "notification")
    assert "waiting for your answer" in notice.payload["text"]


def _client(settings):  # noqa: ANN001, ANN202
    executor = ThreadPoolExecutor(2)
    app = public.make_app(settings, None, executor)
    return TestClient(TestServer(app)), executor


def test_survey_page_get_records_nothing_post_records_and_changes(backend):
    desk = Desk(backend)
    ticket, _ = desk.new_ticket(sender="ann@example.org")
    status(desk, ticket.id, "resolved")
    (survey,) = outbox(ticket.id, "csat")
    url = re.findall(r"https?://\S+/csat/\S+\?score=4", survey.payload["text"])[0]
    path = urlsplit(url).path

    async def go() -> None:
        client, executor = _client(backend)
        async with client:
            for _ in range(3):  # a mail scanner fetching the link
                r = await client.get(path + "?score=4")
                assert r.status == 200
            page = await r.text()
            assert csat_state.get(ticket.id).score is None
            assert 'value="4" checked' in page
            token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            r = await client.post(path, data={"csrf": token, "score": "4", "comment": "<b>quick</b>"})
            assert r.status == 200 and "recorded" in await r.text()
            assert (csat_state.get(ticket.id).score, csat_state.get(ticket.id).comment) == (4, "<b>quick</b>")
            page = await r.text()
            assert "&lt;b&gt;quick" in page
            token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # each page pairs with its cookie
            r = await client.post(path, data={"csrf": token, "score": "2"})  # changed its mind
            assert r.status == 200 and csat_state.get(ticket.id).score == 2
            # Without the cookie's nonce (another site's form): refused, nothing changes.
            client.session.cookie_jar.clear()
            r = await client.post(path, data={"csrf": token, "score": "5"})
            assert r.status == 403 and csat_state.get(ticket.id).score == 2
            # A forged token.
            forged = path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb")
            assert (await client.get(forged)).status == 404
            other = csat_state.token(("another-key",), ticket.id)
            assert (await client.get(f"/csat/{other}")).status == 404
        executor.shutdown()

    asyncio.run(go())
    kinds = [e.data for e in events(ticket.id, "csat_answered")]
    assert kinds == [
        {"score": 4, "via": "page", "comment": "<b>quick</b>"},
        {"score": 2, "via": "page", "previous": 4, "comment": "<b>quick</b>"},
    ]


def test_expired_survey_refuses(backend):
    desk = Desk(backend)
    ticket, _ = desk.new_ticket(sender="ann@example.org")
    status(desk, ticket.id, "resolved", m.utcnow() - dt.timedelta(days=backend.csat_expire_days + 1))
    path = f"/csat/{csat_state.token(backend.secret_key, ticket.id)}"

    async def go() -> None:
        client, executor = _client(backend)
        async with client:
            r = await client.get(path + "?score=5")
            assert r.status == 410 and "no longer be answered" in await r.text()
            r = await client.post(path, data={"csrf": "", "score": "5"})
            assert r.status == 410
        executor.shutdown()

    asyncio.run(go())
    assert csat_state.get(ticket.id).score is None
