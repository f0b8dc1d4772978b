"""The signing example of deploy/README.md, run as written (bash, openssl, curl) against the API."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from helpline.store import models as m

from .support import SHOP_SECRET

README = Path(__file__).resolve().parents[2] / "deploy" / "README.md"


def example() -> str:
    text = README.read_text()
    after = text.split("Sign and send a message:", 1)[1]
    return after.split("```sh\n", 1)[1].split("```", 1)[0]


def test_the_documented_curl_and_openssl_example_works(server, tmp_path):
    for tool in ("bash", "curl", "openssl"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing (Debian packages bash, curl, openssl)")
    script = example()
    assert "HELPLINE=https://help.example.com\n" in script
    (tmp_path / "shop.secret").write_text(SHOP_SECRET + "\n")
    run = subprocess.run(
        [
            "bash",
            "-euo",
            "pipefail",
            "-c",
            script.replace("HELPLINE=https://help.example.com", f"HELPLINE={server.url}"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer["status"] == "accepted"
    row = m.Inbound.get_by_id(answer["inbound_id"])
    assert row.external_id == "shop:chat-99-msg-1"
    assert row.envelope["thread"]["conversation_id"] == "shop:chat-99"
    assert row.envelope["metadata"]["fields"] == {"order": "4711"}
