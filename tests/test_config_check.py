"""A configuration error stops `helpline run` before anything starts, with one line naming what is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from helpline.ingest.cli import config_check
from helpline.ingest.runner import CONFIG_ERROR_EXIT, Supervisor
from helpline.store import config


def _run(tmp_path, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    base.update(HELPLINE_DATA_DIR=str(tmp_path / "data"), **env)
    return subprocess.run(
        [sys.executable, "-m", "helpline.ingest.cli", *args], env=base, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize(
    "env,names",
    [
        ({"HELPLINE_SMTP_LISTEN": "nowhere:port"}, "HELPLINE_SMTP_LISTEN"),
        ({"HELPLINE_BROKER_URL": "htp://redis:6379"}, "HELPLINE_BROKER_URL"),
        ({"HELPLINE_DATABASE_URL": "postgresql://db:notaport/x"}, "HELPLINE_DATABASE_URL"),
        ({"HELPLINE_IMAP_ACCOUNTS": "imaps://u:secret@imap.example.com:99999999/INBOX"}, "HELPLINE_IMAP_ACCOUNTS"),
        ({"HELPLINE_WORKER_PROCESSES": "two"}, "HELPLINE_WORKER_PROCESSES"),
    ],
)
def test_run_refuses_a_bad_setting_before_starting_anything(tmp_path, env, names):
    out = _run(tmp_path, "run", **env)
    assert out.returncode == CONFIG_ERROR_EXIT, out.stderr
    assert "Helpline is running" not in out.stdout
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and names in lines[0], out.stderr  # one line, no traceback
    assert "Traceback" not in out.stderr and "secret" not in out.stderr


def test_a_broken_toml_file_names_its_key(tmp_path):
    cfg = tmp_path / "helpline.toml"
    cfg.write_text('[[teams]]\nname = "billing"\n[[teams]]\nname = 5\n')
    out = _run(tmp_path, "config", "--check", HELPLINE_CONFIG_FILE=str(cfg))
    assert out.returncode == CONFIG_ERROR_EXIT
    assert "teams" in out.stderr and "name" in out.stderr and "Traceback" not in out.stderr


def test_unknown_variables_get_the_nearest_known_name():
    warnings = config_check.unknown_variables(
        {
            "HELPLINE_SMTP_LISTN": "x",
            "HELPLINE_SMTP_LISTEN": "y",
            "HELPLINE_TOTALLY_ELSE": "z",
            "HELPLINE_TEST_PG": "t",
            "PATH": "/",
        }
    )
    assert warnings == [
        "HELPLINE_SMTP_LISTN is not a Helpline setting; did you mean HELPLINE_SMTP_LISTEN?",
        "HELPLINE_TOTALLY_ELSE is not a Helpline setting",
    ]


def test_config_check_prints_warnings_and_passes_a_good_configuration(tmp_path):
    out = _run(tmp_path, "config", "--check", HELPLINE_SUPORT_ADDRESSES="a@example.com")
    assert out.returncode == 0, out.stderr
    assert "did you mean HELPLINE_SUPPORT_ADDRESSES?" in out.stdout
    assert "configuration ok" in out.stdout


def test_a_child_that_exits_on_a_configuration_error_is_not_restarted(tmp_path):
    sup = Supervisor(config.Settings(data_dir=str(tmp_path)))
    argv = [sys.executable, "-c", f"raise SystemExit({CONFIG_ERROR_EXIT})"]
    sup.spawn("ingest", argv)
    started = time.monotonic()
    assert sup.loop({"ingest": argv}) == CONFIG_ERROR_EXIT
    assert time.monotonic() - started < 10
    assert sup.children["ingest"].returncode == CONFIG_ERROR_EXIT  # the same child: never spawned again
