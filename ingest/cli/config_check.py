"""The whole configuration checked once, before any process starts.

``helpline run`` used to print "Helpline is running" and then watch its ingest
child exit with a configuration error and restart it forever. Everything a
child would refuse at start-up (listen addresses, URLs, IMAP mailboxes, the
TOML file's teams, routing, priority and webhook sections) is checked here
first, so the operator sees one line naming the variable or TOML key and what
is wrong, and the command exits non-zero. Unknown ``HELPLINE_*`` variables are
usually typos that silently leave a default in force: each gets a warning with
the nearest known name.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from helpline.store.siteconfig import config_file
from helpline.store.config import ConfigError, Settings, parse_hostport

# Variables Helpline reads that are not settings of their own.
_OTHER_KNOWN = frozenset({"HELPLINE_CONFIG_FILE"})
_LISTENERS = {
    "smtp_listen": 2525,
    "http_listen": 8080,
    "admin_listen": 8081,
    "worker_admin_listen": 8082,
    "smtp_relay": 25,
}
_URLS = {
    "database_url": ("sqlite", "postgresql", "postgres"),
    "broker_url": ("redis", "rediss", "unix", "amqp", "amqps"),
    "public_url": ("http", "https"),
}


def known_names() -> set[str]:
    names = set(_OTHER_KNOWN)
    for f in dataclasses.fields(Settings):
        name = "HELPLINE_" + f.name.upper()
        names.update({name, name + "_FILE"})
    return names


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """One warning per ``HELPLINE_*`` variable that no setting reads, with the nearest known name."""
    env = os.environ if environ is None else environ
    known = known_names()
    warnings = []
    for name in sorted(n for n in env if n.startswith("HELPLINE_") and n not in known):
        if name.startswith(("HELPLINE_TEST_", "HELPLINE_BENCH_")):  # the test suite's and bench's own
            continue
        near = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        warnings.append(f"{name} is not a Helpline setting" + (f"; did you mean {near[0]}?" if near else ""))
    return warnings


def _check_url(env_name: str, value: str, schemes: tuple[str, ...]) -> None:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"{env_name} is not a valid URL: {exc}") from None
    if parts.scheme not in schemes:
        raise ConfigError(
            f"{env_name} must start with {' or '.join(s + '://' for s in schemes)}, "
            f"not {parts.scheme + '://' if parts.scheme else 'no scheme'}"
        )


def check(settings: Settings) -> None:
    """Raise ``ConfigError`` for the first thing any Helpline process would refuse at start-up."""
    for name, port in _LISTENERS.items():
        value = getattr(settings, name)
        if value:
            try:
                parse_hostport(value, port)
            except ConfigError as exc:
                raise ConfigError(f"HELPLINE_{name.upper()}: {exc}") from None
    for name, schemes in _URLS.items():
        value = getattr(settings, name)
        if value:
            _check_url(f"HELPLINE_{name.upper()}", value, schemes)
    if settings.config_file:
        config_file.load_path(settings.config_file)  # teams, agents, routing, SLA, priority, webhooks
    from helpline.ingest.channels.imap_poller import accounts_from_settings

    accounts_from_settings(settings)  # every IMAP mailbox URL and [[imap.accounts]] table


def reference() -> str:
    """The settings reference of deploy/README.md, generated from the settings themselves so it cannot drift."""
    rows = ["| variable | default | what it does |", "|---|---|---|"]
    for f in dataclasses.fields(Settings):
        if f.default is dataclasses.MISSING:  # worked out on this machine (a path under $HOME)
            rows.append(f"| `HELPLINE_{f.name.upper()}` | (computed) | {_doc(f)} |")
            continue
        default = f.default
        if isinstance(default, tuple):
            default = ",".join(default)
        elif isinstance(default, bool):
            default = "1" if default else "0"
        shown = f"`{default}`" if default != "" else "(empty)"
        rows.append(f"| `HELPLINE_{f.name.upper()}` | {shown} | {_doc(f)} |")
    return "\n".join(rows) + "\n"


def _doc(f: dataclasses.Field) -> str:  # type: ignore[type-arg]
    return " ".join(str(f.metadata.get("doc", "")).split()).replace("|", "\\|")
