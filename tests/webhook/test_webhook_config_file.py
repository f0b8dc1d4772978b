"""``[[webhooks.sources]]`` in the TOML configuration file: secrets (inline, a list for rotation, or a
file), the callback URL and a rate of the source's own, folded into the HELPLINE_WEBHOOK_* settings at
start-up (the environment wins per name), every mistake named by file, table index and key; and a
source that exists only in the file, used end to end through the real processes."""

from __future__ import annotations

import json

import pytest
import requests

from helpline.store import config
from helpline.store.siteconfig import config_file
from helpline.store import models as m
from helpline.store.siteconfig.config_file import ConfigFileError
from tests.support.stack import Stack, settings_env, wait_until

from .support import PublicServer, encode, message, post_signed, signed_headers

APP_SECRET = "app-secret-0123456789abcdef"
OLD_SECRET = "app-old-secret-0123456789ab"
CRM_SECRET = "crm-secret-from-the-file-0123"


def write(tmp_path, text: str, name: str = "helpline.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def sources_toml(tmp_path, callback: str = "https://app.example/events", rate: int = 1200) -> str:
    (tmp_path / "crm.secret").write_text(f"{CRM_SECRET}\n")
    return write(
        tmp_path,
        f"""
[[webhooks.sources]]
name = "app"
secrets = ["{APP_SECRET}", "{OLD_SECRET}"]
callback_url = "{callback}"
rate_per_minute = {rate}

[[webhooks.sources]]
name = "crm"
secret_file = "{tmp_path / "crm.secret"}"
""",
    )


def load(**env: str) -> config.Settings:
    return config.load({"HELPLINE_DATA_DIR": "/nonexistent", **env})


def test_the_file_is_folded_into_the_settings(tmp_path):
    s = load(HELPLINE_CONFIG_FILE=sources_toml(tmp_path))
    assert s.webhook_sources == f"app={APP_SECRET},app={OLD_SECRET},crm={CRM_SECRET}"
    assert s.webhook_callbacks == "app=https://app.example/events" and s.webhook_source_rates == ("app=1200",)
    assert APP_SECRET not in json.dumps(s.masked())


def test_the_environment_wins_per_name(tmp_path):
    s = load(
        HELPLINE_CONFIG_FILE=sources_toml(tmp_path),
        HELPLINE_WEBHOOK_SOURCES="app=env-secret-0123456789abcdef",
        HELPLINE_WEBHOOK_CALLBACKS="crm=https://crm.example/hook",
        HELPLINE_WEBHOOK_SOURCE_RATES="app=5",
    )
    assert s.webhook_sources == f"app=env-secret-0123456789abcdef,crm={CRM_SECRET}"  # the file's app secrets dropped
    assert s.webhook_callbacks == "crm=https://crm.example/hook,app=https://app.example/events"
    assert s.webhook_source_rates == ("app=5",)
    again = config.load(settings_env(s) | {"HELPLINE_DATA_DIR": "/nonexistent"})  # a child process: unchanged
    assert (again.webhook_sources, again.webhook_callbacks) == (s.webhook_sources, s.webhook_callbacks)


def test_a_broken_team_does_not_stop_a_start_but_a_broken_source_does(tmp_path):
    path = write(tmp_path, '[[teams]]\nname = "billing"\ncapacty = 3\n')
    assert load(HELPLINE_CONFIG_FILE=path).webhook_sources == ""  # teams are checked where they are used
    with pytest.raises(ConfigFileError):
        config_file.load_path(path)


@pytest.mark.parametrize(
    "body, where, problem",
    [
        ('secret = "short"', "key 'secret'", "shorter than 16 characters"),
        ('secrets = ["0123456789abcdef0", "0123456789abcdef,1"]', "key 'secrets'", "secret 2 contains a comma"),
        ("", "key 'secret_file'", "is required (or secret, or secrets)"),
        ('secret = "0123456789abcdef0"\nsecret_file = "/x"', "key 'secret_file'", "exactly one of"),
        ('secret_file = "/nonexistent/secret"', "key 'secret_file'", "/nonexistent/secret cannot be read"),
        ('secret = "0123456789abcdef0"\ncallback_url = "ftp://x"', "key 'callback_url'", "is not an http(s) URL"),
        ('secret = "0123456789abcdef0"\nrate_per_minute = -1', "key 'rate_per_minute'", "between 0 and 1000000"),
        ('secret = "0123456789abcdef0"\nteam = "billing"', "key 'team'", "unknown key; allowed:"),
    ],
)
def test_mistakes_name_the_file_the_table_and_the_key(tmp_path, body, where, problem):
    path = write(
        tmp_path,
        f'[[webhooks.sources]]\nname = "ok"\nsecret = "0123456789abcdef0"\n\n'
        f'[[webhooks.sources]]\nname = "app"\n{body}\n',
    )
    with pytest.raises(ConfigFileError) as err:
        load(HELPLINE_CONFIG_FILE=path)
    assert str(err.value).startswith(f"{path}: [webhooks.sources[1] (name 'app')] {where}: "), str(err.value)
    assert problem in str(err.value) and "0123456789abcdef" not in str(err.value)


def test_names_and_shape(tmp_path):
    for text, expected in [
        ('[[webhooks.sources]]\nname = "a b"\nsecret = "0123456789abcdef0"\n', "key 'name': 'a b' must be 1-63"),
        (
            '[[webhooks.sources]]\nname = "a"\nsecret = "0123456789abcdef0"\n' * 2,
            "[webhooks.sources[1]] key 'name': source 'a' is defined twice",
        ),
        ('[webhooks]\nsources = "a=b"\n', "[webhooks] key 'sources': must be an array of tables"),
        ('[webhooks]\nsecret = "x"\n', "[webhooks] key 'secret': unknown key"),
    ]:
        with pytest.raises(ConfigFileError) as err:
            load(HELPLINE_CONFIG_FILE=write(tmp_path, text))
        assert expected in str(err.value)
    # The workers' parse of the whole file checks the section without reading secret files (not theirs).
    path = write(tmp_path, '[[webhooks.sources]]\nname = "a"\nsecret_file = "/only/on/the/ingest/host"\n')
    assert config_file.load_path(path).teams == ()


def test_a_file_source_signs_with_either_secret_and_keeps_its_own_rate(backend, tmp_path):
    settings = config.load(settings_env(backend.replace(config_file=sources_toml(tmp_path, rate=2))))
    server = PublicServer(settings).start()
    try:
        assert post_signed(server, message(), source="app", secret=APP_SECRET).status_code == 202
        assert post_signed(server, message(text="second"), source="app", secret=OLD_SECRET).status_code == 202
        third = post_signed(server, message(text="third"), source="app", secret=APP_SECRET)
        assert third.status_code == 429 and "more than 2 requests per minute" in third.text
        assert post_signed(server, message(text="crm"), source="crm", secret=CRM_SECRET).status_code == 202  # 600
        assert post_signed(server, message(text="bad"), source="app", secret=CRM_SECRET).status_code == 401
    finally:
        server.stop()


def test_a_source_only_in_the_file_end_to_end(backend, receiver, tmp_path):
    """``helpline ingest`` and ``helpline worker`` read the file: the post is accepted, and the event goes
    back to the file's callback URL, signed with the file's newest secret."""
    path = sources_toml(tmp_path, callback=receiver.url)
    stack = Stack(backend.replace(config_file=path, webhook_sources="", webhook_callbacks=""), tmp_path)
    stack.start_ingest().start_worker(processes=1, threads=2)
    try:
        raw = encode(message())
        answer = requests.post(
            f"http://{stack.settings.http_listen}/api/v1/messages",
            data=raw,
            timeout=30,
            headers=signed_headers(raw, source="app", secret=APP_SECRET),
        )
        assert answer.status_code == 202, (answer.text, stack.log("ingest"))
        wait_until(lambda: receiver.requests, 60, what="the ticket.created event")
        event = receiver.requests[0]
        body = event["body"]
        stamp = event["headers"]["X-Helpline-Timestamp"]
        assert (
            event["headers"]["X-Helpline-Signature"]
            == signed_headers(body, secret=APP_SECRET, timestamp=int(stamp))["X-Helpline-Signature"]
        )
        assert json.loads(body)["ticket"]["number"] == m.Ticket.get().number
    finally:
        stack.stop()
