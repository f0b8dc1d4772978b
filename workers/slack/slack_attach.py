"""Files an agent attached to a Slack reply: fetched before the pipeline's transaction.

Downloading takes seconds and SQLite has one writer for the whole desk, so the
files are fetched in ``pipeline.prepare`` (outside the write lock) and put in
the content-addressed blob store; a re-run after a crash fetches again and
stores nothing new. A file that cannot be had for good (over
HELPLINE_SLACK_FILE_MAX_BYTES, deleted, a sign-in page) is reported, not
fatal: the reply goes without it and the thread says why. Slack being
unreachable raises, so the inbound row is retried and the reply waits for its
files rather than leaving without them.
"""

from __future__ import annotations

from typing import Any

from helpline.notifier.slack import slack_files
from helpline.notifier.errors import PermanentFailure
from helpline.store.storage import blobs
from helpline.store.config import Settings
from helpline.store.envelope import Envelope


def wants_files(env: Envelope) -> bool:
    return (
        env.channel == "slack"
        and env.author_role == "agent"
        and env.metadata.get("event") == "posted"
        and bool(env.metadata.get("files"))
    )


def fetch_agent_files(env: Envelope, settings: Settings, store: blobs.BlobStore | None = None) -> list[dict[str, Any]]:
    """One entry per file: ``{name, content_type, blob_key, size}`` when stored, ``{name, error}`` when refused."""
    store = store or blobs.open_store(settings.blob_backend, settings.effective_blob_dir)
    out: list[dict[str, Any]] = []
    for file in env.metadata.get("files") or []:
        name = str(file.get("name") or "file")[:200]
        try:
            got = slack_files.download(file, settings, max_bytes=settings.slack_file_max_bytes)
        except PermanentFailure as exc:
            out.append({"name": name, "error": str(exc)})
            continue
        out.append({"name": name, "content_type": got.mimetype, "blob_key": store.put(got.data), "size": len(got.data)})
    return out
