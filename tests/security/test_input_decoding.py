"""Input no HTTP surface may answer with a 500: deep JSON, lone surrogates, NULs,
undecodable forms, a non-numeric Slack timestamp. Every surface (ticket API,
``/api/v1/messages``, Twilio, Slack, contact form, CSAT) against the real public
listener on each backend; NULs go all the way to a ticket on PostgreSQL.
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import urlencode

import pytest
import requests
from hypothesis import given, settings as hsettings, strategies as st

from helpline.ingest import decoding
from helpline.ingest.http import csrf
from helpline.store.access import api_keys
from helpline.store.tickets import csat_state
from helpline.store import models as m

from ..support.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, event_callback
from ..support.fake_slack import signed_headers as slack_headers
from ..support.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, PUBLIC_URL, inbound_form
from ..support.fake_twilio import post_signed as twilio_post
from ..webhook.support import SOURCES, PublicServer, post_signed, signed_headers
from ..workers.builders import Desk

DEEP = b"[" * 1000 + b"]" * 1000
SURROGATE = b'"\\ud800"'
CHANNEL = "C0TICKETS"
CUSTOMERS = "C0CUSTOMERS"


@pytest.fixture
def fake_slack():
    fake = FakeSlack().start()
    fake.add_user("U0CUST01", "Carl Customer", "carl@example.org")
    yield fake
    fake.stop()


@pytest.fixture
def stack(backend, fake_slack):
    settings = backend.replace(
        webhook_sources=SOURCES,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from=OUR_NUMBER,
        public_url=PUBLIC_URL,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_channel=CHANNEL,
        slack_api_url=fake_slack.url,
        slack_intake_channels=(CUSTOMERS,),
    )
    desk = Desk(settings)
    from helpline.ingest import public

    public.register_parsers(desk.intake)
    server = PublicServer(settings, desk.intake).start()
    server.desk = desk
    yield server
    server.stop()


def _no_500(r: requests.Response) -> None:
    assert r.status_code < 500, (r.status_code, r.text[:300])


# ---- /api/v1/messages --------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        DEEP,
        b'{"customer": {"email": "a@example.org"}, "text": ' + SURROGATE + b"}",
        b'{"customer": {"email": "a@example.org", "name": ' + SURROGATE + b'}, "text": "x"}',
        b'{"customer": {"email": "a@example.org"}, "text": "x", "metadata": {"k": ' + SURROGATE + b"}}",
        b'{"customer": {"email": "a@example.org"}, "text": "x", "n": NaN}',
        b'{"customer": {"email": "a@example.org"}, "text": "x", "n": 1e999}',
        b"\xff\xfe{}",
    ],
    ids=["deep", "surrogate-text", "surrogate-name", "surrogate-metadata", "nan", "huge", "utf16"],
)
def test_webhook_unreadable_json_is_400_and_the_signature_stays_usable(stack, body):
    headers = signed_headers(body)
    r = requests.post(stack.url + "/api/v1/messages", data=body, headers=headers, timeout=30)
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert r.json()["errors"][0]["error"]
    # The same signed request again is judged on its own (400 again), not refused as a replay.
    again = requests.post(stack.url + "/api/v1/messages", data=body, headers=headers, timeout=30)
    assert again.status_code == 400 and "already used" not in again.text


def test_webhook_signature_released_when_intake_fails_unexpectedly(stack):
    """Any refusal, even a parser bug's 500, releases the replay mark: the honest retry gets through."""
    body = json.dumps({"customer": {"email": "ann@example.org"}, "text": "Hello"}).encode()
    headers = signed_headers(body)
    builders = stack.intake.builders
    real = builders["webhook"]

    def broken(raw, meta, put_blob):  # noqa: ANN001, ANN202
        raise RuntimeError("a parser bug")

    builders["webhook"] = broken
    try:
        first = requests.post(stack.url + "/api/v1/messages", data=body, headers=headers, timeout=30)
    finally:
        builders["webhook"] = real
    assert first.status_code == 500
    retry = requests.post(stack.url + "/api/v1/messages", data=body, headers=headers, timeout=30)
    assert retry.status_code == 202, retry.text


