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
``oauth2_refresh`` minutes after which a token that came without an expiry is
                fetched again (default 45); a command printing JSON
                ``{"access_token": …, "expires_in": SECONDS}`` says its own expiry.
``quarantine``  where unparseable or too-large messages go (default
                ``HELPLINE_IMAP_QUARANTINE_FOLDER``, ``Helpline-Quarantine``).

The TOML configuration file (``HELPLINE_CONFIG_FILE``) may list mailboxes too,
as ``[[imap.accounts]]`` tables with the same fields as keys (``file_accounts``);
a mailbox in both (same user, host, port and folder) is taken from the
environment, which wins so that a systemd credential can override the file.

Passwords and tokens never appear in ``repr``, logs or error messages.
"""

from __future__ import annotations

import datetime as dt

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, TypedDict
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from helpline.store.config import ConfigError
from helpline.store.siteconfig.config_file import ConfigFileError, TableContext, read_toml

log = logging.getLogger("helpline.ingest.imap")

DEFAULT_QUARANTINE = "Helpline-Quarantine"
DEFAULT_IDLE_MINUTES = 9.0
DEFAULT_POLL_SECONDS = 60.0
DEFAULT_LEASE_SECONDS = 60.0
DEFAULT_OAUTH2_REFRESH_MINUTES = 45.0
_OPTIONS = {"after", "verify", "cafile", "oauth2_cmd", "oauth2_refresh", "quarantine"}


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
    oauth2_refresh_minutes: float = DEFAULT_OAUTH2_REFRESH_MINUTES  # for tokens printed without an expiry
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


def parse_account(
    url: str,
    *,
    quarantine_folder: str = DEFAULT_QUARANTINE,
    idle_minutes: float = DEFAULT_IDLE_MINUTES,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    options: Mapping[str, str] | None = None,
    origin: str = "HELPLINE_IMAP_ACCOUNTS",
) -> ImapAccount:
    """One mailbox URL to an ``ImapAccount``; ``ConfigError`` (password masked) when it is unusable.

    ``origin`` names where the URL came from in the error message; ``options``
    (from the TOML file) are taken as if they were in the URL's query, but are
    never shown in an error (an ``oauth2_cmd`` may carry a secret)."""
    url = url.strip()
    shown = _mask_raw_url(url)

    def bad(why: str) -> ConfigError:
        return ConfigError(f"{origin}: {shown!r}: {why}")

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
    options_given, options = options, {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name not in _OPTIONS:
            raise bad(f"unknown option {name!r} (known: {', '.join(sorted(_OPTIONS))})")
        options[name] = value
    options.update(options_given or {})
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
    refresh_raw = options.get("oauth2_refresh", "") or str(DEFAULT_OAUTH2_REFRESH_MINUTES)
    try:
        refresh = float(refresh_raw)
    except ValueError:
        raise bad(f"oauth2_refresh={refresh_raw!r}: give minutes, e.g. 45") from None
    if not refresh > 0:
        raise bad(f"oauth2_refresh={refresh_raw!r} must be more than 0 minutes")
    account = ImapAccount(
        host=parts.hostname,
        port=port or (993 if scheme == "imaps" else 143),
        user=unquote(parts.username),
        password=password,
        folder=folder,
        tls="implicit" if scheme == "imaps" else "starttls",
        after=after,
        move_to=move_to,
        verify=verify_raw in ("yes", "true", "1", "on"),
        cafile=options.get("cafile", ""),
        oauth2_cmd=oauth2_cmd,
        oauth2_refresh_minutes=refresh,
        quarantine_folder=options.get("quarantine") or quarantine_folder,
        idle_minutes=idle_minutes,
        poll_seconds=poll_seconds,
        lease_seconds=lease_seconds,
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


class AccountKnobs(TypedDict):
    """``parse_account``'s settings that every mailbox takes from the environment unless it says otherwise."""

    quarantine_folder: str
    idle_minutes: float
    poll_seconds: float
    lease_seconds: float


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


# ---- the TOML file: [[imap.accounts]] ---------------------------------------------------------
_TOML_KEYS = {
    "url",
    "user",
    "password",
    "password_file",
    "folder",
    "folders",
    "after",
    "verify",
    "cafile",
    "oauth2_cmd",
    "oauth2_refresh_minutes",
    "quarantine",
}


