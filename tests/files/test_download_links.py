"""GET /files/TOKEN on the public listener: a signed, expiring link to one stored
attachment. Served over real HTTP by ``public.make_app`` on both databases; the
attachments are stored by a webhook source's message, as in production."""

from __future__ import annotations

import time
import urllib.parse

import pytest
import requests

from helpline.store import signing
from helpline.store.storage import download_links
from helpline.store import models as m
from helpline.store.config import Settings

from ..slack.conftest import Listener
from .conftest import FileTeam
from helpline.ingest.http import app_keys as K

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8
NAME = 'Übersicht "Q3" <final>.pdf'


def stored(team: FileTeam, files=((NAME, "application/pdf", PDF),)) -> list[m.Attachment]:  # noqa: ANN001
    ticket = team.app_posts(files=list(files), subject="Invoice question", text="See the invoice attached.")
    first = m.Message.select().where(m.Message.ticket == ticket).order_by(m.Message.id).first()
    return list(m.Attachment.select().where(m.Attachment.message == first).order_by(m.Attachment.id))


def test_a_signed_link_serves_the_file_as_a_safe_download_until_it_expires(team):
    (att,) = stored(team)
    before = time.time()
    url = download_links.url_for(team.settings, att.id)
    assert url.startswith(team.public_url + "/files/")
    got = requests.get(url, timeout=30)
    assert got.status_code == 200 and got.content == PDF
    h = got.headers
    assert h["Content-Type"] == "application/pdf" and int(h["Content-Length"]) == len(PDF)
    assert h["X-Content-Type-Options"] == "nosniff" and "sandbox" in h["Content-Security-Policy"]
    # RFC 6266: an ASCII fallback and the exact name in RFC 5987 form
    disposition = h["Content-Disposition"]
    assert disposition.startswith('attachment; filename="')
    assert (
        att.filename.startswith("Übersicht")
        and "filename*=UTF-8''" + urllib.parse.quote(att.filename, safe="") in disposition
    )
    fallback = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback.isascii() and '"' not in fallback and fallback.endswith(".pdf")
    # caches may keep it at most until the link expires (7 days by default), privately
    cache = h["Cache-Control"]
    assert cache.startswith("private, max-age=")
    max_age = int(cache.rpartition("=")[2])
    assert 7 * 86400 - 60 <= max_age <= 7 * 86400 and "Expires" in h
    assert requests.head(url, timeout=30).headers["Content-Length"] == str(len(PDF))

    # Expired: the same attachment, a genuine signature, a past expiry: 410, nothing of the file
    old = f"{team.public_url}/files/{signing.download_token(team.settings.secret_key, att.id, int(before) - 1)}"
    gone = requests.get(old, timeout=30)
    assert gone.status_code == 410 and PDF not in gone.content and "Content-Disposition" not in gone.headers
    assert gone.headers["Cache-Control"] == "no-store"


def test_forged_tampered_and_unknown_tokens_are_404_and_say_nothing(team):
    (att,) = stored(team)
    token = download_links.url_for(team.settings, att.id).rpartition("/")[2]
    ident, expires, mac = token.split(".")
    later = int(expires) + 86400 * 365
    other_mac = signing.download_token(("another-key",), att.id, int(expires)).rpartition(".")[2]
    bad = [
        f"{int(ident) + 1}.{expires}.{mac}",  # another attachment
        f"{ident}.{later}.{mac}",  # a later expiry
        f"{ident}.{expires}.{mac[:-1]}{'a' if mac[-1] != 'a' else 'b'}",  # one character changed
        f"{ident}.{expires}.{other_mac}",  # signed with a key we do not have
        "x",
        f"{ident}.{expires}",
        "../../etc/passwd",
        f"{ident}.{expires}.{mac}.x",
    ]
    answers = set()
    for value in bad:
        got = requests.get(f"{team.public_url}/files/{urllib.parse.quote(value, safe='')}", timeout=30)
        assert got.status_code == 404, value
        assert PDF not in got.content and "bersicht" not in got.text and "Content-Disposition" not in got.headers
        answers.add(got.text)
    # a genuine token for an attachment that does not exist answers exactly like a forged one
    missing = signing.download_token(team.settings.secret_key, att.id + 1000, int(time.time()) + 60)
    got = requests.get(f"{team.public_url}/files/{missing}", timeout=30)
    assert got.status_code == 404 and answers == {got.text}


