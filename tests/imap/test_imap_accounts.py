"""Mailbox URLs and IMAP settings: parsing, defaults, refusals, and secrets kept out of sight."""

from __future__ import annotations

import logging
import socket
import threading

import pytest

from helpline.ingest.channels import imap_poller
from helpline.ingest.channels.imap_accounts import ImapAccount, imap_settings, parse_account, split_accounts
from helpline.ingest.channels.imap_poller import ImapPoller, ImapRefused
from helpline.store.config import ConfigError


def test_imaps_url_with_encoded_user_and_password():
    a = parse_account("imaps://support%40example.com:p%40ss%2Cw%2Frd%25@imap.example.com/Support%20Desk")
    assert (a.host, a.port, a.user, a.password, a.folder) == (
        "imap.example.com",
        993,
        "support@example.com",
        "p@ss,w/rd%",
        "Support Desk",
    )
    assert a.tls == "implicit" and a.after == "seen" and a.verify and not a.oauth2_cmd
    assert a.label == "support@example.com@imap.example.com/Support Desk"
    assert a.quarantine_folder == "Helpline-Quarantine" and a.idle_minutes == 9 and a.poll_seconds == 60


def test_imap_url_options():
    a = parse_account("imap://bob:pw@127.0.0.1:1143?after=move:Archive/Done&verify=no&quarantine=Bad")
    assert (a.port, a.folder, a.tls, a.after, a.move_to, a.verify, a.quarantine_folder) == (
        1143,
        "INBOX",
        "starttls",
        "move",
        "Archive/Done",
        False,
        "Bad",
    )
    assert parse_account("imap://bob:pw@h/?after=delete").after == "delete"
    assert parse_account("imap://bob:pw@h").port == 143
    o = parse_account("imaps://bob@h/INBOX?oauth2_cmd=/usr/bin/get-token+--account+support")
    assert o.oauth2_cmd == "/usr/bin/get-token --account support" and o.password == ""


@pytest.mark.parametrize(
    "url, why",
    [
        ("pop3://bob:pw@h/", "use imaps://"),
        ("imaps://bob:pw@/INBOX", "no host"),
        ("imaps://:pw@h/INBOX", "no user"),
        ("imaps://bob@h/INBOX", "no password"),
        ("imaps://bob:pw@h/?after=archive", "after='archive'"),
        ("imaps://bob:pw@h/?after=move:", "needs a folder"),
        ("imaps://bob:pw@h/?verify=maybe", "verify="),
        ("imaps://bob:pw@h/?colour=blue", "unknown option 'colour'"),
        ("imaps://bob:pw@h:99999/", "not a valid URL"),
        ("imaps://bob:pw@h/INBOX?after=move:INBOX", "must differ"),
    ],
)
def test_bad_urls_are_refused_with_the_reason_and_no_password(url, why):
    secret_url = url.replace(":pw@", ":TopSecret1@")
    with pytest.raises(ConfigError) as err:
        parse_account(secret_url)
    assert why in str(err.value)
    assert "TopSecret1" not in str(err.value) and "HELPLINE_IMAP_ACCOUNTS" in str(err.value)


def test_password_never_in_repr_or_masked_url():
    a = parse_account("imaps://bob:TopSecret1@h/INBOX?oauth2_cmd=token-cmd+--secret+XYZ")
    assert "TopSecret1" not in repr(a) and "XYZ" not in repr(a)
    assert a.masked_url() == "imaps://bob:****@h:993/INBOX"


def test_settings_from_environment_and_file(tmp_path):
    assert imap_settings({}) == []
    env = {
        "HELPLINE_IMAP_ACCOUNTS": "imaps://a:x@h1/INBOX, imap://b:y%2Cz@127.0.0.1/Support?after=delete",
        "HELPLINE_IMAP_IDLE_MINUTES": "4.5",
        "HELPLINE_IMAP_POLL_SECONDS": "30",
    }
    a, b = imap_settings(env)
    assert (a.user, b.user, b.password, b.after) == ("a", "b", "y,z", "delete")
    assert a.idle_minutes == b.idle_minutes == 4.5 and a.poll_seconds == 30
    f = tmp_path / "accounts"
    f.write_text("# the support mailboxes\nimaps://a:x@h1/INBOX\n\nimaps://c:w@h2/INBOX\n")
    accounts = imap_settings({"HELPLINE_IMAP_ACCOUNTS_FILE": str(f)})
    assert [x.user for x in accounts] == ["a", "c"]
    assert accounts[0].idle_minutes == 9 and accounts[0].poll_seconds == 60
    with pytest.raises(ConfigError, match="cannot be read"):
        imap_settings({"HELPLINE_IMAP_ACCOUNTS_FILE": str(tmp_path / "missing")})
    with pytest.raises(ConfigError, match="HELPLINE_IMAP_IDLE_MINUTES"):
        imap_settings({**env, "HELPLINE_IMAP_IDLE_MINUTES": "30"})
    with pytest.raises(ConfigError, match="HELPLINE_IMAP_POLL_SECONDS"):
        imap_settings({**env, "HELPLINE_IMAP_POLL_SECONDS": "soon"})
    with pytest.raises(ConfigError, match="twice"):
        imap_settings({"HELPLINE_IMAP_ACCOUNTS": "imaps://a:x@h1/INBOX,imaps://a:z@h1:993/INBOX"})


