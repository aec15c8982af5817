"""Run the ird_* recipes (and the hci_* ones after them) on one demo night, as irdis_dbi does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hcdc_kernel.jobs.manifest import JobManifest as Manifest
from hcdc_kernel.recipes.hci import run_hci_recipe
from hcdc_kernel.recipes.sphere import run_sphere_recipe
from hcdc_kernel.recipes.workflow import IRDIS_ADI_PARAMS, IRDIS_COMPANION_PARAMS
from tests.sphere.conftest import DemoNight

SIDES = ("left", "right")


def of_type(night: DemoNight, frame_type: str) -> list[Path]:
    return sorted(
        p for (kind, _), paths in night.files.items() if kind == frame_type for p in paths
    )


def paths(manifest: Manifest, *categories: str) -> list[Path]:
    return [Path(p.path) for p in manifest.products if p.category in categories]


def ok(manifest: Manifest) -> Manifest:
    assert manifest.status == "ok", manifest.error
    return manifest


@dataclass
class ReducedNight:
    """Manifests of the ird_* steps of one night, and of the hci_* steps per field."""

    night: DemoNight
    steps: dict[str, Manifest] = field(default_factory=dict)

    def calibrations(self) -> dict[str, list[Path]]:
        darks = self.steps["dark"]
        return {
            "IRD_MASTER_DARK": paths(darks, "IRD_MASTER_DARK"),
            "IRD_MASTER_BACKGROUND": paths(darks, "IRD_MASTER_BACKGROUND", "IRD_MASTER_SKY"),
            "IRD_FLAT_FIELD": paths(self.steps["flat"], "IRD_FLAT_FIELD"),
        }

    def cube(self, name: str) -> Path:
        return next(
            p for p in paths(self.steps["preprocess"], "IRD_SCIENCE_CUBE") if p.stem.endswith(name)
        )

    def psf(self, name: str) -> Path:
        return next(p for p in paths(self.steps["preprocess"], "HCI_PSF") if p.stem.endswith(name))


def calibrate(night: DemoNight, out: Path) -> ReducedNight:
    """Darks, flat, star centre and PSF of a night."""
    reduced = ReducedNight(night)
    raw_darks = [
        *of_type(night, "IRD_DARK_RAW"),
        *of_type(night, "IRD_BACKGROUND_RAW"),
        *of_type(night, "IRD_SKY_RAW"),
    ]
    reduced.steps["dark"] = ok(
        run_sphere_recipe("ird_master_dark", inputs=raw_darks, output_dir=out / "dark")
    )
    reduced.steps["flat"] = ok(
        run_sphere_recipe(
            "ird_flat",
            inputs={
                "IRD_FLAT_FIELD_RAW": of_type(night, "IRD_FLAT_FIELD_RAW"),
                "IRD_MASTER_DARK": paths(reduced.steps["dark"], "IRD_MASTER_DARK"),
            },
            output_dir=out / "flat",
        )
    )
    calibrations = reduced.calibrations()
    reduced.steps["star_center"] = ok(
        run_sphere_recipe(
            "ird_star_center",
            inputs={"IRD_STAR_CENTER_RAW": of_type(night, "IRD_STAR_CENTER_RAW"), **calibrations},
            output_dir=out / "star_center",
        )
    )
    reduced.steps["flux"] = ok(
        run_sphere_recipe(
            "ird_flux",
            inputs={"IRD_FLUX_RAW": of_type(night, "IRD_FLUX_RAW"), **calibrations},
            output_dir=out / "flux",
        )
    )
    return reduced


def preprocess_inputs(reduced: ReducedNight) -> dict[str, list[Path]]:
    return {
        "IRD_SCIENCE_RAW": of_type(reduced.night, "IRD_SCIENCE_DBI_RAW"),
        **reduced.calibrations(),
        "IRD_STAR_CENTER": paths(reduced.steps["star_center"], "IRD_STAR_CENTER"),
        "IRD_PSF": paths(reduced.steps["flux"], "IRD_PSF"),
    }


def reduce_night(night: DemoNight, out: Path, **params: Any) -> ReducedNight:
    """The ird_* chain of a night, both fields pre-processed."""
    reduced = calibrate(night, out)
    reduced.steps["preprocess"] = ok(
        run_sphere_recipe(
            "ird_preprocess",
            inputs=preprocess_inputs(reduced),
            params=params,
            output_dir=out / "preprocess",
        )
    )
    return reduced


def post_process(
    reduced: ReducedNight, name: str, out: Path, *, params: Mapping[str, Any] | None = None
) -> Manifest:
    """``hci_companion_characterization`` on one field, with the irdis_dbi workflow's params."""
    return ok(
        run_hci_recipe(
            "hci_companion_characterization",
            inputs={"SCIENCE": [reduced.cube(name)], "PSF": [reduced.psf(name)]},
            params=dict(params or IRDIS_COMPANION_PARAMS),
            output_dir=out / f"companions_{name}",
        )
    )


__all__ = [
    "IRDIS_ADI_PARAMS",
    "ReducedNight",
    "calibrate",
    "of_type",
    "ok",
    "paths",
    "post_process",
    "preprocess_inputs",
    "reduce_night",
]
