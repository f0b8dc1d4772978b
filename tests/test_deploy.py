"""The files in deploy/: systemd units, the environment file example, the TOML
sample and the operator docs.

The units are checked by systemd itself (``systemd-analyze verify`` and the
offline ``security`` review); a machine without ``systemd-analyze`` fails these
tests (Debian package ``systemd``), it never skips them.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from helpline.store import config

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
INSTALLED = "/opt/helpline/venv/bin/helpline"
ENV_FILE = "/etc/helpline/helpline.env"

SERVICES = {
    "helpline-ingest.service": "ingest",
    "helpline-worker@.service": "worker",
    "helpline-scheduler.service": "scheduler",
}
UNIT_FILES = [*SERVICES, "helpline.target"]

FIELDS = {f.name: f for f in dataclasses.fields(config.Settings)}
SETTING_NAMES = {"HELPLINE_" + name.upper(): name for name in FIELDS}
NAME_RE = re.compile(r"\bHELPLINE_[A-Z0-9_]+\b")

# Hardening every service carries: key -> required value.
HARDENING = {
    "User": "helpline",
    "Group": "helpline",
    "StateDirectory": "helpline",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "NoNewPrivileges": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "SystemCallArchitectures": "native",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
}


# ---- helpers -----------------------------------------------------------------


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """section -> key -> all values in order (systemd allows repeated keys)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: {raw!r} outside a section"
        assert not line.endswith("\\"), f"{path.name}: keep {raw!r} on one line"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not key=value: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def systemd_analyze() -> str:
    exe = shutil.which("systemd-analyze") or (
        "/usr/bin/systemd-analyze" if Path("/usr/bin/systemd-analyze").exists() else None
    )
    if exe is None:
        pytest.fail("systemd-analyze is missing: install the Debian package 'systemd' (.ci/run)")
    return exe


def stand_in_executable() -> str:
    """An executable that exists here, to stand in for the production path."""
    venv_helpline = Path(sys.executable).parent / "helpline"
    return str(venv_helpline) if venv_helpline.exists() else "/bin/true"


@pytest.fixture
def unit_dir(tmp_path: Path) -> Path:
    """The units copied to a temporary directory, with the one thing this test
    machine cannot have rewritten: the production install path of the
    ``helpline`` executable (verify checks that ExecStart*= binaries exist).
    Nothing else is changed; User=helpline need not exist for verify."""
    stand_in = stand_in_executable()
    for name in UNIT_FILES:
        text = (DEPLOY / name).read_text()
        if name in SERVICES:
            assert INSTALLED in text, f"{name} does not run {INSTALLED}"
        (tmp_path / name).write_text(text.replace(INSTALLED, stand_in))
    return tmp_path


def env_lines() -> list[str]:
    return (DEPLOY / "helpline.env.example").read_text().splitlines()


ASSIGN_RE = re.compile(r"^(#?)(HELPLINE_[A-Z0-9_]+)=(.*)$")


def env_assignments() -> list[tuple[bool, str, str, int]]:
    """(active, NAME, value, line index) of each HELPLINE_ line, commented or not."""
    out = []
    for i, line in enumerate(env_lines()):
        m = ASSIGN_RE.match(line)
        if m:
            out.append((m.group(1) == "", m.group(2), m.group(3), i))
    return out


def setting_of(env_name: str) -> str | None:
    """Settings field behind HELPLINE_NAME or HELPLINE_NAME_FILE."""
    if env_name in SETTING_NAMES:
        return SETTING_NAMES[env_name]
    if env_name.endswith("_FILE") and env_name[: -len("_FILE")] in SETTING_NAMES:
        return SETTING_NAMES[env_name[: -len("_FILE")]]
    return None


# ---- systemd's own checks ------------------------------------------------------


