"""IMAP mailboxes from configuration: ``HELPLINE_IMAP_ACCOUNTS`` and friends.

One URL per mailbox, comma- (or newline-) separated::

    imaps://USER:PASSWORD@HOST:PORT/FOLDER?after=seen
    imap://USER:PASSWORD@HOST/FOLDER?after=move:Archive/Helpline&verify=no
    imaps://support%40example.com@imap.example.com/INBOX?oauth2_cmd=/usr/local/bin/get-token

``imaps`` is implicit TLS (port 993 by default); ``imap`` upgrades with
STARTTLS when the server offers it and talks plain text only to a loopback
address (port 143 by default). User, password and folder are percent-encoded
(a ``,`` in a password is ``%2C``). Query options:

``after``       ``seen`` (default), ``move:FOLDER`` or ``delete``: what happens on
                the server to a message once it is durable in Helpline.
``verify``      ``yes`` (default) or ``no``: check the server's certificate.
``cafile``      a PEM file of CA certificates to trust instead of the system's.
``oauth2_cmd``  a command (run without a shell) that prints an OAuth2 access
                token; the login then uses XOAUTH2 and the password may be empty.
``quarantine``  where unparseable or too-large messages go (default
                ``HELPLINE_IMAP_QUARANTINE_FOLDER``, ``Helpline-Quarantine``).

Passwords and tokens never appear in ``repr``, logs or error messages.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

from helpline.store.config import ConfigError

DEFAULT_QUARANTINE = "Helpline-Quarantine"
DEFAULT_IDLE_MINUTES = 9.0
DEFAULT_POLL_SECONDS = 60.0
DEFAULT_LEASE_SECONDS = 60.0
_OPTIONS = {"after", "verify", "cafile", "oauth2_cmd", "quarantine"}


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int
    user: str
    password: str = field(default="", repr=False)
    folder: str = "INBOX"
    tls: str = "implicit"  # implicit (imaps) or starttls (imap: STARTTLS when offered, else loopback only)
    after: str = "seen"  # seen, move, delete
    move_to: str = ""  # the folder of after=move:FOLDER
    verify: bool = True
    cafile: str = ""
    oauth2_cmd: str = field(default="", repr=False)
    quarantine_folder: str = DEFAULT_QUARANTINE
    idle_minutes: float = DEFAULT_IDLE_MINUTES
    poll_seconds: float = DEFAULT_POLL_SECONDS
    lease_seconds: float = DEFAULT_LEASE_SECONDS

    @property
    def key(self) -> str:
        """Identity of the mailbox in the database: user@host:port/folder."""
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"

    @property
    def label(self) -> str:
        """How logs name the mailbox: user@host/folder (never a secret)."""
        return f"{self.user}@{self.host}/{self.folder}"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Strings that must never be shown (for masking error texts)."""
        out = [s for s in (self.password, self.oauth2_cmd) if s]
        if self.password:
            from urllib.parse import quote
            out.append(quote(self.password, safe=""))
        return tuple(out)

    def masked_url(self) -> str:
        scheme = "imaps" if self.tls == "implicit" else "imap"
        auth = f"{self.user}:****" if self.password else self.user
        return f"{scheme}://{auth}@{self.host}:{self.port}/{self.folder}"


def mask(text: str, secrets: tuple[str, ...]) -> str:
    for s in sorted(secrets, key=len, reverse=True):
        if s:
            text = text.replace(s, "****")
    return text