def test_key_rotation_newest_signs_all_verify_a_dropped_key_revokes(team):
    (att,) = stored(team)
    old_link = download_links.url_for(team.settings, att.id)  # signed with "test-secret-key"
    rotated = team.settings.replace(secret_key=("new-key-0123456789", "test-secret-key"))
    new_link = download_links.url_for(rotated, att.id)
    assert new_link != old_link
    assert signing.read_download_token(("new-key-0123456789",), new_link.rpartition("/")[2]) is not None
    both = Listener(rotated, team.desk.intake)
    only_new = Listener(rotated.replace(secret_key=("new-key-0123456789",)), team.desk.intake)
    try:
        for link in (old_link, new_link):
            path = link.removeprefix(team.public_url)
            assert requests.get(f"http://127.0.0.1:{both.port}{path}", timeout=30).content == PDF
        path = old_link.removeprefix(team.public_url)
        assert requests.get(f"http://127.0.0.1:{only_new.port}{path}", timeout=30).status_code == 404
    finally:
        both.close()
        only_new.close()


def test_a_file_of_unsafe_or_malformed_type_never_renders_as_a_page(team):
    atts = stored(
        team,
        [
            ("page.html", "text/html", b"<script>alert(1)</script>"),
            ("odd.bin", "application/octet-stream", b"\x00\x01"),
        ],
    )
    got = requests.get(download_links.url_for(team.settings, atts[0].id), timeout=30)
    assert got.status_code == 200 and got.headers["Content-Disposition"].startswith("attachment;")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Security-Policy"].startswith("default-src 'none'")
    m.Attachment.update(content_type="text/html\r\nX-Evil: 1").where(m.Attachment.id == atts[1].id).execute()
    got = requests.get(download_links.url_for(team.settings, atts[1].id), timeout=30)
    assert got.headers["Content-Type"] == "application/octet-stream" and "X-Evil" not in got.headers


def test_links_stored_in_the_database_blob_store_are_served_too(team):
    team.configure(blob_backend="db")
    from helpline.store.storage.blobs import DatabaseBlobStore

    team.desk.intake.blobs = DatabaseBlobStore()
    (att,) = stored(team)
    assert m.Blob.select().where(m.Blob.key == att.blob_key).exists()
    listener_settings = team.listener.app[K.SETTINGS]
    lst = Listener(listener_settings.replace(blob_backend="db"), team.desk.intake)
    try:
        path = download_links.url_for(team.settings, att.id).removeprefix(team.public_url)
        assert requests.get(f"http://127.0.0.1:{lst.port}{path}", timeout=30).content == PDF
    finally:
        lst.close()


@pytest.mark.parametrize("public_url,secret", [("", ("k",)), ("https://help.example.com", ())])
def test_no_links_without_a_public_url_or_a_key(public_url, secret):
    settings = Settings(public_url=public_url, secret_key=secret)
    assert download_links.url_for(settings, 1) == "" and not download_links.can_link(settings)


def test_content_disposition_keeps_the_name_exact_and_the_header_well_formed():
    from helpline.ingest.http.downloads import content_type, disposition

    got = disposition('a "b"\\c%20\r\nd/é.pdf')
    assert "\r" not in got and "\n" not in got
    fallback = got.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback == "a _b__c_20 d__.pdf"  # quotes, backslash, percent and non-ASCII replaced; path separators too
    assert got.endswith("filename*=UTF-8''" + urllib.parse.quote('a "b"_c%20 d_é.pdf', safe=""))
    assert disposition("") == "attachment; filename=\"file\"; filename*=UTF-8''file"
    assert content_type("Image/PNG; name=x") == "image/png" and content_type("nonsense") == "application/octet-stream"


def test_tokens_name_one_attachment_and_expiry_and_refuse_anything_else():
    keys = ("k-new", "k-old")
    token = signing.download_token(keys, 42, 1_900_000_000)
    assert signing.read_download_token(keys, token) == (42, 1_900_000_000)
    assert signing.read_download_token(("k-old", "k-new"), token) == (42, 1_900_000_000)  # any listed key verifies
    assert signing.read_download_token(("k-old",), token) is None
    assert signing.read_download_token(keys, token.upper()) == (42, 1_900_000_000)  # case-insensitive base32
    assert signing.read_download_token((), token) is None
    assert signing.read_download_token(keys, "9" * 40 + ".1." + token.rpartition(".")[2]) is None
    assert len(token.rpartition(".")[2]) == 32  # 160 bits of HMAC
