"""The command line as an operator uses it: a subprocess, real files, a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data" / "mail"
ENVELOPE_KEYS = {
    "version",
    "channel",
    "external_id",
    "received_at",
    "sender",
    "reply_to",
    "recipients",
    "author_role",
    "subject",
    "text",
    "full_text",
    "html",
    "attachments",
    "thread",
    "auto_reply",
    "auth",
    "raw_blob_key",
    "warnings",
}


def helpline(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    base.update({"HELPLINE_DATA_DIR": str(tmp_path / "data"), **env})
    return subprocess.run(
        [sys.executable, "-m", "helpline.ingest.cli", *args], env=base, capture_output=True, text=True, timeout=120
    )


def test_inspect_prints_the_envelope_of_every_sample(tmp_path):
    samples = sorted(DATA.glob("*.eml"))
    assert len(samples) >= 10
    for sample in samples:
        out = helpline(tmp_path, "inspect", "email", str(sample), "--json")
        assert out.returncode == 0, (sample.name, out.stderr)
        env = json.loads(out.stdout)
        assert ENVELOPE_KEYS <= set(env), sample.name
        assert {"message_id", "in_reply_to", "references", "ticket_ref", "reply_token"} <= set(env["thread"])


def test_inspect_refuses_what_is_not_an_email(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 4)
    out = helpline(tmp_path, "inspect", "email", str(junk), "--json")
    assert out.returncode == 1
    assert "is not an email" in out.stderr and "Traceback" not in out.stderr


def test_config_masks_secrets(tmp_path):
    out = helpline(
        tmp_path,
        "config",
        "--json",
        HELPLINE_DATABASE_URL="postgresql://app:hunter2@db.internal/helpline",
        HELPLINE_SMTP_RELAY_PASSWORD="relay-secret",
    )
    assert out.returncode == 0, out.stderr
    assert "hunter2" not in out.stdout and "relay-secret" not in out.stdout
    values = json.loads(out.stdout)
    assert values["database_url"] == "postgresql://app:****@db.internal/helpline"
    assert values["smtp_relay_password"] == "********"


def test_secret_from_file(tmp_path):
    secret = tmp_path / "relay_password"
    secret.write_text("from-a-file\n")
    out = helpline(tmp_path, "config", "--json", HELPLINE_SMTP_RELAY_PASSWORD_FILE=str(secret))
    assert json.loads(out.stdout)["smtp_relay_password"] == "********"


def test_bad_setting_is_a_clear_error(tmp_path):
    out = helpline(tmp_path, "config", HELPLINE_MAX_MESSAGE_BYTES="lots")
    assert out.returncode == 2
    assert "HELPLINE_MAX_MESSAGE_BYTES" in out.stderr and "Traceback" not in out.stderr


def test_db_upgrade_is_idempotent_and_tickets_list_works_on_an_empty_desk(tmp_path):
    first = helpline(tmp_path, "db", "upgrade")
    second = helpline(tmp_path, "db", "upgrade")
    from helpline.store.migrations import MIGRATIONS

    assert first.returncode == 0 and f"applied {[v for v, _name, _fn in MIGRATIONS]}" in first.stdout
    assert second.returncode == 0 and "up to date" in second.stdout
    listed = helpline(tmp_path, "tickets", "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    missing = helpline(tmp_path, "tickets", "show", "HL-2026-999999")
    assert missing.returncode == 1 and "no ticket" in missing.stderr