def test_webhook_nul_is_stripped_and_the_ticket_is_made(stack):
    r = post_signed(
        stack,
        {
            "customer": {"email": "nul@example.org", "name": "N\x00ul"},
            "subject": "Sub\x00ject",
            "text": "Hello\x00 there",
            "metadata": {"order": "47\x0011"},
        },
    )
    assert r.status_code == 202, r.text
    outcome = stack.desk.run(r.json()["inbound_id"])
    msg = m.Message.get(m.Message.ticket == outcome.ticket_id)
    assert "\x00" not in msg.text and "Hello there" in msg.text
    assert m.Ticket.get_by_id(outcome.ticket_id).subject == "Subject"


# ---- Twilio --------------------------------------------------------------------------------
def test_twilio_nul_and_bad_utf8_are_cleaned_and_stored(stack):
    form = inbound_form("Hi\x00 there")
    r = twilio_post(stack.url, "/twilio/sms", form)
    assert r.status_code == 200, r.text
    row = m.Inbound.select().where(m.Inbound.channel == "sms").order_by(m.Inbound.id.desc()).first()
    outcome = stack.desk.run(row.id)
    assert m.Message.get(m.Message.ticket == outcome.ticket_id).text == "Hi there"
    # Percent-escapes that are no UTF-8 (a lone surrogate's bytes): kept as U+FFFD, never a 500.
    raw = urlencode(inbound_form("x")).replace("Body=x", "Body=%ED%A0%80%00ok")
    pairs = [tuple(p.split("=", 1)) for p in raw.split("&")]
    from urllib.parse import unquote_plus

    from ..support.fake_twilio import sign

    params = [(unquote_plus(k), unquote_plus(v, errors="replace")) for k, v in pairs]
    r = requests.post(
        stack.url + "/twilio/sms",
        data=raw.encode(),
        timeout=30,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(PUBLIC_URL + "/twilio/sms", params),
        },
    )
    _no_500(r)
    assert r.status_code == 200, r.text
    row = m.Inbound.select().where(m.Inbound.channel == "sms").order_by(m.Inbound.id.desc()).first()
    assert "\x00" not in row.envelope["text"] and row.envelope["text"].endswith("ok")
    stack.desk.run(row.id)


