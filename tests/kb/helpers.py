"""Knowledge folders written on the fly, and a sync against the test's blob store."""

from __future__ import annotations

import textwrap
from pathlib import Path

from helpline.ingest.knowledge.kb_sync import SyncReport, sync
from helpline.store.storage import blobs

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def article(title: str, questions: list[str] | None = None, body: str = "Body.", **meta: object) -> str:
    lines = ["---", f"title: {title}"]
    for k, v in meta.items():
        lines.append(f"{k}: {v}")
    if questions:
        lines.append("questions:")
        lines += [f"  - {q}" for q in questions]
    lines.append("---")
    return "\n".join(lines) + "\n" + textwrap.dedent(body) + "\n"


def write(root: Path, rel: str, text: str | bytes) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    (p.write_bytes if isinstance(text, bytes) else p.write_text)(text)  # type: ignore[operator]
    return p


def run_sync(settings, root: Path) -> SyncReport:  # noqa: ANN001
    return sync(root, blobs.open_store(settings.blob_backend, settings.effective_blob_dir).put)
