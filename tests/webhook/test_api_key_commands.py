"""``helpline api-keys`` as an operator runs it (a subprocess on the test's database),
and the key it prints used against the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpline.store.access import api_keys

from .support import message, post_bearer


def helpline(settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    base.update(
        {"HELPLINE_DATA_DIR": settings.data_dir, "HELPLINE_DATABASE_URL": settings.effective_database_url, **env}
    )
    return subprocess.run(
        [sys.executable, "-m", "helpline.ingest.cli", *args], env=base, capture_output=True, text=True, timeout=120
    )


def test_create_list_revoke_and_use(server):
    settings = server.settings
    made = helpline(settings, "api-keys", "create", "--name", "chat-widget", "--scope", "ingest")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("hlk_") and "\n" not in key  # stdout is the key alone
    assert "shown this once" in made.stderr

    listed = helpline(settings, "api-keys", "list", "--json")
    (row,) = json.loads(listed.stdout)
    assert (row["name"], row["scopes"], row["last_used_at"], row["revoked_at"]) == (
        "chat-widget",
        ["ingest"],
        None,
        None,
    )
    assert key.startswith(row["prefix"]) and key not in listed.stdout

    assert post_bearer(server, message(), key).status_code == 202
    assert json.loads(helpline(settings, "api-keys", "list", "--json").stdout)[0]["last_used_at"]

    revoked = helpline(settings, "api-keys", "revoke", str(row["id"]))
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert post_bearer(server, message(text="after revoking"), key).status_code == 401
    assert json.loads(helpline(settings, "api-keys", "list", "--json").stdout) == []
    (gone,) = json.loads(helpline(settings, "api-keys", "list", "--all", "--json").stdout)
    assert gone["revoked_at"]
    assert "already revoked" in helpline(settings, "api-keys", "revoke", str(row["id"])).stdout


def test_bad_requests_say_what_to_do(backend):
    bad_scope = helpline(backend, "api-keys", "create", "--name", "x", "--scope", "root")
    assert (
        bad_scope.returncode == 2
        and "unknown scope root; known scopes: admin, ingest, pii, read, write" in bad_scope.stderr
    )
    missing = helpline(backend, "api-keys", "revoke", "999")
    assert missing.returncode == 1 and "no API key with id 999" in missing.stderr
    assert "Traceback" not in bad_scope.stderr + missing.stderr
    assert api_keys.ApiKey.select().count() == 0


def test_config_masks_the_webhook_secrets(backend):
    out = helpline(
        backend, "config", "--json", HELPLINE_WEBHOOK_SOURCES="shop=very-secret-value-123456", HELPLINE_SECRET_KEY="k"
    )
    assert out.returncode == 0, out.stderr
    assert "very-secret-value" not in out.stdout
    assert json.loads(out.stdout)["webhook_sources"] == "********"
