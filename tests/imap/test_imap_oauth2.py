"""XOAUTH2 tokens that expire, against the real Dovecot: the poller keeps a token while it is fresh,
replaces its session before the token goes stale, and logs in once more with a fresh token when the
server refuses the one it kept. The tokens come from the test's token endpoint (tests/imap/dovecot.py),
which Dovecot's introspection asks too, so each login is checked against the token's real expiry."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from helpline.ingest.channels.imap_accounts import parse_account
from helpline.ingest.channels.imap_poller import ImapPoller, ImapRefused

from .conftest import message, wait_until


def oauth_account(dovecot, user: str, command: str, **options: str):
    query = urlencode({"cafile": dovecot.cafile, "oauth2_cmd": command, **options})
    return parse_account(f"imaps://{user}@127.0.0.1:{dovecot.imaps_port}/INBOX?{query}", lease_seconds=5)


def test_a_token_with_an_expiry_is_replaced_before_it_expires(desk, mailbox, dovecot):
    # 6 s tokens: a new one is fetched a fifth of its life before the end, and the session replaced.
    account = oauth_account(dovecot, mailbox.user, dovecot.token_command(mailbox.user, ttl=6))
    poller = desk.start(account)
    mailbox.append(message(1))
    wait_until(lambda: desk.count() == 1, what="the first message")
    wait_until(lambda: len(dovecot.issued_to(mailbox.user)) >= 3, timeout=30, what="two refreshes")
    mailbox.append(message(2))  # after the first token's expiry
    wait_until(lambda: desk.count() == 2, what="the second message")
    tokens = dovecot.issued_to(mailbox.user)
    checks = dovecot.checked(tokens)
    assert checks and all(ok for _, ok in checks), checks  # every login used a token still valid
    assert poller.stats["errors"] == 0 and poller.stats["connects"] >= 3
    assert poller.stats["tokens"] == len(tokens)  # one command run per token: none fetched in vain


def test_a_plain_token_is_refreshed_every_n_minutes(desk, mailbox, dovecot):
    account = oauth_account(
        dovecot, mailbox.user, dovecot.token_command(mailbox.user, ttl=3600, fmt="plain"), oauth2_refresh="0.05"
    )  # 3 s instead of 45 minutes
    assert account.oauth2_refresh_minutes == 0.05
    poller = desk.start(account)
    wait_until(lambda: poller.stats["connects"] >= 3, timeout=30, what="sessions renewed")
    mailbox.append(message(1))
    wait_until(lambda: desk.count() == 1, what="the row")
    assert poller.stats["errors"] == 0 and len(dovecot.issued_to(mailbox.user)) >= 3


def test_a_refused_kept_token_is_replaced_once(dovecot):
    user, _ = dovecot.add_user()
    poller = ImapPoller(oauth_account(dovecot, user, dovecot.token_command(user, ttl=3600)), intake=None)
    poller.connect().logout()
    first = dovecot.issued_to(user)
    poller.connect().logout()  # the kept token, no command run
    assert dovecot.issued_to(user) == first and poller.stats["tokens"] == 1
    dovecot.revoke(first[0])  # e.g. the provider revoked it: AUTHENTICATIONFAILED at the next login
    client = poller.connect()  # logs in again at once with a fresh token, no error, no backoff
    assert client.select_folder("INBOX")[b"EXISTS"] == 0
    client.logout()
    tokens = dovecot.issued_to(user)
    assert len(tokens) == 2 and dovecot.checked(tokens) == [
        (tokens[0], True),
        (tokens[0], True),
        (tokens[0], False),
        (tokens[1], True),
    ]


def test_a_refused_fresh_token_is_an_error_without_a_second_try(dovecot):
    user, _ = dovecot.add_user()
    poller = ImapPoller(oauth_account(dovecot, user, dovecot.token_command(user, ttl=0.001)), intake=None)
    with pytest.raises(ImapRefused) as err:
        poller.connect()
    assert "login refused" in str(err.value) and len(dovecot.issued_to(user)) == 1
    assert dovecot.issued_to(user)[0] not in str(err.value)  # the token is masked


@pytest.mark.parametrize(
    "output, problem",
    [
        ('{"expires_in": 60}', "printed JSON without an access_token"),
        ('{"access_token": ', "something like JSON that does not parse"),
    ],
)
def test_json_without_a_token_is_refused_clearly(dovecot, output, problem):
    user, _ = dovecot.add_user()
    account = oauth_account(dovecot, user, "echo " + __import__("shlex").quote(output))
    with pytest.raises(ImapRefused) as err:
        ImapPoller(account, intake=None).connect()
    assert problem in str(err.value)
