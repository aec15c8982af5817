"""Every Python package folder is declared in pyproject, so non-editable installs are complete."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = set(config["packages"])
    folders = {import_name: ROOT / folder for import_name, folder in config["package-dir"].items()}
    found = set()
    for import_name, folder in folders.items():
        for init in folder.rglob("__init__.py"):
            relative = init.parent.relative_to(folder).parts
            found.add(".".join((import_name, *relative)))
    assert found == declared, f"missing: {sorted(found - declared)}, stale: {sorted(declared - found)}"