def toml_accounts(source: str, data: Mapping[str, Any], **knobs: Any) -> list[ImapAccount]:
    """The ``[[imap.accounts]]`` tables of a parsed configuration file (``data``, its top level).

    One table is one login; ``folders = [...]`` makes one mailbox per folder.
    Secrets belong in ``password_file`` (or the environment), not in the file
    itself, which is usually readable by more people than a credential.
    ``knobs`` are ``parse_account``'s defaults (idle minutes and so on)."""
    top = TableContext(source, "top level")
    imap = top.table_of(data, "imap")
    ictx = TableContext(source, "imap")
    ictx.only(imap, {"accounts"})
    out: list[ImapAccount] = []
    where: dict[str, int] = {}
    for i, body in enumerate(ictx.tables(imap, "accounts")):
        for account in _toml_account(source, i, body, knobs):
            if account.key in where:
                raise ConfigFileError(
                    source,
                    f"imap.accounts[{i}]",
                    "folder",
                    f"mailbox {account.label} is already listed in imap.accounts[{where[account.key]}]",
                )
            where[account.key] = i
            out.append(account)
    return out


def _toml_account(source: str, index: int, body: Any, knobs: Mapping[str, Any]) -> list[ImapAccount]:
    ctx = TableContext(source, f"imap.accounts[{index}]")
    if not isinstance(body, dict):
        raise ctx.fail("", "must be a table")
    ctx.only(body, _TOML_KEYS)
    url = ctx.string(body, "url", required=True)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a bad port
    except ValueError:
        raise ctx.fail("url", f"{_mask_raw_url(url)!r} is not a valid URL") from None
    if parts.query:
        raise ctx.fail("url", 'give options as keys of the table (after = "seen", verify = false, ...), not in the URL')
    user = ctx.string(body, "user")
    if user and parts.username:
        raise ctx.fail("user", "the url names a user already; give it once")
    user = user or unquote(parts.username or "")
    password = ctx.string(body, "password")
    password_file = ctx.string(body, "password_file")
    if password and password_file:
        raise ctx.fail("password_file", "give password or password_file, not both")
    if (password or password_file) and parts.password is not None:
        raise ctx.fail("password" if password else "password_file", "the url has a password already; give it once")
    if password_file:
        try:
            password = Path(password_file).read_text().strip()
        except OSError as exc:
            raise ctx.fail("password_file", f"{password_file} cannot be read: {exc.strerror}") from None
        if not password:
            raise ctx.fail("password_file", f"{password_file} is empty")
    elif parts.password is not None:
        password = unquote(parts.password)
    in_url = unquote(parts.path.lstrip("/"))
    folder, folders = ctx.string(body, "folder"), ctx.strings(body, "folders")
    if folder and folders:
        raise ctx.fail("folders", "give folder or folders, not both")
    if (folder or folders) and in_url:
        raise ctx.fail("folder" if folder else "folders", f"the url names folder {in_url!r} already; give it once")
    after = ctx.string(body, "after", "seen") or "seen"
    if not (after in ("seen", "delete") or (after.startswith("move:") and after[5:].strip())):
        raise ctx.fail("after", f'{after!r}: use "seen", "move:FOLDER" or "delete"')
    options = {
        "after": after,
        "verify": "yes" if ctx.boolean(body, "verify", True) else "no",
        "cafile": ctx.string(body, "cafile"),
        "oauth2_cmd": ctx.string(body, "oauth2_cmd"),
        "quarantine": ctx.string(body, "quarantine"),
    }
    if "oauth2_refresh_minutes" in body:
        minutes = body["oauth2_refresh_minutes"]
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not minutes > 0:
            raise ctx.fail("oauth2_refresh_minutes", f"must be a number of minutes above 0, not {minutes!r}")
        options["oauth2_refresh"] = str(float(minutes))
    if not password and not options["oauth2_cmd"]:
        raise ctx.fail("password_file", "no password: give password_file (or password, or oauth2_cmd)")
    login = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    host = parts.netloc.rpartition("@")[2]
    accounts = []
    for name in folders or (folder or in_url or "INBOX",):
        rebuilt = urlunsplit((parts.scheme, f"{login}@{host}", "/" + quote(name, safe=""), "", ""))
        try:
            accounts.append(
                parse_account(rebuilt, options=options, origin=f"{source}: [imap.accounts[{index}]]", **knobs)
            )
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(quote(password, safe=""), "****") if password else str(exc)) from None
    return accounts


