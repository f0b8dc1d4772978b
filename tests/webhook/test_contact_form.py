"""The contact form in headless Chromium (Debian's ``chromium`` and ``chromium-driver``),
against the public listener with a real intake; the worker pipeline runs in this
process when a row is enqueued, so the answer page can show the ticket number."""

from __future__ import annotations

import os
import shutil
import threading
import time

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import WebDriverWait

from helpline.ingest.http import csrf
from helpline.store import models as m

from ..workers.builders import Desk
from .support import PublicServer

CHROMIUM = os.environ.get("HELPLINE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("HELPLINE_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not shutil.which(path):
            pytest.fail(f"{path} is missing: install the Debian package {package!r} (.ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


class FormDesk:
    """The public listener whose enqueued rows are processed by the pipeline right away, in a thread."""

    def __init__(self, settings) -> None:  # noqa: ANN001
        self.desk = Desk(settings)
        self.desk.intake.submit = self._submit
        self.server = PublicServer(settings, self.desk.intake)
        self.threads: list[threading.Thread] = []

    def _submit(self, inbound_id: int) -> None:
        self.desk.submitted.append(inbound_id)
        t = threading.Thread(target=self.desk.run, args=(inbound_id,), daemon=True)
        self.threads.append(t)
        t.start()

    def __enter__(self) -> "FormDesk":
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for t in self.threads:
            t.join(30)
        self.server.stop()


@pytest.fixture
def site(backend, browser):
    browser.delete_all_cookies()
    with FormDesk(backend.replace(contact_ticket_wait_s=30.0)) as desk:
        yield desk


def fill(
    browser,
    *,
    name: str = "Ann Customer",
    email: str = "ann@example.org",
    subject: str = "My order",
    message: str = "Order 4711 has not arrived.",
) -> None:
    for field, value in (("name", name), ("email", email), ("subject", subject), ("message", message)):
        box = browser.find_element(By.ID, field)
        box.clear()
        if value:
            box.send_keys(value)


def _gone(element) -> bool:
    """The element left the document. Chrome reports that as stale, or, caught mid-navigation,
    as "Node with given id does not belong to the document" (a plain WebDriverException)."""
    try:
        element.is_enabled()
    except WebDriverException:
        return True
    return False


def submit(browser) -> None:
    old_page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    # Until the answer replaces it, the old page is still "complete" at /contact: wait for it to go first
    # (a loaded machine once let the test read the old page).
    WebDriverWait(browser, 60).until(lambda _: _gone(old_page))
    deadline = time.monotonic() + 60
    while browser.execute_script("return document.readyState") != "complete" or "/contact" not in browser.current_url:
        assert time.monotonic() < deadline, "the answer page did not load"
        time.sleep(0.05)


def rows() -> list[m.Inbound]:
    return list(m.Inbound.select().order_by(m.Inbound.id))


def test_form_is_accessible(site, browser):
    browser.get(site.server.url + "/contact")
    assert browser.title == "Contact support"
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    unlabelled = browser.execute_script("""
        return [...document.querySelectorAll('input:not([type=hidden]), textarea')]
            .filter(el => !document.querySelector('label[for="' + el.id + '"]')).map(el => el.name);""")
    assert unlabelled == []
    for field in ("email", "subject", "message"):
        assert browser.find_element(By.ID, field).get_attribute("required") == "true"
    trap = browser.find_element(By.ID, "website")
    assert not trap.is_displayed() and trap.get_attribute("tabindex") == "-1"
    assert browser.find_element(By.ID, "attachments").get_attribute("type") == "file"


def test_a_good_post_becomes_a_ticket_and_shows_its_number(site, browser, tmp_path):
    receipt = tmp_path / "receipt.pdf"
    receipt.write_bytes(b"%PDF-1.4 the receipt\n" + bytes(range(256)))
    browser.get(site.server.url + "/contact")
    fill(browser, message="Order 4711 has not arrived. Receipt attached.")
    browser.find_element(By.ID, "attachments").send_keys(str(receipt))
    submit(browser)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Thank you"
    (row,) = rows()
    assert row.channel == "form" and row.status == "processed"
    ticket = m.Ticket.get_by_id(row.ticket_id)
    assert browser.find_element(By.ID, "ticket-number").text == ticket.number
    env = row.envelope
    assert env["sender"] == {"address": "ann@example.org", "name": "Ann Customer", "kind": "email"}
    assert (env["subject"], env["text"]) == ("My order", "Order 4711 has not arrived. Receipt attached.")
    assert [(a["filename"], a["size"]) for a in env["attachments"]] == [("receipt.pdf", receipt.stat().st_size)]
    assert site.desk.intake.blobs.get(env["attachments"][0]["blob_key"]) == receipt.read_bytes()
    assert env["metadata"]["remote"] == "127.0.0.1"


def test_without_the_csrf_token_or_its_cookie_nothing_is_stored(site, browser):
    browser.get(site.server.url + "/contact")
    fill(browser)
    browser.execute_script("document.querySelector('input[name=csrf]').remove()")
    submit(browser)
    alert = browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
    assert "could not be sent from this page" in alert
    assert browser.find_element(By.ID, "subject").get_attribute("value") == "My order"  # nothing typed is lost
    # the page came back with a fresh token; without the cookie it is refused too
    browser.delete_all_cookies()
    submit(browser)
    assert "could not be sent from this page" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
    assert rows() == []
    # and with both, the same page goes through
    submit(browser)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Thank you" and len(rows()) == 1


def test_a_filled_honeypot_gets_a_neutral_answer_and_no_row(site, browser):
    browser.get(site.server.url + "/contact")
    fill(browser)
    browser.execute_script("document.getElementById('website').value = 'http://spam.example'")
    submit(browser)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Thank you"
    assert "email you your ticket number" in browser.page_source
    assert rows() == []


def test_errors_re_render_the_form_with_messages(site, browser):
    browser.get(site.server.url + "/contact")
    fill(browser, email="not an address", message="")
    submit(browser)
    summary = browser.find_element(By.ID, "errors").text
    assert "Enter an email address like name@example.com." in summary and "Enter your message." in summary
    email = browser.find_element(By.ID, "email")
    assert email.get_attribute("aria-invalid") == "true" and email.get_attribute("value") == "not an address"
    assert "email-error" in email.get_attribute("aria-describedby")
    assert rows() == []
    fill(browser, email="ann@example.org", message="Now with a message.")
    submit(browser)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Thank you" and len(rows()) == 1


# ---- over plain HTTP: limits and expiry ------------------------------------------------------
def _form_post(session: requests.Session, url: str, token: str | None = None, **headers: str) -> requests.Response:
    page = session.get(url + "/contact", timeout=30)
    got = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    fields = {
        "csrf": token or got,
        "name": "Ann",
        "email": "ann@example.org",
        "subject": "Hello",
        "message": f"A question {time.monotonic()}",
        "website": "",
    }
    return session.post(url + "/contact", files={k: (None, v) for k, v in fields.items()}, headers=headers, timeout=60)


def test_the_same_page_sent_twice_is_one_message(backend):
    """A double click, or the browser resending the POST: same token, same content."""
    with FormDesk(backend.replace(contact_ticket_wait_s=0)) as desk:
        s = requests.Session()
        page = s.get(desk.server.url + "/contact", timeout=30).text
        token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        fields = {"csrf": token, "email": "ann@example.org", "subject": "Hello", "message": "Twice?"}
        answers = [
            s.post(desk.server.url + "/contact", files={k: (None, v) for k, v in fields.items()}, timeout=60)
            for _ in range(2)
        ]
        assert [a.status_code for a in answers] == [200, 200]
        assert len(rows()) == 1 and len(desk.desk.submitted) == 1


def test_per_address_rate_limit(backend):
    with FormDesk(backend.replace(contact_rate_per_hour=2, contact_ticket_wait_s=0)) as desk:
        s = requests.Session()
        codes = [_form_post(s, desk.server.url).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        # behind the trusted proxy (127.0.0.1 here) each forwarded client has its own budget
        other = _form_post(s, desk.server.url, **{"X-Forwarded-For": "203.0.113.9"})
        assert other.status_code == 200
        assert len(rows()) == 3 and rows()[-1].envelope["metadata"]["remote"] == "203.0.113.9"


def test_an_expired_token_is_refused(backend):
    with FormDesk(backend.replace(contact_ticket_wait_s=0)) as desk:
        fields = {"email": "ann@example.org", "subject": "Hello", "message": "Left open since yesterday."}

        def post(issued_at: float) -> requests.Response:
            token, nonce = csrf.issue(backend.secret_key, issued_at)
            s = requests.Session()
            s.cookies.set(csrf.COOKIE, nonce, path="/contact")
            return s.post(
                desk.server.url + "/contact",
                timeout=60,
                files={k: (None, v) for k, v in {"csrf": token, **fields}.items()},
            )

        expired = post(time.time() - csrf.TTL_S - 10)
        assert expired.status_code == 403 and "This page has expired" in expired.text
        assert rows() == []
        assert post(time.time() - csrf.TTL_S + 60).status_code == 200  # a valid token and cookie pass
        assert len(rows()) == 1