@pytest.mark.parametrize(
    "unit",
    [
        "helpline-ingest.service",
        "helpline-worker@1.service",
        "helpline-worker@.service",
        "helpline-scheduler.service",
        "helpline.target",
    ],
)
def test_systemd_analyze_verify(unit_dir: Path, unit: str) -> None:
    exe = systemd_analyze()
    proc = subprocess.run(
        [exe, "verify", "--man=no", f"./{unit}"],
        cwd=unit_dir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = (proc.stdout + proc.stderr).strip()
    # verify exits 0 on mere warnings (an unknown key, a bad value it ignores):
    # any output at all is a finding.
    assert proc.returncode == 0 and output == "", f"systemd-analyze verify {unit}:\n{output}"


@pytest.mark.parametrize("unit", ["helpline-ingest.service", "helpline-worker@1.service", "helpline-scheduler.service"])
def test_systemd_security_exposure(unit_dir: Path, unit: str) -> None:
    """systemd's own hardening review rates each service 2.0 or better (0 best, 10 worst)."""
    exe = systemd_analyze()
    proc = subprocess.run(
        [exe, "security", "--offline=yes", "--threshold=20", "--no-pager", f"./{unit}"],
        cwd=unit_dir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"{unit} is exposed above 2.0:\n{proc.stdout[-3000:]}{proc.stderr}"


# ---- the unit files, statically --------------------------------------------------


@pytest.mark.parametrize("name", list(SERVICES))
def test_service_basics(name: str) -> None:
    unit = parse_unit(DEPLOY / name)
    service, install, head = unit["Service"], unit["Install"], unit["Unit"]
    assert ENV_FILE in service["EnvironmentFile"]
    assert service["ExecStart"] == [f"{INSTALLED} {SERVICES[name]}"]
    assert service["Restart"] == ["on-failure"]
    assert service["KillSignal"] == ["SIGTERM"]
    assert service["KillMode"] == ["mixed"]
    assert "TimeoutStopSec" in service
    assert head["PartOf"] == ["helpline.target"]
    assert install["WantedBy"] == ["helpline.target"]
    # The data directory default the env file may override.
    assert "HELPLINE_DATA_DIR=/var/lib/helpline" in service["Environment"]


@pytest.mark.parametrize("name", list(SERVICES))
def test_service_hardening(name: str) -> None:
    service = parse_unit(DEPLOY / name)["Service"]
    for key, value in HARDENING.items():
        assert key in service, f"{name}: {key}= missing"
        assert service[key][-1] == value, f"{name}: {key}={service[key][-1]!r}, expected {value!r}"
    assert "@system-service" in service["SystemCallFilter"]


def test_ingest_is_notify_with_watchdog() -> None:
    service = parse_unit(DEPLOY / "helpline-ingest.service")["Service"]
    assert service["Type"] == ["notify"]
    assert service["NotifyAccess"] == ["main"]
    assert service["WatchdogSec"] == ["30s"]
    # Migrations before start, with "-": a database outage must not keep the
    # daemon (and its spool) from starting.
    assert service["ExecStartPre"] == [f"-{INSTALLED} db upgrade"]


@pytest.mark.parametrize("name,watchdog", [("helpline-worker@.service", "30s"), ("helpline-scheduler.service", "60s")])
def test_worker_and_scheduler_are_notify_with_watchdog(name: str, watchdog: str) -> None:
    service = parse_unit(DEPLOY / name)["Service"]
    assert service["Type"] == ["notify"]
    assert service["NotifyAccess"] == ["main"]
    assert service["WatchdogSec"] == [watchdog]


def test_port_25_is_documented_in_the_ingest_unit() -> None:
    text = (DEPLOY / "helpline-ingest.service").read_text()
    assert "#   AmbientCapabilities=CAP_NET_BIND_SERVICE" in text
    assert "#   CapabilityBoundingSet=CAP_NET_BIND_SERVICE" in text
    assert "127.0.0.1:2525" in text


def test_worker_is_a_template() -> None:
    unit = parse_unit(DEPLOY / "helpline-worker@.service")
    assert unit["Install"]["DefaultInstance"] == ["1"]
    assert "%i" in unit["Service"]["SyslogIdentifier"][0]
    assert "-/etc/helpline/worker-%i.env" in unit["Service"]["EnvironmentFile"]


def test_target_wants_the_three() -> None:
    unit = parse_unit(DEPLOY / "helpline.target")
    wants = " ".join(unit["Unit"]["Wants"]).split()
    assert sorted(wants) == ["helpline-ingest.service", "helpline-scheduler.service", "helpline-worker@1.service"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_units_mention_only_real_settings() -> None:
    for name in UNIT_FILES:
        for env_name in NAME_RE.findall((DEPLOY / name).read_text()):
            assert setting_of(env_name), f"{name} mentions {env_name}, which is no setting in helpline.store.config"


def test_load_credential_example() -> None:
    text = (DEPLOY / "helpline-ingest.service").read_text()
    assert "#LoadCredential=secret_key:" in text
    assert "#Environment=HELPLINE_SECRET_KEY_FILE=%d/secret_key" in text


# ---- helpline.env.example ----------------------------------------------------------


def test_env_example_covers_every_setting() -> None:
    mentioned = {setting_of(name) for _, name, _, _ in env_assignments()}
    missing = sorted("HELPLINE_" + f.upper() for f in FIELDS if f not in mentioned)
    assert not missing, f"helpline.env.example lacks {missing}"


def test_env_example_names_are_real_settings() -> None:
    for _, name, _, i in env_assignments():
        assert setting_of(name), f"line {i + 1}: {name} is no setting in helpline.store.config"
    for i, line in enumerate(env_lines()):
        for name in NAME_RE.findall(line):
            assert setting_of(name), f"line {i + 1}: {name} is no setting in helpline.store.config"


def test_env_example_syntax_suits_systemd_and_sh() -> None:
    for i, line in enumerate(env_lines()):
        if not line or line.startswith("#") and not ASSIGN_RE.match(line):
            continue
        m = ASSIGN_RE.match(line)
        assert m, f"line {i + 1}: not a comment and not HELPLINE_NAME=value: {line!r}"
        assert not re.search(r"[\s'\"#$`\\;&|<>()]", m.group(3)), f"line {i + 1}: value needs quoting: {line!r}"


def test_env_example_states_the_real_defaults() -> None:
    lines = env_lines()
    seen: set[str] = set()
    for _, name, _, i in env_assignments():
        field_name = setting_of(name)
        if field_name in seen:
            continue
        seen.add(field_name)
        # The comment block right above the first assignment carries [default: ...].
        block = []
        j = i - 1
        while j >= 0 and lines[j].startswith("#") and not ASSIGN_RE.match(lines[j]):
            block.append(lines[j])
            j -= 1
        doc = [line for line in block if "[default:" in line]
        assert len(doc) == 1, f"{name}: need exactly one [default: ...] in the comment above it"
        m = re.search(r"\[default: (.*)\]\s*$", doc[0])
        assert m, f"{name}: [default: ...] must end its line"
        f = FIELDS[field_name]
        if f.default is dataclasses.MISSING:  # computed at run time (data_dir)
            continue
        stated = "" if m.group(1) == '""' else m.group(1)
        env_name = "HELPLINE_" + field_name.upper()
        assert getattr(config.load({env_name: stated}), field_name) == f.default, (
            f"{env_name}: the example says the default is {m.group(1)}, config.py says {f.default!r}"
        )


def test_env_example_values_are_valid(tmp_path: Path) -> None:
    """The active lines load as they stand (secret files stood in by temp files),
    and each commented example value is one the setting accepts."""
    stand_ins = {
        "secret_key": "an-example-signing-key",
        "smtp_relay_password": "an-example-password",
        "database_url": "postgresql://helpline@db.internal/helpline",
        "broker_url": "redis://redis.internal:6379/0",
        "config_file": "# the TOML file: read at start-up for its [[webhooks.sources]]",
    }
    env: dict[str, str] = {}
    for active, name, value, _ in env_assignments():
        if name.endswith("_FILE"):
            field_name = setting_of(name)
            path = tmp_path / field_name
            path.write_text(stand_ins.get(field_name, "x") + "\n")
            if active:
                env[name] = str(path)
            else:
                config.load({name: str(path)})
            continue
        if active:
            env[name] = value
        else:
            config.load({name: value})
    settings = config.load(env)
    assert settings.data_dir == "/var/lib/helpline"
    assert settings.database_url.startswith("postgresql://")
    assert settings.broker_url.startswith("redis://")
    assert settings.secret_key == ("an-example-signing-key",)


def test_env_example_holds_no_literal_secret() -> None:
    for active, name, value, i in env_assignments():
        field_name = setting_of(name)
        if name.endswith("_FILE") or field_name not in config.SECRET_FIELDS:
            continue
        if field_name in ("database_url", "broker_url"):
            assert urlsplit(value).password is None, f"line {i + 1}: put a URL with a password in a _FILE"
        else:
            assert not active, f"line {i + 1}: give {name} as {name}_FILE"


# ---- helpline.toml.example and README ---------------------------------------------


def test_toml_example_parses() -> None:
    text = (DEPLOY / "helpline.toml.example").read_text()
    data = tomllib.loads(text)
    assert {"templates_dir", "business_hours", "teams", "routing", "sla"} <= set(data)
    # every section is read now (the templates directory since the HTML templates)
    assert "not read yet" not in text
    from helpline.store.siteconfig.config_file import parse

    assert parse(text).templates_dir == data["templates_dir"] == "/etc/helpline/templates"


def test_toml_example_channel_tables_are_valid(tmp_path: Path) -> None:
    """The commented [[imap.accounts]] and [[webhooks.sources]] examples, uncommented, are accepted."""
    from helpline.ingest.channels.imap_accounts import toml_accounts
    from helpline.store.siteconfig.config_file import parse, webhook_sources

    text = (DEPLOY / "helpline.toml.example").read_text()
    lines = [ln[1:] if re.match(r"^#(\[|\w+ = )", ln) else ln for ln in text.splitlines()]
    uncommented = "\n".join(lines).replace("/etc/helpline/credentials/imap_support", str(tmp_path / "pw"))
    (tmp_path / "pw").write_text("secret\n")
    data = tomllib.loads(uncommented)
    assert [a.key for a in toml_accounts("example", data)] == [
        "support@example.com@imap.example.com:993/INBOX",
        "support@example.com@imap.example.com:993/Sales",
        "help@mail.example.org:993/INBOX",
    ]
    assert [s.name for s in webhook_sources("example", data, read_files=False)] == ["shop"]
    parse(uncommented, "example")  # and the file as a whole


def test_readme_covers_the_files_and_real_settings() -> None:
    text = (DEPLOY / "README.md").read_text()
    for name in [*UNIT_FILES, "helpline.env.example", "helpline.toml.example"]:
        assert name in text, f"README.md does not mention {name}"
    for env_name in NAME_RE.findall(text):
        assert setting_of(env_name), f"README.md mentions {env_name}, which is no setting"
    flat = " ".join(text.replace("*", "").split())
    for phrase in (
        "Redis Cluster",
        "relay_recipient_maps",
        "message_size_limit",
        "pg_dump",
        ".backup",
        "/healthz",
        "/readyz",
        "/metrics",
        "451",
        "appendonly yes",
    ):
        assert phrase in flat, f"README.md does not cover {phrase!r}"


def test_deploy_holds_no_code() -> None:
    code = [
        p.name for p in DEPLOY.rglob("*") if p.suffix in (".py", ".sh") or (p.is_file() and p.stat().st_mode & 0o111)
    ]
    assert not code, f"deploy/ holds code or executables: {code}"


def test_every_setting_is_documented_in_the_operator_readme() -> None:
    """deploy/README.md's settings table is what `helpline config --reference` prints now."""
    from helpline.ingest.cli.config_check import reference

    text = (DEPLOY / "README.md").read_text()
    block = text.split("<!-- settings:begin -->\n", 1)[1].split("<!-- settings:end -->", 1)[0]
    assert block == reference(), "run `helpline config --reference` and paste it into deploy/README.md"
