"""The signed article page and its "This answered my question" button in headless Chromium (Debian's
``chromium`` and ``chromium-driver``, driven as the contact form's test drives them): the page renders
the article (Markdown as HTML, its image served), the button's POST carries the page's CSRF token and
its SameSite cookie, and the ticket ends resolved as self-served. Screenshots go to the test's tmp dir."""

from __future__ import annotations

import struct
import time
import zlib

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from helpline.store.knowledge import kb_links
from helpline.store import models as m

from ..webhook.support import PublicServer
from ..webhook.test_contact_form import _gone, browser  # noqa: F401 - browser is a fixture
from ..workers.builders import Desk, events
from .helpers import article, run_sync, write


def png(width: int, height: int, rgb: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    """A real PNG (the browser must decode it), written with zlib: one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def page_desk(backend, tmp_path):
    root = tmp_path / "kb"
    write(root, "img/steps.png", png(24, 12))
    write(
        root,
        "reset-password.md",
        article(
            "Reset your password",
            ["I forgot my password"],
            body=(
                "Open *Settings* and choose **Reset**.\n\n1. Enter your address\n2. Open the mail we send\n\n"
                "![steps](img/steps.png)"
            ),
        ),
    )
    # plain http: the page's cookie is Secure only behind https, and the test server speaks http
    desk = Desk(backend.replace(public_url="http://help.example.com"))
    run_sync(desk.settings, root)
    server = PublicServer(desk.settings).start()
    try:
        yield desk, server
    finally:
        server.stop()


def _local(settings, server, url: str) -> str:  # noqa: ANN001
    return server.url + url[len(settings.public_url.rstrip("/")) :]


def _wait_loaded(driver, old) -> None:  # noqa: ANN001
    WebDriverWait(driver, 60).until(lambda _: _gone(old))
    deadline = time.monotonic() + 60
    while driver.execute_script("return document.readyState") != "complete":
        assert time.monotonic() < deadline, "the answer page did not load"
        time.sleep(0.05)


def test_the_article_page_renders_and_its_button_resolves_the_ticket(page_desk, browser, tmp_path):  # noqa: F811
    desk, server = page_desk
    browser.delete_all_cookies()
    browser.set_window_size(900, 700)
    ticket, _ = desk.new_ticket(subject="Forgot my password", body="How do I reset my password?\n")
    url = _local(desk.settings, server, kb_links.article_url(desk.settings, "reset-password", "en", ticket.id))
    browser.get(url)
    assert browser.title == "Reset your password"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Reset your password"
    art = browser.find_element(By.TAG_NAME, "article")
    assert art.find_element(By.TAG_NAME, "strong").text == "Reset"
    assert art.find_element(By.TAG_NAME, "em").text == "Settings"
    assert [li.text for li in art.find_elements(By.TAG_NAME, "li")] == ["Enter your address", "Open the mail we send"]
    img = art.find_element(By.TAG_NAME, "img")
    WebDriverWait(browser, 30).until(lambda _: browser.execute_script("return arguments[0].complete", img))
    assert browser.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", img) == [24, 12]
    browser.save_screenshot(str(tmp_path / "kb_article.png"))
    # looking changes nothing (mail scanners open links too)
    assert m.Ticket.get_by_id(ticket.id).status not in ("resolved", "closed")

    button = browser.find_element(By.CSS_SELECTOR, "form button[type=submit]")
    assert button.text == "This answered my question"
    old = browser.find_element(By.TAG_NAME, "html")
    button.click()
    _wait_loaded(browser, old)
    assert "closed your request" in browser.find_element(By.CSS_SELECTOR, "p.note").text
    assert not browser.find_elements(By.TAG_NAME, "form")  # answered: no second button
    browser.save_screenshot(str(tmp_path / "kb_answered.png"))
    assert (tmp_path / "kb_article.png").stat().st_size > 1000

    assert m.Ticket.get_by_id(ticket.id).status == "resolved"
    (served,) = events(ticket, "self_served")
    assert served.actor == "customer" and served.data == {"slug": "reset-password", "language": "en"}


def test_without_the_pages_cookie_the_button_resolves_nothing(page_desk, browser):  # noqa: F811
    desk, server = page_desk
    browser.delete_all_cookies()
    ticket, _ = desk.new_ticket(subject="Forgot my password", body="How do I reset my password?\n")
    browser.get(_local(desk.settings, server, kb_links.article_url(desk.settings, "reset-password", "en", ticket.id)))
    browser.delete_all_cookies()  # as a form posted from another site would arrive (SameSite=Strict)
    old = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    _wait_loaded(browser, old)
    assert "press the button again" in browser.find_element(By.CSS_SELECTOR, "p.note").text
    assert m.Ticket.get_by_id(ticket.id).status not in ("resolved", "closed")
    assert not events(ticket, "self_served")
