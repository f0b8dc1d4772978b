"""Export and erasure through the API: admin keys only, the zip byte-equal, the erase report."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from helpline.store import models as m

from ..api.conftest import serve
from ..routing.conftest import configured_desk
from .helpers import rich_mail

FILE = b"%PDF-1.4 api export " + bytes(range(256))


@pytest.fixture
def api(backend, tmp_path):
    yield from serve(configured_desk(backend, tmp_path))


def test_admin_key_exports_the_zip_and_erases(api):
    out = api.desk.receive(rich_mail("Ann <ann@example.net>", "hello annword", "<p>annword</p>", [("a.pdf", FILE)]))
    tid = out.ticket_id
    got = api.call("POST", "/customers/ann@example.net/export", key="admin")
    assert got.status_code == 200 and got.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(got.content)) as z:
        number = m.Ticket.get_by_id(tid).number
        doc = json.loads(z.read(f"tickets/{number}/ticket.json"))
        assert z.read(doc["messages"][0]["attachments"][0]["path"]) == FILE
    assert m.Event.get(m.Event.kind == "customer_exported").actor == "api:admin-client"
    assert api.call("POST", "/customers/ann@example.net/erase", key="admin", json={}).status_code == 422
    done = api.call("POST", "/customers/ann@example.net/erase", key="admin", json={"confirm": "erase"})
    assert done.status_code == 200 and done.json()["tickets"] == 1
    assert "annword" not in m.Message.get(m.Message.ticket == tid).text
    assert api.call("POST", "/customers/ann@example.net/export", key="admin").status_code == 404


def test_only_unbound_admin_keys_may_export_or_erase(api):
    api.desk.receive(rich_mail("Ann <ann@example.net>", "hi", "<p>hi</p>", []))
    for key, status in (("write", 403), ("read", 403), ("billing", 403), (None, 401)):
        assert api.call("POST", "/customers/ann@example.net/export", key=key).status_code == status, key
        assert (
            api.call("POST", "/customers/ann@example.net/erase", key=key, json={"confirm": "erase"}).status_code
            == status
        ), key
    assert m.Identity.select().count() >= 1
