"""The nightly backup units pass systemd's own checks and run the command the README describes."""

from __future__ import annotations

import subprocess

from ..test_deploy import DEPLOY, INSTALLED, parse_unit, stand_in_executable, systemd_analyze


def test_backup_timer_and_service_verify(tmp_path):
    for name in ("helpline-backup.service", "helpline-backup.timer"):
        (tmp_path / name).write_text((DEPLOY / name).read_text().replace(INSTALLED, stand_in_executable()))
    for name in ("helpline-backup.service", "helpline-backup.timer"):
        proc = subprocess.run(
            [systemd_analyze(), "verify", "--man=no", f"./{name}"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        out = (proc.stdout + proc.stderr).strip()
        assert proc.returncode == 0 and out == "", f"{name}:\n{out}"


def test_backup_service_rotates_and_takes_the_passphrase_as_a_credential():
    service = parse_unit(DEPLOY / "helpline-backup.service")["Service"]
    assert service["ExecStart"] == [f"{INSTALLED} backup --out-dir /var/backups/helpline --keep 14"]
    assert "HELPLINE_BACKUP_PASSPHRASE_FILE=%d/backup_passphrase" in service["Environment"]
    assert service["Type"] == ["oneshot"] and "/var/backups/helpline" in service["ReadWritePaths"]
    timer = parse_unit(DEPLOY / "helpline-backup.timer")["Timer"]
    assert timer["Persistent"] == ["true"] and timer["Unit"] == ["helpline-backup.service"]
