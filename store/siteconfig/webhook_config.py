"""The ``[[webhooks.sources]]`` tables of the TOML configuration file.

The file form of ``HELPLINE_WEBHOOK_SOURCES``, ``HELPLINE_WEBHOOK_CALLBACKS``
and ``HELPLINE_WEBHOOK_SOURCE_RATES``, one table per source::

    [[webhooks.sources]]
    name = "shop"
    secret_file = "/etc/helpline/shop.secret"   # or secret = "...", or secrets = ["new", "old"]
    callback_url = "https://shop.example/helpline-events"
    rate_per_minute = 1200                       # this source's HELPLINE_WEBHOOK_RATE_PER_MINUTE

``config.load()`` folds the file's sources into those settings, so every
reader (the inbound API, the webhook sender, the pipeline) sees one list
and needs no change. The environment wins on a name it lists: its secrets, its
callback, its rate replace the file's for that source (a systemd credential can
override the file). Because the folded form is the comma-separated one, a secret
or URL in the file may not contain a comma; ``openssl rand -hex 32`` never does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import urlsplit

if TYPE_CHECKING:  # config_file imports this module; it passes its context class in
    from helpline.store.siteconfig.config_file import _Ctx

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")  # as store/channels/webhook_signing.py
_KEYS = {"name", "secret", "secrets", "secret_file", "callback_url", "rate_per_minute"}
MIN_SECRET = 16


@dataclass(frozen=True)
class WebhookSource:
    name: str
    secrets: tuple[str, ...] = field(default=(), repr=False)  # newest first; empty when files were not read
    callback_url: str = ""
    rate_per_minute: int | None = None  # None: HELPLINE_WEBHOOK_RATE_PER_MINUTE


def parse_webhook_sources(
    source: str, data: Mapping[str, Any], ctx_type: type["_Ctx"], *, read_files: bool = True
) -> list[WebhookSource]:
    """The ``[webhooks]`` table (``data``, possibly empty); ``read_files=False`` checks ``secret_file`` keys
    without reading them (for processes that only need the rest of the file)."""
    ctx = ctx_type(source, "webhooks")
    ctx.only(data, {"sources"})
    out: list[WebhookSource] = []
    for i, body in enumerate(ctx.tables(data, "sources")):
        item = _source(source, i, body, ctx_type, read_files)
        if any(s.name == item.name for s in out):
            raise ctx_type(source, f"webhooks.sources[{i}]").fail(
                "name", f"source {item.name!r} is defined twice; list both secrets in secrets = [...]"
            )
        out.append(item)
    return out


def _source(source: str, index: int, body: Any, ctx_type: type["_Ctx"], read_files: bool) -> WebhookSource:
    ctx = ctx_type(source, f"webhooks.sources[{index}]")
    if not isinstance(body, dict):
        raise ctx.fail("", "must be a table")
    name = ctx.string(body, "name", required=True)
    ctx = ctx_type(source, f"webhooks.sources[{index}] (name {name!r})")
    ctx.only(body, _KEYS)
    if not _NAME.match(name):
        raise ctx.fail("name", f"{name!r} must be 1-63 letters, digits, '.', '_' or '-'")
    given = [k for k in ("secret", "secrets", "secret_file") if k in body]
    if len(given) != 1:
        raise ctx.fail(
            given[1] if given else "secret_file",
            "give exactly one of secret, secrets or secret_file"
            if given
            else "is required (or secret, or secrets): requests and events are signed with it; "
            "make one with: openssl rand -hex 32",
        )
    key = given[0]
    if key == "secret_file":
        path = ctx.string(body, key)
        if not path:
            raise ctx.fail(key, "is empty")
        secrets: tuple[str, ...] = ()
        if read_files:
            try:
                text = Path(path).read_text()
            except OSError as exc:
                raise ctx.fail(key, f"{path} cannot be read: {exc.strerror}") from None
            secrets = tuple(line.strip() for line in text.splitlines() if line.strip())  # one per line, newest first
            if not secrets:
                raise ctx.fail(key, f"{path} is empty")
    else:
        secrets = ctx.strings(body, key)
        if not secrets:
            raise ctx.fail(key, "is empty")
    for n, secret in enumerate(secrets):
        which = f"secret {n + 1}" if len(secrets) > 1 else "the secret"
        if len(secret) < MIN_SECRET:
            raise ctx.fail(key, f"{which} is shorter than {MIN_SECRET} characters; make one with: openssl rand -hex 32")
        if "," in secret:
            raise ctx.fail(key, f"{which} contains a comma, which the setting it is folded into cannot hold")
    url = ctx.string(body, "callback_url")
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ctx.fail("callback_url", f"{url!r} is not an http(s) URL")
        if "," in url:
            raise ctx.fail("callback_url", "may not contain a comma (write it as %2C)")
    rate = None
    if "rate_per_minute" in body:
        rate = ctx.integer(body, "rate_per_minute", 0, 0, 1_000_000)
    return WebhookSource(name=name, secrets=secrets, callback_url=url, rate_per_minute=rate)


def fold(
    sources_env: str, callbacks_env: str, rates_env: tuple[str, ...], from_file: list[WebhookSource]
) -> tuple[str, str, tuple[str, ...]]:
    """The three settings with the file's sources added where the environment does not name them."""

    def names(value: str | tuple[str, ...]) -> set[str]:
        items = value.split(",") if isinstance(value, str) else value
        return {i.partition("=")[0].strip() for i in items if i.strip()}

    env_sources, env_callbacks, env_rates = names(sources_env), names(callbacks_env), names(rates_env)
    sources = [p for p in (sources_env.strip(),) if p]
    callbacks = [p for p in (callbacks_env.strip(),) if p]
    rates = list(rates_env)
    for s in from_file:
        if s.name not in env_sources:
            sources += [f"{s.name}={secret}" for secret in s.secrets]
        if s.callback_url and s.name not in env_callbacks:
            callbacks.append(f"{s.name}={s.callback_url}")
        if s.rate_per_minute is not None and s.name not in env_rates:
            rates.append(f"{s.name}={s.rate_per_minute}")
    return ",".join(sources), ",".join(callbacks), tuple(rates)