# ---- Slack ---------------------------------------------------------------------------------
def _slack(stack, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(stack.url + "/slack/events", data=body, headers=headers, timeout=30)


@pytest.mark.parametrize("stamp", ["abc", "", "1e9", "-5", "99999999999999999999"])
def test_slack_non_numeric_timestamp_is_400(stack, stamp):
    body = json.dumps(
        event_callback(
            {"type": "message", "channel": CHANNEL, "user": "U0CUST01", "text": "x", "ts": "1800000000.000100"}
        )
    ).encode()
    headers = slack_headers(body)
    headers["X-Slack-Request-Timestamp"] = stamp
    r = _slack(stack, body, headers)
    assert r.status_code in (400, 401), (r.status_code, r.text)


@pytest.mark.parametrize("body", [DEEP, b'{"type": "event_callback", "event": {"text": ' + SURROGATE + b"}}", b"\xff{"])
def test_slack_unreadable_body_is_400(stack, body):
    r = _slack(stack, body, slack_headers(body))
    assert r.status_code == 400, (r.status_code, r.text)
    form = urlencode({"payload": body.decode("latin-1")}).encode()
    r = _slack(stack, form, {**slack_headers(form), "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400, (r.status_code, r.text)


def test_slack_message_nul_is_stripped(stack):
    event = {
        "type": "message",
        "channel": CUSTOMERS,
        "user": "U0CUST01",
        "text": "Need\x00 help",
        "ts": f"{int(time.time())}.000300",
    }
    body = json.dumps(event_callback(event)).encode()
    r = _slack(stack, body, slack_headers(body))
    assert r.status_code == 200, r.text
    deadline = time.time() + 10
    while time.time() < deadline:
        row = m.Inbound.select().where(m.Inbound.channel == "slack").first()
        if row:
            break
        time.sleep(0.1)
    assert row is not None and "\x00" not in json.dumps(row.envelope) and "Need help" in row.envelope["text"]


# ---- contact form --------------------------------------------------------------------------
def _contact(stack, fields: dict[str, str]) -> requests.Response:
    with requests.Session() as s:
        token, nonce = csrf.issue(stack.settings.secret_key, time.time())
        s.cookies.set(csrf.COOKIE, nonce, path="/contact")
        return s.post(
            stack.url + "/contact", timeout=30, files={k: (None, v) for k, v in {"csrf": token, **fields}.items()}
        )


def test_contact_form_nul_is_stripped_and_the_ticket_is_made(stack):
    r = _contact(
        stack, {"name": "Ann\x00", "email": "ann@example.org", "subject": "Hel\x00lo", "message": "Body\x00 text"}
    )
    assert r.status_code == 200, r.text
    row = m.Inbound.select().where(m.Inbound.channel == "form").order_by(m.Inbound.id.desc()).first()
    outcome = stack.desk.run(row.id)
    assert m.Message.get(m.Message.ticket == outcome.ticket_id).text == "Body text"


def test_contact_form_bad_bytes_are_not_500(stack):
    with requests.Session() as s:
        token, nonce = csrf.issue(stack.settings.secret_key, time.time())
        s.cookies.set(csrf.COOKIE, nonce, path="/contact")
        body = (
            b'--b\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n'
            + token.encode()
            + b'\r\n--b\r\nContent-Disposition: form-data; name="email"\r\n\r\nann@example.org'
            + b'\r\n--b\r\nContent-Disposition: form-data; name="subject"\r\n\r\nBad \xff bytes'
            + b'\r\n--b\r\nContent-Disposition: form-data; name="message"\r\n\r\n\xed\xa0\x80\x00\xff hi'
            + b"\r\n--b--\r\n"
        )
        r = s.post(
            stack.url + "/contact", data=body, timeout=30, headers={"Content-Type": "multipart/form-data; boundary=b"}
        )
    assert r.status_code == 200, (r.status_code, r.text[:300])
    row = m.Inbound.select().where(m.Inbound.channel == "form").order_by(m.Inbound.id.desc()).first()
    assert row.envelope["text"].endswith(" hi") and "\x00" not in row.envelope["text"]
    stack.desk.run(row.id)


# ---- CSAT ----------------------------------------------------------------------------------
def _survey_path(stack) -> str:
    from helpline.workers.tickets import ticket_ops
    from ..routing.conftest import in_tx

    ticket, _ = stack.desk.new_ticket(sender="ann@example.org")
    in_tx(
        lambda: ticket_ops.change_status(
            ticket_ops.load(ticket.id),
            "resolved",
            now=m.utcnow(),
            settings=stack.settings,
            actor="agent",
            reason="test",
        )
    )
    return f"/csat/{csat_state.token(stack.settings.secret_key, ticket.id)}", ticket.id


def _insecure(s: requests.Session) -> None:
    """The cookie is Secure (the public URL is https); the test listener is plain HTTP."""
    for cookie in s.cookies:
        cookie.secure = False


def test_csat_comment_with_nul_or_bad_bytes_is_not_500(stack):
    path, ticket_id = _survey_path(stack)
    with requests.Session() as s:
        page = s.get(stack.url + path + "?score=4", timeout=30).text
        _insecure(s)
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        r = s.post(stack.url + path, data={"csrf": token, "score": "4", "comment": "Gre\x00at"}, timeout=30)
        assert r.status_code == 200, (r.status_code, r.text[:300])
        assert csat_state.get(ticket_id).comment == "Great"
        _insecure(s)
        token = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
        raw = f"csrf={token}&score=5&comment=%ED%A0%80%FF".encode()
        r = s.post(
            stack.url + path, data=raw, timeout=30, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert r.status_code == 200, (r.status_code, r.text[:300])
        assert csat_state.get(ticket_id).score == 5


# ---- ticket API ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [DEEP, b'{"category": ' + SURROGATE + b"}", b'{"text": ' + SURROGATE + b"}", b'{"text": "x", "n": NaN}', b"\xff"],
)
def test_ticket_api_unreadable_json_is_400(stack, body):
    key = api_keys.create("writer", ["write"]).key
    ticket, _ = stack.desk.new_ticket(sender="ann@example.org")
    for method, path in (("PATCH", ""), ("POST", "/notes"), ("POST", "/replies")):
        r = requests.request(
            method,
            f"{stack.url}/api/v1/tickets/{ticket.number}{path}",
            data=body,
            timeout=30,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        assert r.status_code == 400, (method, path, r.status_code, r.text[:300])
        assert r.json()["errors"][0]["error"]


def test_ticket_api_nul_in_category_is_refused_not_500(stack):
    key = api_keys.create("writer", ["write"]).key
    ticket, _ = stack.desk.new_ticket(sender="ann@example.org")
    r = requests.patch(
        f"{stack.url}/api/v1/tickets/{ticket.number}",
        json={"category": "bil\x00ling"},
        timeout=30,
        headers={"Authorization": f"Bearer {key}"},
    )
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])


# ---- the decoder itself (property) ---------------------------------------------------------
@hsettings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_load_json_raises_only_body_error(raw):
    try:
        value = decoding.load_json(raw)
    except decoding.BodyError as exc:
        assert exc.reason
        return
    json.dumps(value, allow_nan=False).encode("utf-8")  # storable: no NaN, no surrogate
    assert "\\u0000" not in json.dumps(value)


@hsettings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
        max_leaves=20,
    )
)
def test_load_json_keeps_every_storable_value(value):
    raw = json.dumps(value).encode()
    try:
        got = decoding.load_json(raw)
    except decoding.BodyError as exc:
        assert "surrogate" in exc.reason
        return
    assert got == _without_nul(value)


