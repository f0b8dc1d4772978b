"""Hostile requests to the signed article pages: forged or swapped signatures, path tricks, images of
other articles, resolving without the page's CSRF cookie or for a closed ticket."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

from aiohttp.test_utils import TestClient, TestServer

from helpline.ingest import public
from helpline.store.knowledge import kb_links
from helpline.store.knowledge import kb_state
from helpline.store import models as m

from ..kb.helpers import PNG, article, run_sync, write
from ..workers.builders import Desk, events


def test_forged_and_swapped_links_tell_nothing(backend, tmp_path):
    root = tmp_path / "kb"
    write(root, "a.png", PNG)
    write(root, "public.md", article("Public", ["q"], body="![x](a.png)"))
    write(root, "secret.md", article("Secret", ["q"], audience="internal", body="internal only"))
    desk = Desk(
        backend.replace(public_url="http://help.example.com")
    )  # a Secure cookie would not come back over the test's http
    run_sync(desk.settings, root)
    ticket, _ = desk.new_ticket()
    keys = desk.settings.secret_key
    good = kb_links.article_sig(keys, "public", "en")
    sha = kb_state.KbImage.get().sha256

    async def go() -> None:
        ex = ThreadPoolExecutor(2)
        client = TestClient(TestServer(public.make_app(desk.settings, None, ex)))
        async with client:

            async def status(method: str, path: str, **kw) -> int:  # noqa: ANN003
                r = await client.request(method, path, **kw)
                return r.status

            assert await status("GET", f"/kb/en/public?sig={good}") == 200
            assert await status("GET", f"/kb/en/secret?sig={good}") == 404  # another article's signature
            assert await status("GET", f"/kb/fr/public?sig={good}") == 404  # another language
            assert await status("GET", "/kb/en/public") == 404
            assert await status("GET", f"/kb/en/public?sig={good.upper()}x") == 404
            assert await status("GET", f"/kb/en/public?sig={'a' * 5000}") == 404
            other = kb_links.article_sig(("another-key",), "public", "en")
            assert await status("GET", f"/kb/en/public?sig={other}") == 404
            assert await status("GET", f"/kb/en/..%2Fsecret?sig={good}") == 404
            assert await status("GET", f"/kb/en/public/images/{sha}?sig={good}") == 200
            secret_sig = kb_links.article_sig(keys, "secret", "en")
            assert await status("GET", f"/kb/en/secret/images/{sha}?sig={secret_sig}") == 404  # not its image
            # the ticket token of another article, or a changed ticket number
            tok = kb_links.ticket_sig(keys, ticket.id, "secret", "en")
            page = await (await client.get(f"/kb/en/public?sig={good}&t={tok}")).text()
            assert "This answered my question" not in page
            tok = kb_links.ticket_sig(keys, ticket.id, "public", "en")
            page = await (await client.get(f"/kb/en/public?sig={good}&t={tok}")).text()
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            bad = f"{ticket.id + 1}.{tok.split('.')[1]}"
            assert await status("POST", "/kb/en/public/answered", data={"sig": good, "t": bad, "csrf": csrf}) == 404
            assert await status("POST", "/kb/en/public/answered", data={"sig": good, "t": tok, "csrf": "x"}) == 403
            assert m.Ticket.get_by_id(ticket.id).status not in ("resolved", "closed")
            page = await (await client.get(f"/kb/en/public?sig={good}&t={tok}")).text()  # each page pairs its cookie
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            assert await status("POST", "/kb/en/public/answered", data={"sig": good, "t": tok, "csrf": csrf}) == 200
            page = await (await client.get(f"/kb/en/public?sig={good}&t={tok}")).text()
            assert "This answered my question" not in page  # the ticket is no longer open
            # a second press (an old page) on the resolved ticket changes nothing more
            r = await client.post("/kb/en/public/answered", data={"sig": good, "t": tok, "csrf": csrf})
            assert "already closed" in await r.text()
        ex.shutdown()

    asyncio.run(go())
    assert len(events(ticket, "self_served")) == 1
