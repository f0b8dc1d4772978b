"""``kb sync`` of added, changed, removed and broken files, on SQLite and PostgreSQL."""

from __future__ import annotations

from helpline.ingest.cli import main as cli
from helpline.store.storage import blobs
from helpline.store.knowledge import kb_state

from .helpers import PNG, article, run_sync, write


def test_added_changed_removed_and_broken_files(backend, tmp_path):
    root = tmp_path / "kb"
    write(root, "reset-password.md", article("Reset your password", ["I forgot my password"], tags="[account]"))
    write(root, "billing/Refunds.md", article("Refunds", ["where is my refund"], language="en"))
    write(
        root,
        "billing/remboursement.md",
        article("Remboursements", ["où est mon remboursement"], slug="Refunds", language="fr"),
    )
    write(root, "macros/thanks.md", "---\nname: thanks\n---\nThanks {{ customer_name }}\n")
    first = run_sync(backend, root)
    assert sorted(first.added) == ["Refunds", "Refunds (fr)", "reset-password"]  # file name, case kept
    assert first.errors == [] and first.macros["added"] == ["thanks"]
    assert {(a.slug, a.language) for a in kb_state.list_articles()} == {
        ("Refunds", "en"),
        ("Refunds", "fr"),
        ("reset-password", "en"),
    }

    # change one, remove one, break one, leave one
    write(root, "reset-password.md", article("Reset your password", ["I forgot my password", "locked out"]))
    (root / "billing/remboursement.md").unlink()
    write(root, "billing/Refunds.md", "---\ntitle: Refunds\nquestions: [oops\n---\nbody\n")
    second = run_sync(backend, root)
    assert second.updated == ["reset-password"] and second.retired == ["Refunds (fr)"]
    (err,) = second.errors
    assert err.path == "billing/Refunds.md" and err.line == 4 and "front matter" in err.message
    reset = kb_state.get_article("reset-password")
    assert reset.version == 2 and reset.questions == ["I forgot my password", "locked out"]
    (old,) = kb_state.versions(reset.id)
    assert old.version == 1 and old.meta["questions"] == ["I forgot my password"]
    # the broken file's article is neither updated nor retired
    assert kb_state.get_article("Refunds", "en").status == "active"
    assert kb_state.get_article("Refunds", "fr").status == "retired"

    # the same folder again changes nothing
    write(root, "billing/Refunds.md", article("Refunds", ["where is my refund"], language="en"))
    third = run_sync(backend, root)
    assert third.added == third.updated == third.retired == [] and third.errors == []
    assert kb_state.get_article("reset-password").version == 2


def test_images_are_kept_and_html_sanitised(backend, tmp_path):
    root = tmp_path / "kb"
    write(root, "img/screen.png", PNG)
    write(
        root,
        "guides/login.md",
        article(
            "Log in",
            body="![screen](../img/screen.png) ![x](https://t.example/p.gif)"
            "\n\n<b onclick=x>hi</b> [a](javascript:alert(1))",
        ),
    )
    report = run_sync(backend, root)
    assert report.errors == []
    a = kb_state.get_article("login")
    assert 'src="kb-image:' in a.html and "t.example" not in a.html
    assert "<b onclick" not in a.html and 'href="javascript' not in a.html and "&lt;b onclick" in a.html
    (im,) = kb_state.KbImage.select().where(kb_state.KbImage.article == a.id)
    assert im.path == "img/screen.png" and im.content_type == "image/png"
    assert blobs.open_store(backend.blob_backend, backend.effective_blob_dir).get(im.blob_key) == PNG


def test_cli_sync_list_show_suggest(backend, tmp_path, monkeypatch, capsys):
    import json

    monkeypatch.setenv("HELPLINE_DATABASE_URL", backend.effective_database_url)
    monkeypatch.setenv("HELPLINE_DATA_DIR", backend.data_dir)
    root = tmp_path / "kb"
    write(
        root, "card-arrival.md", article("Card arrival", ["my card has not arrived yet", "when will my new card come"])
    )
    write(root, "top-up-failed.md", article("Top-up failed", ["my top up did not work", "why was my top-up declined"]))
    write(root, "bad.md", "no front matter\n")
    assert cli.main(["kb", "sync", str(root)]) == 1  # a broken file: reported, the rest synced
    out = capsys.readouterr()
    assert "bad.md:1: no front matter" in out.err and "2 added" in out.out
    assert cli.main(["kb", "list", "--json"]) == 0
    assert [a["slug"] for a in json.loads(capsys.readouterr().out)] == ["card-arrival", "top-up-failed"]
    assert cli.main(["kb", "show", "card-arrival"]) == 0
    assert "my card has not arrived yet" in capsys.readouterr().out
    assert cli.main(["kb", "suggest", "--text", "The card still has not arrived", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["articles"][0] == {
        "slug": "card-arrival",
        "title": "Card arrival",
        "score": got["articles"][0]["score"],
        "why": "my card has not arrived yet",
    }
    assert got["tickets"] == []
    assert cli.main(["kb", "suggest", "--text", "The card still has not arrived", "--json", "--no-embeddings"]) == 0
    plain = json.loads(capsys.readouterr().out)  # BM25 alone, as without the extra: the same article first
    assert plain["articles"][0]["slug"] == "card-arrival" and plain["articles"][0]["why"] == got["articles"][0]["why"]
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("top up declined\ncard not arrived\n"))
    assert cli.main(["kb", "suggest", "--stdin"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["articles"][0]["slug"] for x in lines] == ["top-up-failed", "card-arrival"]


def test_questions_yaml_would_misread_are_kept_as_written(tmp_path):
    from helpline.ingest.knowledge.kb_files import read_article

    f = write(
        tmp_path,
        "fees.md",
        "---\ntitle: Fees\nquestions:\n  - is there a fee: for transfers?\n  - yes\n  - 42\n---\nbody\n",
    )
    assert read_article(f, tmp_path, lambda b: "k").questions == ("is there a fee: for transfers?", "yes", "42")


def test_an_article_without_title_is_named_by_its_slug(tmp_path):
    from helpline.ingest.knowledge.kb_files import read_article

    f = write(tmp_path, "card_arrival.md", "---\nquestions: [where is my card]\n---\n")
    assert read_article(f, tmp_path, lambda b: "k").title == "Card arrival"