def _without_nul(value):  # noqa: ANN001, ANN202
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


@hsettings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_form_fields_never_raise_and_are_storable(raw):
    for k, v in decoding.form_fields(raw).items():
        assert "\x00" not in k + v
        (k + v).encode("utf-8")


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=12,
)


@hsettings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.fixed_dictionaries(
            {
                "customer": st.dictionaries(
                    st.sampled_from(["email", "phone", "external_id", "name", "x"]), _JSONISH, max_size=3
                )
            },
            optional={
                "text": _JSONISH,
                "subject": _JSONISH,
                "metadata": _JSONISH,
                "attachments": _JSONISH,
                "ticket": _JSONISH,
            },
        ).map(lambda d: json.dumps(d).encode("utf-8", "surrogatepass")),
    )
)
def test_webhook_parser_answers_an_envelope_or_field_errors(raw):
    """Any body: an envelope whose JSON is storable, or ``Rejected`` naming fields; never another exception."""
    from helpline.ingest.channels import webhook_message
    from helpline.ingest.intake import Rejected

    meta = {"source": "shop", "received_at": "2026-12-07T00:00:00+00:00", "content_type": "application/json"}
    try:
        env = webhook_message.build(raw, meta, lambda data: "blob")
    except Rejected as exc:
        assert exc.errors and all(e["field"] and e["error"] for e in exc.errors)
        return
    text = json.dumps(env.to_dict(), allow_nan=False)
    text.encode("utf-8")
    assert "\\u0000" not in text


@hsettings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_multipart_parser_answers_a_form_or_form_data_error(raw):
    from helpline.ingest.http import form_data

    try:
        form = form_data.parse(b"--b\r\n" + raw, "multipart/form-data; boundary=b")
    except form_data.FormDataError:
        return
    for name, values in form.fields.items():
        for v in values:
            assert "\x00" not in name + v
            (name + v).encode("utf-8")