def _mask_raw_url(url: str) -> str:
    """Hide the password part of a URL we could not parse (it may be malformed)."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1****@", url)


def parse_account(url: str, *, quarantine_folder: str = DEFAULT_QUARANTINE, idle_minutes: float = DEFAULT_IDLE_MINUTES,
                  poll_seconds: float = DEFAULT_POLL_SECONDS,
                  lease_seconds: float = DEFAULT_LEASE_SECONDS) -> ImapAccount:
    """One mailbox URL to an ``ImapAccount``; ``ConfigError`` (password masked) when it is unusable."""
    url = url.strip()
    shown = _mask_raw_url(url)

    def bad(why: str) -> ConfigError:
        return ConfigError(f"HELPLINE_IMAP_ACCOUNTS: {shown!r}: {why}")

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise bad(f"not a valid URL ({'port' if 'port' in str(exc).lower() else 'syntax'})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("imap", "imaps"):
        raise bad("use imaps://USER:PASSWORD@HOST:PORT/FOLDER (implicit TLS) or imap://… (STARTTLS)")
    if not parts.hostname:
        raise bad("no host")
    if parts.username is None or not unquote(parts.username):
        raise bad("no user")
    options: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name not in _OPTIONS:
            raise bad(f"unknown option {name!r} (known: {', '.join(sorted(_OPTIONS))})")
        options[name] = value
    after, move_to = options.get("after", "seen") or "seen", ""
    if after.startswith("move:"):
        after, move_to = "move", after[5:]
        if not move_to:
            raise bad("after=move:FOLDER needs a folder")
    elif after not in ("seen", "delete"):
        raise bad(f"after={after!r}: use seen, move:FOLDER or delete")
    verify_raw = options.get("verify", "yes").lower()
    if verify_raw not in ("yes", "no", "true", "false", "1", "0", "on", "off"):
        raise bad(f"verify={verify_raw!r}: use yes or no")
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    password = unquote(parts.password) if parts.password is not None else ""
    oauth2_cmd = options.get("oauth2_cmd", "")
    if not password and not oauth2_cmd:
        raise bad("no password (or oauth2_cmd)")
    account = ImapAccount(
        host=parts.hostname, port=port or (993 if scheme == "imaps" else 143),
        user=unquote(parts.username), password=password, folder=folder,
        tls="implicit" if scheme == "imaps" else "starttls", after=after, move_to=move_to,
        verify=verify_raw in ("yes", "true", "1", "on"), cafile=options.get("cafile", ""), oauth2_cmd=oauth2_cmd,
        quarantine_folder=options.get("quarantine") or quarantine_folder,
        idle_minutes=idle_minutes, poll_seconds=poll_seconds, lease_seconds=lease_seconds,
    )
    if account.quarantine_folder == account.folder or (after == "move" and move_to == account.folder):
        raise bad("the quarantine and after=move folders must differ from the polled folder")
    return account


def split_accounts(value: str) -> list[str]:
    """Comma- or newline-separated URLs; blank lines and ``#`` comments ignored."""
    lines = [ln for ln in value.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    out: list[str] = []
    for line in lines:
        out += [p.strip() for p in re.split(r"[,\s]+(?=imaps?://)", line.strip(), flags=re.IGNORECASE) if p.strip()]
    return out


def _read(environ: Mapping[str, str], name: str) -> str | None:
    raw = environ.get(name)
    file_name = environ.get(name + "_FILE")
    if raw is None and file_name:
        try:
            raw = Path(file_name).read_text()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE={file_name} cannot be read: {exc.strerror}") from None
    return raw


def _number(environ: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = _read(environ, name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw.strip()!r} is not a number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw.strip()!r} must be at least {minimum:g}")
    return value


def imap_settings(environ: Mapping[str, str] | None = None) -> list[ImapAccount]:
    """The configured mailboxes (empty when ``HELPLINE_IMAP_ACCOUNTS`` is unset).

    ``HELPLINE_IMAP_ACCOUNTS`` (or ``_FILE``, suiting ``LoadCredential=``) lists
    the URLs; ``HELPLINE_IMAP_IDLE_MINUTES`` (default 9) is how long one IDLE
    lasts before it is re-issued, ``HELPLINE_IMAP_POLL_SECONDS`` (default 60)
    the interval for servers without IDLE, ``HELPLINE_IMAP_LEASE_SECONDS``
    (default 60) how long a crashed daemon keeps a mailbox from the others, and
    ``HELPLINE_IMAP_QUARANTINE_FOLDER`` (default ``Helpline-Quarantine``) where
    bad messages go unless an account says ``quarantine=FOLDER``.
    """
    env = os.environ if environ is None else environ
    raw = _read(env, "HELPLINE_IMAP_ACCOUNTS")
    if not raw or not raw.strip():
        return []
    idle = _number(env, "HELPLINE_IMAP_IDLE_MINUTES", DEFAULT_IDLE_MINUTES, 0.1)
    if idle > 29:
        raise ConfigError("HELPLINE_IMAP_IDLE_MINUTES must be below 29 (RFC 2177's limit for an idle client)")
    poll = _number(env, "HELPLINE_IMAP_POLL_SECONDS", DEFAULT_POLL_SECONDS, 1)
    lease = _number(env, "HELPLINE_IMAP_LEASE_SECONDS", DEFAULT_LEASE_SECONDS, 2)
    quarantine = (_read(env, "HELPLINE_IMAP_QUARANTINE_FOLDER") or "").strip() or DEFAULT_QUARANTINE
    accounts = [parse_account(u, quarantine_folder=quarantine, idle_minutes=idle, poll_seconds=poll,
                              lease_seconds=lease) for u in split_accounts(raw)]
    seen: set[str] = set()
    for a in accounts:
        if a.key in seen:
            raise ConfigError(f"HELPLINE_IMAP_ACCOUNTS lists {a.label} twice")
        seen.add(a.key)
    return accounts
