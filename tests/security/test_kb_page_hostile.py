"""Hostile article content on the signed article page: a title, body and image text that try to run
script or break out of the page's markup arrive as text (Markdown's raw HTML is off, nh3 cleans what it
makes, the page escapes the title), checked in the HTML and in headless Chromium, where nothing runs."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from aiohttp.test_utils import TestClient, TestServer
from selenium.webdriver.common.by import By

from helpline.ingest import public
from helpline.store.knowledge import kb_links

from ..kb.helpers import article, run_sync, write
from ..kb.test_kb_page_browser import png
from ..webhook.support import PublicServer
from ..webhook.test_contact_form import browser  # noqa: F401 - browser is a fixture
from ..workers.builders import Desk

TITLE = '</title><script>window.pwned = "title"</script> "Q&A" <b>'
BODY = """Hello <script>window.pwned = "raw"</script> there.

<img src="x" onerror="window.pwned = 'onerror'">

[click me](javascript:window.pwned='link') and [data](data:text/html,<script>alert(1)</script>)

<iframe src="https://evil.example/"></iframe><style>body{display:none}</style>

![alt" onerror="window.pwned='alt](img/ok.png)

```
</article><script>window.pwned = "code"</script>
```
"""


@pytest.fixture
def hostile(backend, tmp_path):
    root = tmp_path / "kb"
    write(root, "img/ok.png", png(4, 4))
    write(root, "evil.md", article("'" + TITLE.replace("'", "''") + "'", ["how"], body=BODY))
    desk = Desk(backend.replace(public_url="http://help.example.com"))
    report = run_sync(desk.settings, root)
    assert not report.errors, report.errors
    return desk


def test_hostile_article_content_is_text_in_the_page(hostile):
    desk = hostile
    url = kb_links.article_url(desk.settings, "evil", "en")
    path = url[len(desk.settings.public_url) :]

    async def go() -> str:
        ex = ThreadPoolExecutor(2)
        client = TestClient(TestServer(public.make_app(desk.settings, None, ex)))
        async with client:
            r = await client.get(path)
            assert r.status == 200
            assert "script-src" not in r.headers["Content-Security-Policy"]  # default-src 'none': no script at all
            text = await r.text()
        ex.shutdown()
        return text

    page = asyncio.run(go())
    tags = _tags(page)
    names = [t for t, _ in tags]
    assert "script" not in names and "iframe" not in names and names.count("style") == 1  # the page's own
    assert names.count("title") == 1 and names.count("h1") == 1 and names.count("b") == 0
    for tag, attrs in tags:
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            assert not (value or "").strip().lower().startswith(("javascript:", "data:")), (tag, name, value)
    assert "&lt;/title&gt;&lt;script&gt;" in page  # the title, escaped, in <title> and <h1>
    assert "&lt;script&gt;window.pwned" in page  # the body's raw HTML arrives as text


def _tags(page: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every start tag of the page with its attributes, as a browser's tokenizer sees them."""
    from html.parser import HTMLParser

    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):  # noqa: ANN001, ANN202
            found.append((tag, attrs))

    Collect().feed(page)
    return found


def test_nothing_runs_in_a_browser(hostile, browser):  # noqa: F811
    desk = hostile
    server = PublicServer(desk.settings).start()
    try:
        browser.delete_all_cookies()
        url = kb_links.article_url(desk.settings, "evil", "en")
        browser.get(server.url + url[len(desk.settings.public_url) :])
        assert browser.title == TITLE
        assert browser.find_element(By.TAG_NAME, "h1").text == TITLE.strip()
        assert browser.execute_script("return typeof window.pwned") == "undefined"
        assert not browser.find_elements(By.CSS_SELECTOR, "article script, article iframe, article style")
        assert browser.find_element(By.TAG_NAME, "article").is_displayed()
        for link in browser.find_elements(By.CSS_SELECTOR, "article a"):
            href = (link.get_attribute("href") or "").lower()
            assert not href.startswith(("javascript:", "data:")), href
        for link in browser.find_elements(By.CSS_SELECTOR, "article a"):
            link.click()
        assert browser.execute_script("return typeof window.pwned") == "undefined"
        assert 'window.pwned = "code"' in browser.find_element(By.CSS_SELECTOR, "article code").text
    finally:
        server.stop()
