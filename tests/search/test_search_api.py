"""/api/v1/search and /api/v1/tickets/{number}/tags on both engines: answer shape, team-bound keys,
tags in the ticket JSON, empty searches counted; `helpline search` and `helpline tickets tag`."""

from __future__ import annotations

import json

import pytest

from helpline.ingest.cli import main as cli
from helpline.store.fulltext import search
from helpline.store.db import run_tx

from ..api.conftest import serve
from ..routing.conftest import configured_desk


@pytest.fixture
def api(backend, tmp_path):
    d = configured_desk(backend, tmp_path)
    d.new_ticket(subject="Invoice wrong", body="The invoice total is wrong, please fix.\n", to="billing@example.com")
    d.new_ticket(
        subject="Login broken",
        body="The login page is wrong.\n",
        sender="Bob <bob@example.org>",
        to="experts@example.com",
    )
    yield from serve(d)


def test_search_answer_and_team_scope(api):
    r = api.call("GET", "/search", key="read", params={"q": "wrong"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"tickets", "articles"} and len(body["tickets"]) == 2
    hit = body["tickets"][0]
    assert set(hit) == {"number", "subject", "status", "snippet", "score"} and "<mark>" in hit["snippet"]
    billing = api.call("GET", "/search", key="billing", params={"q": "wrong"}).json()["tickets"]
    assert [h["subject"] for h in billing] == ["Invoice wrong"]
    assert (
        api.call("GET", "/search", key="read", params={"q": "wrong team:billing"}).json()["tickets"][0]["subject"]
        == "Invoice wrong"
    )
    listed = api.call("GET", "/tickets", key="read", params={"q": "login"}).json()["tickets"]
    assert [t["subject"] for t in listed] == ["Login broken"]


def test_empty_search_is_counted(api):
    for _ in range(2):
        assert api.call("GET", "/search", key="read", params={"q": "Quasar  drive"}).json() == {
            "tickets": [],
            "articles": [],
        }
    assert run_tx(lambda: search.misses())[0] == {
        **run_tx(lambda: search.misses())[0],
        "query": "quasar drive",
        "count": 2,
    }


def test_tags_api_and_json(api):
    number = api.call("GET", "/tickets", key="read", params={"q": "login"}).json()["tickets"][0]["number"]
    r = api.call("POST", f"/tickets/{number}/tags", json={"add": ["VIP", "bug/1234"]})
    assert r.status_code == 200 and r.json() == {"ticket": number, "tags": ["bug/1234", "vip"]}
    assert api.call("GET", f"/tickets/{number}", key="read").json()["tags"] == ["bug/1234", "vip"]
    assert api.call("GET", "/search", key="read", params={"q": "tag:vip"}).json()["tickets"][0]["number"] == number
    r = api.call("POST", f"/tickets/{number}/tags", json={"remove": ["vip"]})
    assert r.json()["tags"] == ["bug/1234"]
    # another team's ticket is invisible to a team-bound key
    assert api.call("POST", f"/tickets/{number}/tags", key="billing", json={"add": ["x"]}).status_code == 404


def test_cli_search_and_tag(api, capsys, monkeypatch):
    monkeypatch.setenv("HELPLINE_DATABASE_URL", api.desk.settings.effective_database_url)
    monkeypatch.setenv("HELPLINE_DATA_DIR", api.desk.settings.data_dir)
    assert cli.main(["search", "wrong", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["tickets"]) == 2 and "[" in out["tickets"][0]["snippet"]
    number = out["tickets"][0]["number"]
    assert cli.main(["tickets", "tag", number, "+urgent-fix", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"ticket": number, "tags": ["urgent-fix"]}
    assert cli.main(["tickets", "tag", number, "-urgent-fix"]) == 0
    capsys.readouterr()
    assert cli.main(["search", "status:bogus"]) == 2
    assert "status: must be one of" in capsys.readouterr().err
    assert cli.main(["search", "nothingatallhere"]) == 1
    assert cli.main(["search", "misses", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["query"] == "nothingatallhere"
    assert cli.main(["report", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["search_misses"][0]["query"] == "nothingatallhere"
    assert cli.main(["search", "reindex", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["messages"] >= 2
