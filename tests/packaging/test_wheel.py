"""The wheel holds every code folder under its helpline.* name, and the installed command runs from it.

An editable install finds any module on disk, so a sub-package left out of the
package list works in development and breaks the wheel; this builds the real
wheel and installs it, without the source tree, into a virtual environment.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CODE = ("ingest", "workers", "router", "notifier", "store")
SAMPLE = ROOT / "tests" / "data" / "mail" / "apple_mail.eml"


def _python_folders() -> set[str]:
    """helpline.* names of every folder of the source tree that holds Python files."""
    out = set()
    for root in CODE:
        for folder in [ROOT / root, *(ROOT / root).rglob("*")]:
            if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.py")):
                out.add("/".join(("helpline", *folder.relative_to(ROOT).parts)))
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    for root in CODE:
        shutil.copytree(ROOT / root, src / root, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)], check=True, timeout=300
    )
    [built] = out.glob("helpline-*.whl")
    return built


def test_every_folder_with_python_files_is_in_the_wheel(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    folders = {n.rsplit("/", 1)[0] for n in names if n.endswith(".py")}
    assert _python_folders() - folders == set()
    assert "helpline/store/migrations/v001_initial.py" in names
    assert any(n.startswith("helpline/notifier/templates/") and not n.endswith(".py") for n in names)
    assert any(n.startswith("helpline/router/models/") for n in names)
    # the embeddings extra's model files and the Spanish sentiment lexicon ship inside the wheel
    for data in (
        "models/embeddings/model.onnx",
        "models/embeddings/tokenizer.json",
        "models/embeddings/model.json",
        "models/embeddings/LICENSE",
        "models/embeddings/NOTICE.md",
        "models/es-sentiment.csv",
    ):
        assert f"helpline/router/{data}" in names, data
    assert not any(n.startswith(("tests/", "helpline/tests/")) for n in names)


def test_the_installed_wheel_runs_helpline(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    bin_dir = venv / "bin"
    # The dependencies live in this test's environment, not the system's: make them visible to the new
    # environment by path (a path added this way does not run its .pth files, so this environment's
    # editable helpline stays out).
    [purelib] = [p for p in (venv / "lib").glob("python*/site-packages")]
    (purelib / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=300,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELPLINE_", "PYTHON"))}
    env["HELPLINE_DATA_DIR"] = str(tmp_path / "data")
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import helpline.store.migrations as m; print(m.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip().startswith(str(purelib)), where.stdout  # the wheel's copy, not the source tree
    helped = subprocess.run(
        [str(bin_dir / "helpline"), "--help"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert helped.returncode == 0, helped.stderr
    assert "inspect" in helped.stdout
    inspected = subprocess.run(
        [str(bin_dir / "helpline"), "inspect", "email", str(SAMPLE), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert inspected.returncode == 0, inspected.stderr
    assert '"channel": "email"' in inspected.stdout or '"channel":"email"' in inspected.stdout
