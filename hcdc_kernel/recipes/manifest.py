"""The manifest of a Python recipe run: ``manifest.json`` beside its products.

It says what ran (recipe, version, parameters, inputs with their roles), how
it ended (``ok`` or ``error`` with a message), what it wrote (products with
their category and QC values), with which software, and when.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

__all__ = ["MANIFEST_NAME", "InputRecord", "Manifest", "ManifestStatus", "ProductEntry"]

MANIFEST_NAME = "manifest.json"

ManifestStatus = Literal["ok", "error"]


@dataclass(frozen=True)
class ProductEntry:
    """A file the recipe wrote: path, product category and QC values."""

    path: str
    category: str
    qc: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InputRecord:
    """An input file and the role it played (``SCIENCE``, ``PSF``...)."""

    path: str
    role: str


def _jsonable(value: Any) -> Any:
    """Plain JSON values (numpy scalars and arrays, paths, tuples) for the manifest."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist") and callable(value.tolist):
        return value.tolist()
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value


@dataclass(frozen=True)
class Manifest:
    """What one run of an hci recipe did.

    Attributes
    ----------
    recipe, version : str
        Recipe name and version.
    status : {"ok", "error"}
        How the run ended.
    error : str or None
        Why it failed (None when it succeeded).
    params : Mapping
        Parameters as resolved (defaults included), or as given when they
        could not be resolved.
    inputs : tuple of InputRecord
        Input files and their roles.
    products : tuple of ProductEntry
        Products written (none when the run failed).
    qc : Mapping
        QC values of the run.
    software : Mapping[str, str]
        Versions of Python and the science packages.
    started, ended : datetime
        Start and end (UTC).
    log : str
        Path of the run's log file.
    """

    recipe: str
    version: str
    status: ManifestStatus
    error: str | None
    params: Mapping[str, Any]
    inputs: tuple[InputRecord, ...]
    products: tuple[ProductEntry, ...]
    qc: Mapping[str, Any]
    software: Mapping[str, str]
    started: datetime
    ended: datetime
    log: str = ""

    @property
    def duration_s(self) -> float:
        """Run time in seconds."""
        return (self.ended - self.started).total_seconds()

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def product(self, category: str) -> ProductEntry:
        """The first product of ``category``; KeyError when there is none."""
        for entry in self.products:
            if entry.category == category:
                return entry
        raise KeyError(category)

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = _jsonable(
            {
                "recipe": self.recipe,
                "version": self.version,
                "status": self.status,
                "error": self.error,
                "params": dict(self.params),
                "inputs": [{"path": i.path, "role": i.role} for i in self.inputs],
                "products": [
                    {"path": p.path, "category": p.category, "qc": dict(p.qc)}
                    for p in self.products
                ],
                "qc": dict(self.qc),
                "software": dict(self.software),
                "started": self.started.isoformat(),
                "ended": self.ended.isoformat(),
                "duration_s": self.duration_s,
                "log": self.log,
            }
        )
        return result

    def to_json(self) -> str:
        """The manifest as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        return cls(
            recipe=data["recipe"],
            version=data["version"],
            status=data["status"],
            error=data.get("error"),
            params=dict(data.get("params", {})),
            inputs=tuple(InputRecord(path=i["path"], role=i["role"]) for i in data["inputs"]),
            products=tuple(
                ProductEntry(path=p["path"], category=p["category"], qc=dict(p.get("qc", {})))
                for p in data["products"]
            ),
            qc=dict(data.get("qc", {})),
            software=dict(data.get("software", {})),
            started=datetime.fromisoformat(data["started"]),
            ended=datetime.fromisoformat(data["ended"]),
            log=data.get("log", ""),
        )

    def write(self, directory: Path) -> Path:
        """Write ``manifest.json`` in ``directory`` (atomically) and return its path."""
        target = Path(directory) / MANIFEST_NAME
        temporary = target.with_suffix(".json.tmp")
        temporary.write_text(self.to_json())
        temporary.replace(target)
        return target

    @classmethod
    def read(cls, directory_or_file: Path) -> Manifest:
        """Read ``manifest.json`` from a folder (or the file itself)."""
        path = Path(directory_or_file)
        if path.is_dir():
            path = path / MANIFEST_NAME
        return cls.from_json(path.read_text())
