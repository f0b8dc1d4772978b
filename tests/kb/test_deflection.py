"""Deflection: a confident public article named in the acknowledgement (opt-in per team), its signed
page, and only its "This answered my question" button resolving the ticket as self-served."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient, TestServer

from helpline.ingest import public
from helpline.store import models as m
from helpline.workers.jobs import kb_deflection

from ..workers.builders import Desk, events, mail
from .helpers import PNG, article, run_sync, write


def desk_with_kb(backend, tmp_path, teams=("*",)) -> Desk:
    root = tmp_path / "kb"
    write(root, "img/steps.png", PNG)
    write(
        root,
        "reset-password.md",
        article(
            "Reset your password",
            [
                "I forgot my password",
                "how do I reset my password",
                "password reset link not working",
                "can't log in, forgot password",
            ],
            body="Open *Settings* and choose **Reset**.\n\n![steps](img/steps.png)",
        ),
    )
    write(
        root,
        "internal-refund-policy.md",
        article("Refund policy (internal)", ["how do I get a refund", "refund my order"], audience="internal"),
    )
    write(
        root,
        "delivery-times.md",
        article("Delivery times", ["when will my order arrive", "how long does shipping take"]),
    )
    desk = Desk(backend.replace(kb_deflect_teams=teams, public_url="https://help.example.com"))
    run_sync(desk.settings, root)
    kb_deflection._cache.clear()
    return desk


def ack_of(ticket: m.Ticket) -> m.Outbox:
    return m.Outbox.get((m.Outbox.ticket == ticket.id) & (m.Outbox.kind == "ack"))


def test_confident_public_article_is_named_and_resolves_only_by_its_button(backend, tmp_path):
    desk = desk_with_kb(backend, tmp_path)
    ticket, mid = desk.new_ticket(subject="Forgot my password", body="Hi, I forgot my password. How do I reset it?\n")
    text = ack_of(ticket).payload["text"]
    assert "Reset your password" in text
    url = re.search(r"https://help\.example\.com/kb/en/reset-password\?sig=\S+&t=\S+", text).group(0)
    (ev,) = events(ticket, "deflection_offered")
    assert ev.data["slug"] == "reset-password"

    # a reply "thanks, but..." is only a message: the ticket stays open
    desk.receive(
        mail(
            subject=f"Re: [{ticket.number}] Forgot my password",
            in_reply_to=mid,
            body="Thanks, but this answered my question only partly.\n",
        )[0]
    )
    assert m.Ticket.get_by_id(ticket.id).status not in ("resolved", "closed")

    parts = urlsplit(url)
    path, query = parts.path, parts.query

    async def go() -> None:
        executor = ThreadPoolExecutor(2)
        client = TestClient(TestServer(public.make_app(desk.settings, None, executor)))
        async with client:
            for _ in range(3):  # mail scanners fetch links: nothing changes
                r = await client.get(f"{path}?{query}")
                assert r.status == 200
            page = await r.text()
            assert "This answered my question" in page and "<strong>Reset</strong>" in page
            assert "default-src 'none'" in r.headers["Content-Security-Policy"]
            img = re.search(r'<img src="([^"]+)"', page).group(1).replace("&amp;", "&")
            got = await client.get(img)
            assert got.status == 200 and await got.read() == PNG
            assert m.Ticket.get_by_id(ticket.id).status not in ("resolved", "closed")
            sig = re.search(r'name="sig" value="([^"]+)"', page).group(1)
            tok = re.search(r'name="t" value="([^"]+)"', page).group(1)
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            # forged: another ticket's number with this article's MAC, another article's signature
            forged = f"{int(tok.split('.')[0]) + 1}.{tok.split('.')[1]}"
            r = await client.post(f"{path}/answered", data={"sig": sig, "t": forged, "csrf": csrf})
            assert r.status == 404
            assert (await client.get(path + "?sig=" + "a" * 26)).status == 404
            assert (await client.get("/kb/en/delivery-times?" + query)).status == 404
            # without the page's cookie (a form on another site): refused
            jar = list(client.session.cookie_jar)
            client.session.cookie_jar.clear()
            r = await client.post(f"{path}/answered", data={"sig": sig, "t": tok, "csrf": csrf})
            assert r.status == 403
            for c in jar:
                client.session.cookie_jar.update_cookies({c.key: c.value})
            r = await client.post(f"{path}/answered", data={"sig": sig, "t": tok, "csrf": csrf})
            assert r.status == 200 and "closed your request" in await r.text()
        executor.shutdown()

    asyncio.run(go())
    assert m.Ticket.get_by_id(ticket.id).status == "resolved"
    (served,) = events(ticket, "self_served")
    assert served.actor == "customer" and served.data["slug"] == "reset-password"


def test_no_article_when_unsure_internal_or_not_opted_in(backend, tmp_path):
    desk = desk_with_kb(backend, tmp_path)
    unsure, _ = desk.new_ticket(subject="Hello", body="My printer makes a strange noise.\n", sender="a@example.org")
    assert "/kb/" not in ack_of(unsure).payload["text"] and not events(unsure, "deflection_offered")
    internal, _ = desk.new_ticket(
        subject="Refund", body="How do I get a refund? Refund my order please.\n", sender="b@example.org"
    )
    assert "Refund policy" not in ack_of(internal).payload["text"]

    other = desk_with_kb(backend, tmp_path / "2", teams=("billing",))
    t, _ = other.new_ticket(subject="Forgot my password", body="I forgot my password.\n", sender="c@example.org")
    assert "/kb/" not in ack_of(t).payload["text"] and not events(t, "deflection_offered")
