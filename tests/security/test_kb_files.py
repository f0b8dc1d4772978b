"""Hostile knowledge-base files: YAML bombs, huge files, images outside the folder, HTML and script in Markdown."""

from __future__ import annotations

import os
import time

import pytest

from helpline.ingest.knowledge import kb_files, kb_markdown
from helpline.store.knowledge import kb_state

from ..kb.helpers import PNG, article, run_sync, write

BOMB = """---
title: bomb
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
questions: [*g,*g,*g,*g,*g,*g,*g,*g,*g]
---
x
"""


def test_yaml_alias_bomb_is_refused_quickly(tmp_path):
    f = write(tmp_path, "bomb.md", BOMB)
    t0 = time.perf_counter()
    with pytest.raises(kb_files.KbFileError) as err:
        kb_files.read_article(f, tmp_path, lambda b: "k")
    assert time.perf_counter() - t0 < 1.0
    assert err.value.line == 3 and "anchors" in err.value.message


def test_alias_alone_is_refused(tmp_path):
    f = write(tmp_path, "a.md", "---\ntitle: *x\n---\nx\n")
    with pytest.raises(kb_files.KbFileError, match="aliases|undefined alias"):
        kb_files.read_article(f, tmp_path, lambda b: "k")


@pytest.mark.parametrize(
    "front",
    [
        "title: !!python/object/apply:os.system ['echo pwned']",  # safe_load refuses Python tags
        "title: [1, [2, [3]]]",  # not text
        "title: ok\naudience: everyone",
        "title: ok\nslug: ../../etc/passwd",
        "title: ok\nlanguage: 'en; DROP TABLE kb_article'",
        "title: ok\nquestions: {a: 1}",
        "title: ok\nunknown_key: 1",
        "- a list\n- not a mapping",
        "title: " + "[" * 5000,  # nesting
    ],
)
def test_bad_front_matter_is_reported_with_a_line(tmp_path, front):
    f = write(tmp_path, "x.md", f"---\n{front}\n---\nbody\n")
    with pytest.raises(kb_files.KbFileError) as err:
        kb_files.read_article(f, tmp_path, lambda b: "k")
    assert err.value.path == "x.md" and "pwned" not in str(err.value)


def test_huge_files_are_refused_unread(tmp_path):
    f = write(tmp_path, "big.md", "---\ntitle: big\n---\n" + "a" * (kb_files.MAX_FILE_BYTES + 1))
    with pytest.raises(kb_files.KbFileError, match="limit"):
        kb_files.read_article(f, tmp_path, lambda b: "k")
    f = write(tmp_path, "bigfront.md", "---\ntitle: t\nquestions:\n" + "  - q\n" * 20000 + "---\nx\n")
    with pytest.raises(kb_files.KbFileError, match="front matter is over"):
        kb_files.read_article(f, tmp_path, lambda b: "k")


@pytest.mark.parametrize(
    "src",
    ["../outside.png", "../../outside.png", "/etc/passwd", "img/../../outside.png", "%2e%2e/outside.png", "link.png"],
)
def test_images_outside_the_folder_are_refused(tmp_path, src):
    root = tmp_path / "kb"
    write(tmp_path, "outside.png", PNG)
    root.mkdir()
    os.symlink(tmp_path / "outside.png", root / "link.png")
    f = write(root, "a.md", article("A", body=f"text\n\n![x]({src})"))
    stored: list[bytes] = []
    with pytest.raises(kb_files.KbFileError) as err:
        kb_files.read_article(f, root, lambda b: stored.append(b) or "k")
    assert "outside the knowledge folder" in err.value.message and err.value.line == 6
    assert stored == []


def test_images_must_be_raster_images(tmp_path):
    write(tmp_path, "evil.svg", b"<svg onload='alert(1)'/>")
    write(tmp_path, "fake.png", b"<html><script>alert(1)</script>")
    for src in ("evil.svg", "fake.png"):
        f = write(tmp_path, "a.md", article("A", body=f"![x]({src})"))
        with pytest.raises(kb_files.KbFileError):
            kb_files.read_article(f, tmp_path, lambda b: "k")


@pytest.mark.parametrize(
    "md",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![x](javascript:alert(1))",
        "<iframe src=https://evil.example></iframe>",
        '<a href="https://x" onclick="steal()">x</a>',
        "<style>body{background:url(https://t.example/beacon)}</style>",
        "[x](vbscript:msgbox)",
        "![x](https://tracker.example/pixel.gif)",
    ],
)
def test_markdown_renders_no_active_content(md):
    """Checked on the parsed HTML: text that merely shows "<script>" escaped is harmless."""
    html = kb_markdown.render(md, lambda src: None)
    for tag, attrs in _tags(html):
        assert tag not in ("script", "iframe", "style", "object", "embed"), html
        for name, value in attrs:
            assert not name.startswith("on"), html
            if name in ("href", "src"):
                assert (value or "").split(":")[0].lower() in ("https", "http", "mailto", "kb-image", ""), html
                assert "tracker.example" not in (value or ""), html


def _tags(html: str) -> list[tuple[str, list]]:
    from html.parser import HTMLParser

    seen: list[tuple[str, list]] = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):  # noqa: ANN001, ANN202
            seen.append((tag, attrs))

    P().feed(html)
    return seen


def test_symlinked_article_outside_the_folder_is_not_read(backend, tmp_path):
    secret = write(tmp_path, "secret.md", article("Secret", ["internal"]))
    root = tmp_path / "kb"
    write(root, "ok.md", article("Ok"))
    os.symlink(secret, root / "leak.md")
    os.symlink(tmp_path, root / "loop")  # a folder link is not followed
    report = run_sync(backend, root)
    assert report.added == ["ok"]
    assert [e.path for e in report.errors] == ["leak.md"]
    assert kb_state.get_article("secret") is None and kb_state.get_article("leak") is None
