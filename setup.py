"""Package discovery for the ``helpline.*`` mapping; everything else is in pyproject.toml.

Each code folder is installed as ``helpline.<folder>`` (package-dir in
pyproject.toml). Every folder below it that holds Python files is found here,
with or without an ``__init__.py``, so a new one cannot silently drop out of
the wheel (tests/packaging/test_wheel.py checks it).
"""

from pathlib import Path

from setuptools import setup

ROOTS = ("ingest", "workers", "router", "notifier", "store")


def helpline_packages() -> list[str]:
    found = []
    for root in ROOTS:
        for folder in [Path(root), *sorted(Path(root).rglob("*"))]:
            if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.py")):
                found.append(".".join(("helpline", *folder.parts)))
    return found


setup(packages=helpline_packages())