def test_split_keeps_commas_inside_options():
    urls = split_accounts("imaps://a:x@h/INBOX?oauth2_cmd=tok+a,b, imap://c:y@h/INBOX\nimaps://d:z@h/X")
    assert urls == ["imaps://a:x@h/INBOX?oauth2_cmd=tok+a,b", "imap://c:y@h/INBOX", "imaps://d:z@h/X"]


class _NoStarttlsServer:
    """Greets like an IMAP server without STARTTLS and records whatever the client sends."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN IDLE] ready\r\n")
                conn.settimeout(2)
                try:
                    while data := conn.recv(4096):
                        self.received += data
                        for line in data.split(b"\r\n"):
                            if line and line.split(b" ")[1:2] == [b"CAPABILITY"]:
                                conn.sendall(
                                    b"* CAPABILITY IMAP4rev1 AUTH=PLAIN IDLE\r\n"
                                    + line.split(b" ")[0]
                                    + b" OK done\r\n"
                                )
                            elif line and line.split(b" ")[1:2] == [b"LOGOUT"]:
                                conn.sendall(b"* BYE\r\n" + line.split(b" ")[0] + b" OK bye\r\n")
                except OSError:
                    pass


def test_plain_text_to_a_remote_host_is_refused_before_the_password_is_sent(monkeypatch):
    server = _NoStarttlsServer()
    monkeypatch.setattr(imap_poller, "_is_loopback", lambda client: False)  # as if 127.0.0.1 were far away
    poller = ImapPoller(parse_account(f"imap://bob:TopSecret1@127.0.0.1:{server.port}/INBOX"), intake=None)
    with pytest.raises(ImapRefused, match="offers no STARTTLS and is not a loopback address"):
        poller.connect()
    assert b"TopSecret1" not in server.received and b"LOGIN" not in server.received.upper()


def test_plain_text_to_loopback_is_allowed():
    server = _NoStarttlsServer()
    poller = ImapPoller(
        parse_account(f"imap://bob:TopSecret1@127.0.0.1:{server.port}/INBOX"), intake=None, read_timeout=3
    )
    with pytest.raises(Exception):  # noqa: B017 - the stand-in never answers LOGIN: what matters is that it was sent
        poller.connect()
    assert b"LOGIN" in server.received.upper()


def test_a_self_signed_certificate_is_refused_unless_trusted_or_verify_no(dovecot, caplog):
    caplog.set_level(logging.WARNING)
    user, password = dovecot.add_user()
    base = f"imaps://{user}:{password}@127.0.0.1:{dovecot.imaps_port}/INBOX"
    with pytest.raises(OSError):  # ssl.SSLCertVerificationError
        ImapPoller(parse_account(base), intake=None).connect()
    for url in (
        base + "?verify=no",
        base + f"?cafile={dovecot.cafile}",
        f"imap://{user}:{password}@127.0.0.1:{dovecot.imap_port}/INBOX?cafile={dovecot.cafile}",
    ):
        client = ImapPoller(parse_account(url), intake=None).connect()
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
        client.logout()


def test_oauth2_command_failure_is_reported_without_the_command(dovecot):
    user, _ = dovecot.add_user()
    url = f"imaps://{user}@127.0.0.1:{dovecot.imaps_port}/INBOX?verify=no&oauth2_cmd=false+--secret+XYZ"
    with pytest.raises(ImapRefused) as err:
        ImapPoller(parse_account(url), intake=None).connect()
    assert "exited with status 1" in str(err.value) and "XYZ" not in str(err.value)


def test_account_is_hashable_and_comparable():
    a = parse_account("imaps://a:x@h/INBOX")
    assert isinstance(a, ImapAccount) and a == parse_account("imaps://a:x@h:993/INBOX") and hash(a)


def test_accounts_from_settings_now_and_later(monkeypatch):
    from types import SimpleNamespace

    from helpline.ingest.channels.imap_poller import accounts_from_settings

    monkeypatch.setenv("HELPLINE_IMAP_ACCOUNTS", "imaps://env:x@h/INBOX")
    assert [a.user for a in accounts_from_settings(SimpleNamespace())] == ["env"]  # not in Settings yet
    later = SimpleNamespace(
        imap_accounts="imaps://a:x@h/INBOX,imap://b:y@127.0.0.1/INBOX",
        imap_idle_minutes=4.0,
        imap_poll_seconds=20.0,
        imap_lease_seconds=30.0,
        imap_quarantine_folder="Junk-Helpline",
    )
    a, b = accounts_from_settings(later)
    assert (a.user, b.user, a.idle_minutes, b.poll_seconds, a.lease_seconds, b.quarantine_folder) == (
        "a",
        "b",
        4.0,
        20.0,
        30.0,
        "Junk-Helpline",
    )
    assert accounts_from_settings(SimpleNamespace(imap_accounts="")) == []
