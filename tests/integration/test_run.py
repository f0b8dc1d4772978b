"""`helpline run`, the embedded all-in-one, as the issue's check uses it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil

from helpline.ingest.tools.relay_sink import RelaySink
from tests.support.mail import make_mail
from tests.support.stack import free_port, wait_until


def test_run_embedded_end_to_end_and_clean_stop(tmp_path):
    sink = RelaySink().start()
    smtp_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELPLINE_", "PROMETHEUS_"))}
    env.update(
        {
            "HELPLINE_DATA_DIR": str(tmp_path / "data"),
            "HELPLINE_SUPPORT_ADDRESSES": "support@example.com",
            "HELPLINE_SMTP_RELAY": sink.address,
            "HELPLINE_SMTP_LISTEN": f"127.0.0.1:{smtp_port}",
            "HELPLINE_HTTP_LISTEN": f"127.0.0.1:{free_port()}",
            "HELPLINE_ADMIN_LISTEN": f"127.0.0.1:{free_port()}",
        }
    )
    log = open(tmp_path / "run.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "helpline.ingest.cli", "run"], env=env, stdout=log, stderr=log)
    try:
        import smtplib

        def smtp_up() -> bool:
            try:
                with smtplib.SMTP("127.0.0.1", smtp_port, timeout=2):
                    return True
            except OSError:
                return False

        wait_until(smtp_up, 60, what="helpline run to listen")
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as conn:
            conn.sendmail("alice@example.org", ["support@example.com"], make_mail()[0])
        ack = sink.wait_for(1, 60)[0].message()
        number = ack["X-Helpline-Ticket"]
        shown = subprocess.run(
            [sys.executable, "-m", "helpline.ingest.cli", "tickets", "show", number, "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["number"] == number
        assert (tmp_path / "data" / "secret_key").exists()  # generated on first run
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 4  # redis, ingest, worker(s), scheduler
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(90)
        sink.stop()
    assert code == 0
    time.sleep(0.5)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    text = (tmp_path / "run.log").read_text()
    assert "Helpline is running" in text
    assert (tmp_path / "data" / "secret_key").read_text().strip() not in text  # never logged
