"""Saving, loading and versioning category models.

A saved model is two files: ``NAME.skops`` (the scikit-learn pipeline in the
skops format: no pickle, and loading refuses any type outside
``TRUSTED_TYPES``) and ``NAME.json`` (metadata: version, labels, training rows
and data hash, held-out metrics, created time, library versions, data
attribution, and the sha256 of the ``.skops`` file, checked on load). A model
trained with the ``embeddings`` extra has a third file, ``NAME.second.skops``
(its second stage, a logistic regression; sha256 in the metadata's
``second_stage`` too).

The model store is a directory (default ``$HELPLINE_DATA_DIR/models``)::

    models/
      v1/model.skops  v1/model.json
      v2/model.skops  v2/model.json
      ACTIVE          "2\\n", replaced atomically by ``activate``

With no ``ACTIVE`` file the packaged default model (``router/models/default.*``,
built by ``helpline model build-default``) is the active one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from helpline.store.storage.files import fsync_dir, write_atomic

from helpline.router.categories.category_model import CategoryModel, SecondStage

MODEL_NAME = "model"
DEFAULT_NAME = "default"
ACTIVE_FILE = "ACTIVE"
PACKAGED_DIR = Path(__file__).resolve().parent.parent / "models"

# skops trusts, by default, only what cannot run code: builtins, numpy and scipy
# containers, and scikit-learn's public estimators. A category model also holds
# the two private classes in which CalibratedClassifierCV keeps its fitted state.
# Anything else named in a file (a function, another library's class) is
# refused before any object is built from the file.
TRUSTED_TYPES: list[str] = [
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._TemperatureScaling",
]


class ModelError(Exception):
    """A model file is missing, damaged or of the wrong kind; the message says which and why."""


class UntrustedModelError(ModelError):
    """The model file contains types outside ``TRUSTED_TYPES``: it is not loaded."""


# ---- files ---------------------------------------------------------------------------------
def model_paths(path: str | Path) -> tuple[Path, Path]:
    """(skops file, metadata file) of a model given as ``X.skops``, ``X.json`` or a directory."""
    p = Path(path)
    if p.suffix in (".skops", ".json"):
        return p.with_suffix(".skops"), p.with_suffix(".json")
    return p / f"{MODEL_NAME}.skops", p / f"{MODEL_NAME}.json"


def second_stage_path(skops_path: Path) -> Path:
    return skops_path.with_name(skops_path.stem + ".second.skops")


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _atomic_write(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half; models are read by other users' workers,
    so the file gets the umask's mode instead of mkstemp's 0600."""
    write_atomic(path, lambda fh: fh.write(data), mode=_umask_mode(), strict=False)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _dump(obj: object, target: Path) -> None:
    import skops.io as sio

    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.fchmod(fd, _umask_mode())
    os.close(fd)
    try:
        sio.dump(obj, tmp, compression=8, compresslevel=9)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model(model: CategoryModel, path: str | Path) -> Path:
    """Write ``model`` as skops + JSON metadata (and its second stage, if any); returns the skops file's path."""
    skops_path, meta_path = model_paths(path)
    skops_path.parent.mkdir(parents=True, exist_ok=True)
    if model.second is not None:
        second_path = second_stage_path(skops_path)
        _dump(model.second.clf, second_path)
        stage = model.meta.setdefault("second_stage", {})
        stage.update(
            {
                "file": second_path.name,
                "sha256": _sha256(second_path),
                "threshold": model.second.threshold,
                "embedder": model.second.embedder,
                "kind": model.second.kind,
                "embedding_weight": model.second.weight,
                "embedding_dim": model.second.dim,
                "blend": model.second.blend,
            }
        )
    # compression keeps the vocabulary (most of the file) small; loading is unaffected in speed
    _dump(model.pipeline, skops_path)
    model.meta["model_file"] = skops_path.name
    model.meta["model_sha256"] = _sha256(skops_path)
    _atomic_write(meta_path, (json.dumps(model.meta, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return skops_path


def read_metadata(path: str | Path) -> dict[str, Any]:
    _, meta_path = model_paths(path)
    try:
        return json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{meta_path}: no metadata file") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{meta_path}: unreadable metadata ({exc})") from None


def untrusted_types(path: str | Path) -> list[str]:
    """Types in a skops file that skops' defaults and ``TRUSTED_TYPES`` do not cover."""
    import skops.io as sio

    skops_path, _ = model_paths(path)
    return sorted(set(sio.get_untrusted_types(file=skops_path)) - set(TRUSTED_TYPES))


def load_model(path: str | Path) -> CategoryModel:
    """Load a model saved by :func:`save_model`, refusing untrusted types and a file that does not
    match its metadata's sha256."""
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    skops_path, _ = model_paths(path)
    if not skops_path.is_file():
        raise ModelError(f"{skops_path}: no such model file")
    meta = read_metadata(path)
    expected = meta.get("model_sha256")
    if expected and _sha256(skops_path) != expected:
        raise ModelError(f"{skops_path}: sha256 differs from its metadata (damaged or replaced)")
    try:
        # One read of the file's object tree: skops' load audits it against the trusted types itself.
        # The separate listing of untrusted types (a second full read, ~0.8 s CPU per process that loads
        # the model, each parser of an import among them) runs only to name them in the refusal.
        pipeline = sio.load(skops_path, trusted=TRUSTED_TYPES)
    except UntrustedTypesFoundException as exc:
        bad = untrusted_types(skops_path)
        raise UntrustedModelError(f"{skops_path}: refusing untrusted types {', '.join(bad) or exc}") from None
    except UntrustedModelError:
        raise
    except Exception as exc:  # a damaged zip, a skops version that cannot read it, ...
        raise ModelError(f"{skops_path}: cannot load ({type(exc).__name__}: {exc})") from None
    second = _load_second_stage(skops_path, meta)
    try:
        return CategoryModel(pipeline, meta, second)
    except (AttributeError, TypeError, IndexError, ValueError) as exc:
        raise ModelError(f"{skops_path}: not a category model ({exc})") from None


def _load_second_stage(skops_path: Path, meta: dict[str, Any]) -> SecondStage | None:
    """The second stage named in the metadata, checked like the first (sha256, trusted types only)."""
    import skops.io as sio

    stage = meta.get("second_stage")
    if not stage:
        return None
    name = str(stage.get("file") or second_stage_path(skops_path).name)
    path = skops_path.parent / name
    if Path(name).name != name or name in (".", "..") or not path.is_file():
        raise ModelError(f"{path}: the second stage named in the metadata is missing")
    if stage.get("sha256") and _sha256(path) != stage["sha256"]:
        raise ModelError(f"{path}: sha256 differs from its metadata (damaged or replaced)")
    bad = sorted(set(sio.get_untrusted_types(file=path)))
    if bad:
        raise UntrustedModelError(f"{path}: refusing untrusted types {', '.join(bad)}")
    try:
        clf = sio.load(path)
        return SecondStage(
            clf,
            float(stage["threshold"]),
            str(stage["embedder"]),
            kind=str(stage.get("kind") or "stack"),  # models saved before the joint kind existed
            weight=float(stage.get("embedding_weight") or 1.0),
            dim=int(stage.get("embedding_dim") or 0),
            blend=float(stage.get("blend") or 0.0),  # models saved before the blend existed: none
        )
    except Exception as exc:  # noqa: BLE001 - damaged zip, wrong object: the model is refused with the reason
        raise ModelError(f"{path}: cannot load the second stage ({type(exc).__name__}: {exc})") from None


def packaged_default_path() -> Path:
    """The default model shipped in the package (``router/models/default.skops``)."""
    return PACKAGED_DIR / f"{DEFAULT_NAME}.skops"


# ---- the store ------------------------------------------------------------------------------
_VERSION_DIR = re.compile(r"^v(\d+)$")


def parse_version(value: str | int) -> int | str:
    """``3``, ``"3"`` or ``"v3"`` -> 3; ``"default"`` stays a string."""
    if isinstance(value, int):
        return value
    text = str(value).strip().lower()
    if text == DEFAULT_NAME:
        return DEFAULT_NAME
    m = re.fullmatch(r"v?(\d+)", text)
    if not m:
        raise ModelError(f"{value!r} is not a model version (e.g. 3, v3, default)")
    return int(m.group(1))


class ModelStore:
    """Numbered model versions in a directory, and the pointer to the active one."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def active_file(self) -> Path:
        return self.root / ACTIVE_FILE

    def path(self, version: int | str) -> Path:
        """The skops file of a version (``default``: the packaged model)."""
        v = parse_version(version)
        if v == DEFAULT_NAME:
            return packaged_default_path()
        return self.root / f"v{v}" / f"{MODEL_NAME}.skops"

    def versions(self) -> list[int]:
        if not self.root.is_dir():
            return []
        out = []
        for child in self.root.iterdir():
            m = _VERSION_DIR.match(child.name)
            if m and (child / f"{MODEL_NAME}.skops").is_file():
                out.append(int(m.group(1)))
        return sorted(out)

    def add(self, model: CategoryModel) -> int:
        """Save ``model`` as the next version (safe when two trainers finish at once); returns it."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".new-", dir=self.root))
        try:
            version = (max(self.versions(), default=0)) + 1
            while True:
                model.meta["version"] = version
                save_model(model, tmp)
                try:
                    os.rename(tmp, self.root / f"v{version}")  # fails if another trainer took the number
                    break
                except OSError:
                    if not (self.root / f"v{version}").exists():
                        raise
                    version += 1
            fsync_dir(self.root, strict=False)
            return version
        except BaseException:
            for f in tmp.glob("*"):
                f.unlink(missing_ok=True)
            tmp.rmdir() if tmp.exists() else None
            raise

    def active_version(self) -> int | None:
        """The activated version, or None when the packaged default is active."""
        try:
            text = self.active_file.read_text().strip()
        except FileNotFoundError:
            return None
        if not text or text == DEFAULT_NAME:
            return None
        v = parse_version(text)
        return v if isinstance(v, int) else None

    def active_path(self) -> Path:
        v = self.active_version()
        return packaged_default_path() if v is None else self.path(v)

    def activate(self, version: int | str) -> int | str:
        """Point ``ACTIVE`` at a version after checking that it loads; ``default`` returns to the packaged model."""
        v = parse_version(version)
        path = self.path(v)
        load_model(path)  # refuse a version that workers could not load
        _atomic_write(self.active_file, f"{v}\n".encode())
        return v

    def list(self) -> list[dict[str, Any]]:
        """One summary per version, plus the packaged default, with the active one marked."""
        active = self.active_version()
        rows = []
        entries: list[tuple[int | str, Path]] = [(DEFAULT_NAME, packaged_default_path())]
        entries += [(v, self.path(v)) for v in self.versions()]
        for v, path in entries:
            if not path.is_file():
                continue
            try:
                meta = read_metadata(path)
            except ModelError as exc:
                meta = {"error": str(exc)}
            held = meta.get("held_out_metrics") or meta.get("test_metrics") or {}
            rows.append(
                {
                    "version": v,
                    "active": (v == active) if active is not None else v == DEFAULT_NAME,
                    "created_at": meta.get("created_at"),
                    "labels": len(meta.get("labels") or ()),
                    "training_rows": meta.get("training_rows"),
                    "accuracy": held.get("accuracy"),
                    "macro_f1": held.get("macro_f1"),
                    "source": meta.get("source"),
                    "gate": (meta.get("gate") or {}).get("reason"),
                    "path": str(path),
                }
            )
        return rows
