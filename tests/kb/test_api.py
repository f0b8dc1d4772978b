"""The knowledge base and a ticket's suggestions over the API, on both databases."""

from __future__ import annotations

from helpline.store.knowledge import kb_state

from .helpers import PNG, article, run_sync, write


def test_articles_read_write_and_scopes(api, tmp_path):
    root = tmp_path / "kb"
    write(root, "img/s.png", PNG)
    write(root, "login.md", article("Log in", ["I cannot log in"], body="![s](img/s.png)"))
    write(root, "billing-only.md", article("Billing internal", ["invoice"], team="sales", audience="internal"))
    run_sync(api.desk.settings, root)

    r = api.call("GET", "/kb/articles", key="read")
    assert r.status_code == 200 and {a["slug"] for a in r.json()["articles"]} == {"login", "billing-only"}
    # a team-bound key does not see another team's articles
    assert {a["slug"] for a in api.call("GET", "/kb/articles", key="billing").json()["articles"]} == {"login"}
    assert api.call("GET", "/kb/articles/billing-only", key="billing").status_code == 404

    got = api.call("GET", "/kb/articles/login", key="read").json()
    assert got["questions"] == ["I cannot log in"]
    src = got["html"].split('src="')[1].split('"')[0]
    assert src.startswith("/api/v1/kb/articles/login/images/")
    img = api.call("GET", src.removeprefix("/api/v1"), key="read")
    assert img.status_code == 200 and img.content == PNG and img.headers["Content-Type"] == "image/png"
    assert api.call("GET", src.removeprefix("/api/v1"), key=None).status_code == 401

    body = "---\ntitle: Shipping times\nquestions: [when will my order arrive]\n---\nThree days.\n"
    hdr = {"Content-Type": "text/markdown"}
    assert api.call("PUT", "/kb/articles/shipping", key="read", data=body, headers=hdr).status_code == 403
    r = api.call("PUT", "/kb/articles/shipping", key="write", data=body, headers=hdr)
    assert r.status_code == 201 and r.json()["outcome"] == "added"
    r = api.call("PUT", "/kb/articles/shipping", key="write", data=body.replace("Three", "Two"), headers=hdr)
    assert r.status_code == 200 and r.json()["article"]["version"] == 2
    bad = api.call("PUT", "/kb/articles/shipping", key="write", data="---\ntitle: [x\n---\n", headers=hdr)
    assert bad.status_code == 422 and bad.json()["line"] == 3  # where the unclosed list meets the end
    assert api.call("DELETE", "/kb/articles/shipping", key="write").status_code == 200
    assert kb_state.get_article("shipping").status == "retired"
    assert api.call("DELETE", "/kb/articles/shipping", key="write").status_code == 404


def test_ticket_suggestions_and_suggest(api, tmp_path):
    root = tmp_path / "kb"
    write(root, "order-late.md", article("My order is late", ["my order has not arrived", "where is my order"]))
    write(root, "password.md", article("Reset password", ["I forgot my password"]))
    run_sync(api.desk.settings, root)
    ticket, _ = api.desk.new_ticket(subject="Order never arrived", body="Hello, my order has not arrived yet.\n")
    r = api.call("GET", f"/tickets/{ticket.number}/suggestions", key="read")
    assert r.status_code == 200
    top = r.json()["articles"][0]
    assert top["slug"] == "order-late" and top["why"] == "my order has not arrived" and top["action"] is None
    assert api.call("GET", "/tickets/HL-999999/suggestions", key="read").status_code == 404
    s = api.call("GET", "/kb/suggest", key="read", params={"text": "I forgot my password"}).json()
    assert s["articles"][0]["slug"] == "password" and s["tickets"] == []


def test_a_team_key_gets_no_other_teams_suggestions(api, tmp_path):
    root = tmp_path / "kb"
    write(root, "sales-discounts.md", article("Discount codes", ["my discount code does not work"], team="sales"))
    write(root, "discounts.md", article("Discounts", ["are there discounts"]))
    run_sync(api.desk.settings, root)
    every = api.call("GET", "/kb/suggest", key="read", params={"text": "discount code does not work"}).json()
    assert [a["slug"] for a in every["articles"]][:1] == ["sales-discounts"]
    billing = api.call("GET", "/kb/suggest", key="billing", params={"text": "discount code does not work"}).json()
    assert [a["slug"] for a in billing["articles"]] == ["discounts"]


def test_send_and_dismiss_a_suggestion_through_the_api(api, tmp_path):
    from helpline.store import models as m

    root = tmp_path / "kb"
    write(root, "order-late.md", article("My order is late", ["my order has not arrived"], body="It ships in 3 days."))
    run_sync(api.desk.settings, root)
    ticket, _ = api.desk.new_ticket(subject="Order never arrived", body="my order has not arrived\n")
    top = api.call("GET", f"/tickets/{ticket.number}/suggestions", key="read").json()["articles"][0]
    path = f"/tickets/{ticket.number}/suggestions/{top['id']}"
    assert api.call("POST", path + "/send", key="read").status_code == 403
    assert api.call("POST", f"/tickets/{ticket.number}/suggestions/999999/send", key="write").status_code == 404
    r = api.call("POST", path + "/send", key="write", headers={"Idempotency-Key": "s1"})
    assert r.status_code == 200 and r.json()["action"] == "sent" and r.json()["recorded"] is True
    again = api.call("POST", path + "/send", key="write", headers={"Idempotency-Key": "s1"})
    assert again.json()["recorded"] is False
    reply = m.Outbox.get((m.Outbox.ticket == ticket.id) & (m.Outbox.kind == "reply"))
    assert "It ships in 3 days." in str(reply.payload)
    assert m.Outbox.select().where((m.Outbox.ticket == ticket.id) & (m.Outbox.kind == "reply")).count() == 1
    got = api.call("GET", f"/tickets/{ticket.number}/suggestions", key="read").json()["articles"][0]
    assert got["action"] == "sent"
    assert api.call("POST", path + "/dismiss", key="write").json()["recorded"] is False  # acted on already
