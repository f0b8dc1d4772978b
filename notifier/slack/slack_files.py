"""Files an agent attached in Slack, downloaded with the bot token so they can go to the customer.

Slack serves ``url_private_download`` only to a request carrying the bot token
(``Authorization: Bearer xoxb-…``, scope ``files:read``); without it, or with a
token lacking the scope, it answers HTTP 200 with a sign-in page, which must
not reach a customer as their "invoice.pdf". The token goes only to Slack's
own hosts (``*.slack.com`` over HTTPS) or the configured API host (a stand-in),
never to wherever a URL in an event points. At most ``max_bytes`` are read: a
larger file is refused (the size Slack announces is checked first, the stream
is capped anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from helpline.store.config import Settings

from helpline.notifier.errors import PermanentFailure, TemporaryFailure

CHUNK = 64 * 1024


class FileTooLarge(PermanentFailure):
    pass


@dataclass(frozen=True)
class SlackFile:
    name: str
    mimetype: str
    data: bytes


def _allowed(url: str, settings: Settings) -> bool:
    got, api = urlsplit(url), urlsplit(settings.slack_api_url)
    host = (got.hostname or "").lower()
    if got.scheme == "https" and (host == "slack.com" or host.endswith(".slack.com")):
        return True
    return (got.scheme, got.netloc.lower()) == (api.scheme, api.netloc.lower()) and got.scheme in ("http", "https")


def download(file: dict, settings: Settings, *, max_bytes: int, timeout: float = 30.0) -> SlackFile:
    """The bytes of one file of a Slack message event (as ``slack_envelope`` keeps it: id, name,
    mimetype, size, url). Raises FileTooLarge or PermanentFailure (the file cannot be had),
    TemporaryFailure (Slack unreachable or failing: try again)."""
    name = str(file.get("name") or file.get("id") or "file")
    url = str(file.get("url") or "")
    if not url:
        raise PermanentFailure(f"{name}: Slack gave no download URL (a file shared from another workspace?)")
    if not _allowed(url, settings):
        raise PermanentFailure(f"{name}: download URL is not on Slack's hosts; the bot token is not sent there")
    if not settings.slack_bot_token:
        raise PermanentFailure(f"{name}: no HELPLINE_SLACK_BOT_TOKEN to download it with")
    announced = int(file.get("size") or 0)
    if announced > max_bytes:
        raise FileTooLarge(
            f"{name} is {announced} bytes, over the limit of {max_bytes} (HELPLINE_SLACK_FILE_MAX_BYTES)"
        )
    try:
        with requests.get(
            url,
            headers={"Authorization": f"Bearer {settings.slack_bot_token}"},
            stream=True,
            timeout=timeout,
            allow_redirects=False,
        ) as resp:
            if resp.status_code == 429 or resp.status_code >= 500:
                raise TemporaryFailure(f"{name}: Slack answered HTTP {resp.status_code} to the download; will retry")
            if resp.status_code != 200:
                raise PermanentFailure(
                    f"{name}: Slack answered HTTP {resp.status_code} to the download (deleted, "
                    "or the bot cannot see it)"
                )
            ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
            wanted = str(file.get("mimetype") or "").lower()
            if ctype == "text/html" and wanted != "text/html":
                raise PermanentFailure(
                    f"{name}: Slack served a sign-in page instead of the file: the bot token needs the files:read scope"
                )
            chunks, total = [], 0
            for chunk in resp.iter_content(CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise FileTooLarge(f"{name} is over the limit of {max_bytes} bytes (HELPLINE_SLACK_FILE_MAX_BYTES)")
                chunks.append(chunk)
    except requests.RequestException as exc:
        raise TemporaryFailure(f"{name}: Slack file download failed ({type(exc).__name__}); will retry") from None
    return SlackFile(name, str(file.get("mimetype") or "application/octet-stream"), b"".join(chunks))