def file_accounts(path: str, **knobs: Any) -> list[ImapAccount]:
    """The mailboxes listed in the configuration file at ``path`` (``ConfigFileError`` says where it is wrong)."""
    return toml_accounts(path, read_toml(path), **knobs)


# ---- everything configured ------------------------------------------------------------------
def imap_settings(environ: Mapping[str, str] | None = None) -> list[ImapAccount]:
    """The configured mailboxes: ``HELPLINE_IMAP_ACCOUNTS`` and the file's ``[[imap.accounts]]``.

    ``HELPLINE_IMAP_ACCOUNTS`` (or ``_FILE``, suiting ``LoadCredential=``) lists
    the URLs; ``HELPLINE_IMAP_IDLE_MINUTES`` (default 9) is how long one IDLE
    lasts before it is re-issued, ``HELPLINE_IMAP_POLL_SECONDS`` (default 60)
    the interval for servers without IDLE, ``HELPLINE_IMAP_LEASE_SECONDS``
    (default 60) how long a crashed daemon keeps a mailbox from the others, and
    ``HELPLINE_IMAP_QUARANTINE_FOLDER`` (default ``Helpline-Quarantine``) where
    bad messages go unless an account says ``quarantine=FOLDER``. These apply to
    the file's mailboxes too. A mailbox in both places is taken from the
    environment (logged), so a credential can override the file.
    """
    env = os.environ if environ is None else environ
    raw = _read(env, "HELPLINE_IMAP_ACCOUNTS")
    path = (env.get("HELPLINE_CONFIG_FILE") or "").strip()
    urls = split_accounts(raw) if raw and raw.strip() else []
    if not urls and not path:
        return []
    idle = _number(env, "HELPLINE_IMAP_IDLE_MINUTES", DEFAULT_IDLE_MINUTES, 0.1)
    if idle > 29:
        raise ConfigError("HELPLINE_IMAP_IDLE_MINUTES must be below 29 (RFC 2177's limit for an idle client)")
    poll = _number(env, "HELPLINE_IMAP_POLL_SECONDS", DEFAULT_POLL_SECONDS, 1)
    lease = _number(env, "HELPLINE_IMAP_LEASE_SECONDS", DEFAULT_LEASE_SECONDS, 2)
    quarantine = (_read(env, "HELPLINE_IMAP_QUARANTINE_FOLDER") or "").strip() or DEFAULT_QUARANTINE
    knobs: AccountKnobs = {
        "quarantine_folder": quarantine,
        "idle_minutes": idle,
        "poll_seconds": poll,
        "lease_seconds": lease,
    }
    accounts = [parse_account(u, **knobs) for u in urls]
    seen: set[str] = set()
    for a in accounts:
        if a.key in seen:
            raise ConfigError(f"HELPLINE_IMAP_ACCOUNTS lists {a.label} twice")
        seen.add(a.key)
    if path:
        for a in file_accounts(path, **knobs):
            if a.key in seen:
                log.warning("event=imap_account_overridden account=%s file=%s by=HELPLINE_IMAP_ACCOUNTS", a.label, path)
                continue
            accounts.append(a)
    return accounts


def live_times(accounts: list[Any]) -> dict[str, tuple[float | None, float | None]]:
    """mailbox -> (last success, last error) as Unix times, for the ingest daemon's /metrics."""
    from helpline.store.channels import imap_state

    def ts(value: Any) -> float | None:
        return value.replace(tzinfo=dt.timezone.utc).timestamp() if isinstance(value, dt.datetime) else None

    rows = imap_state.status_rows([a.key for a in accounts])
    return {
        a.key: (ts(rows.get(a.key, {}).get("last_success_at")), ts(rows.get(a.key, {}).get("last_error_at")))
        for a in accounts
    }
