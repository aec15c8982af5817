"""Workflows: a DAG of recipe steps with presets, launched on a selection of frames.

A step takes its primary frames from the selection (those its recipe's primary slot accepts),
its calibrations from the association rules, and, for the tags in ``from_steps``, the
products of parent steps once those have finished. A step runs only after all its parents
ended well; a failed step stops its descendants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class WorkflowError(ValueError):
    """A workflow definition is not a valid DAG of known steps."""


@dataclass(frozen=True)
class WorkflowStep:
    """One step: a recipe with an optional preset and parameters.

    ``from_steps`` maps an input SOF tag to the parent step whose products fill it; the
    parents of a step are those steps plus ``after`` (ordering without data).
    """

    name: str
    recipe: str
    preset: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    from_steps: Mapping[str, str] = field(default_factory=dict)
    after: tuple[str, ...] = ()

    @property
    def parents(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.from_steps.values(), *self.after)))


@dataclass(frozen=True)
class WorkflowSpec:
    """A named, versioned DAG of steps."""

    name: str
    version: str
    steps: tuple[WorkflowStep, ...]
    description: str = ""

    def ordered(self) -> tuple[WorkflowStep, ...]:
        """Steps with every parent before its children (Kahn's algorithm).

        Raises
        ------
        WorkflowError
            For duplicate step names, unknown parents or a cycle.
        """
        by_name = {s.name: s for s in self.steps}
        if len(by_name) != len(self.steps):
            raise WorkflowError(f"workflow {self.name}: duplicate step names")
        for step in self.steps:
            for parent in step.parents:
                if parent not in by_name:
                    raise WorkflowError(
                        f"workflow {self.name}: step {step.name} waits for unknown step {parent}"
                    )
        done: list[WorkflowStep] = []
        placed: set[str] = set()
        while len(done) < len(self.steps):
            ready = [
                s
                for s in self.steps
                if s.name not in placed and all(p in placed for p in s.parents)
            ]
            if not ready:
                left = sorted(s.name for s in self.steps if s.name not in placed)
                raise WorkflowError(f"workflow {self.name}: cycle among steps {', '.join(left)}")
            for step in ready:
                done.append(step)
                placed.add(step.name)
        return tuple(done)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "steps": [
                {
                    "name": s.name,
                    "recipe": s.recipe,
                    "preset": s.preset,
                    "params": dict(s.params),
                    "from_steps": dict(s.from_steps),
                    "after": list(s.after),
                }
                for s in self.steps
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkflowSpec:
        try:
            return cls(
                name=data["name"],
                version=str(data["version"]),
                description=data.get("description", ""),
                steps=tuple(
                    WorkflowStep(
                        name=s["name"],
                        recipe=s["recipe"],
                        preset=s.get("preset"),
                        params=s.get("params", {}),
                        from_steps=s.get("from_steps", {}),
                        after=tuple(s.get("after", ())),
                    )
                    for s in data["steps"]
                ),
            )
        except (KeyError, TypeError) as exc:
            raise WorkflowError(f"invalid workflow definition: missing or bad {exc}") from exc


#: ADI on IRDIS cubes: full-frame PCA with three modes for the quasi-static speckles, the same
#: for the contrast curve and the companions. Companions are searched beyond 3 FWHM (the
#: coronagraph's edge, where residual speckles dominate) and fitted by NEGFC with one mode,
#: which converges on tens to hundreds of frames alike (more modes take the companion's own
#: light into the model and can pull the fit away).
IRDIS_ADI_PARAMS: Mapping[str, Any] = {"mode": "full", "ncomp": 3}
IRDIS_COMPANION_PARAMS: Mapping[str, Any] = {
    **IRDIS_ADI_PARAMS,
    "negfc_ncomp": 1,
    "min_separation_fwhm": 3.0,
}


def _irdis_channel_steps(side: str) -> tuple[WorkflowStep, ...]:
    """Pre-processing of one IRDIS field, then ADI, S/N map, contrast curve and companions."""
    pre = f"preprocess_{side}"
    calibrations = {
        "IRD_MASTER_DARK": "dark",
        "IRD_MASTER_BACKGROUND": "dark",
        "IRD_FLAT_FIELD": "flat",
        "IRD_STAR_CENTER": "star_center",
        "IRD_PSF": "flux",
    }
    cube = {"SCIENCE": pre, "PSF": pre}
    return (
        WorkflowStep(pre, "ird_preprocess", params={"channel": side}, from_steps=calibrations),
        WorkflowStep(f"adi_{side}", "hci_adi_pca", params=IRDIS_ADI_PARAMS, from_steps=cube),
        WorkflowStep(f"snr_{side}", "hci_snr_map", from_steps={"FINAL_IMAGE": f"adi_{side}"}),
        WorkflowStep(
            f"contrast_{side}", "hci_contrast_curve", params=IRDIS_ADI_PARAMS, from_steps=cube
        ),
        WorkflowStep(
            f"companions_{side}",
            "hci_companion_characterization",
            params=IRDIS_COMPANION_PARAMS,
            from_steps=cube,
        ),
    )


_IRDIS_CALIBRATED = {
    "IRD_MASTER_DARK": "dark",
    "IRD_MASTER_BACKGROUND": "dark",
    "IRD_FLAT_FIELD": "flat",
}

#: IRDIS dual-band imaging from raw frames to companions, in Python (the ird_* and hci_*
#: recipes): HC-DC's standard chain where ESO's SPHERE plugin is absent. Each field (left and
#: right, e.g. H2 and H3) is pre-processed and post-processed on its own.
IRDIS_DBI = WorkflowSpec(
    name="irdis_dbi",
    version="2",
    description="IRDIS: darks/backgrounds -> flat -> star centre (waffle) and off-axis PSF -> "
    "centred cube per field with angles -> ADI PCA -> S/N map, contrast curve, companions.",
    steps=(
        WorkflowStep("dark", "ird_master_dark"),
        WorkflowStep("flat", "ird_flat", from_steps={"IRD_MASTER_DARK": "dark"}),
        WorkflowStep("star_center", "ird_star_center", from_steps=_IRDIS_CALIBRATED),
        WorkflowStep("flux", "ird_flux", from_steps=_IRDIS_CALIBRATED),
        *_irdis_channel_steps("left"),
        *_irdis_channel_steps("right"),
    ),
)

#: The same chain with ESO's SPHERE esorex recipes, for sites that have the plugin.
IRDIS_DBI_ESOREX = WorkflowSpec(
    name="irdis_dbi_esorex",
    version="1",
    description="IRDIS with ESO's sph_ird_* esorex recipes: master dark -> flat -> star center "
    "-> science preprocessing -> ADI -> contrast curve.",
    steps=(
        WorkflowStep("dark", "sph_ird_master_dark"),
        WorkflowStep(
            "flat",
            "sph_ird_instrument_flat",
            from_steps={"IRD_STATIC_BADPIXELMAP_FILE": "dark"},
        ),
        WorkflowStep(
            "star_center",
            "sph_ird_star_center",
            from_steps={"IRD_MASTER_DARK_FILE": "dark", "IRD_FLAT_FIELD_FILE": "flat"},
        ),
        WorkflowStep(
            "science",
            "sph_ird_science_dbi",
            from_steps={"IRD_MASTER_DARK_FILE": "dark", "IRD_FLAT_FIELD_FILE": "flat"},
            after=("star_center",),
        ),
        WorkflowStep("adi", "hci_adi_pca", after=("science",)),
        WorkflowStep("contrast", "hci_contrast_curve", after=("adi",)),
    ),
)

#: NACO ADI on a cube with its angles and off-axis PSF. The star flux of the contrasts comes
#: from the DITs and neutral densities in the headers of the PSF and the cube; where they give
#: none (a distributed, normalised PSF such as the public beta Pictoris one), the contrast and
#: companion steps refuse and are reprocessed with the observers' ``starphot``.
NACO_ADI_PARAMS: Mapping[str, Any] = {"mode": "full", "ncomp": 20}
NACO_ADI = WorkflowSpec(
    name="naco_adi",
    version="1",
    description="NACO ADI cube: star centre (core or AGPM dark hole) -> ADI PCA -> S/N map, "
    "contrast curve, companions.",
    steps=(
        WorkflowStep("star_center", "hci_star_center"),
        WorkflowStep(
            "adi",
            "hci_adi_pca",
            params=NACO_ADI_PARAMS,
            from_steps={"SCIENCE": "star_center", "PSF": "star_center"},
        ),
        WorkflowStep("snr", "hci_snr_map", from_steps={"FINAL_IMAGE": "adi"}),
        WorkflowStep(
            "contrast",
            "hci_contrast_curve",
            params=NACO_ADI_PARAMS,
            from_steps={"SCIENCE": "star_center", "PSF": "star_center"},
        ),
        WorkflowStep(
            "companions",
            "hci_companion_characterization",
            params={**NACO_ADI_PARAMS, "negfc_ncomp": 5},
            from_steps={"SCIENCE": "star_center", "PSF": "star_center"},
        ),
    ),
)

#: NACO imaging calibrations available with Debian's plugin.
NACO_CALIBRATION = WorkflowSpec(
    name="naco_calibration",
    version="1",
    description="NACO: master dark, hot, cold and deviant pixel maps.",
    steps=(WorkflowStep("dark", "naco_img_dark"),),
)

BUILTIN_WORKFLOWS: tuple[WorkflowSpec, ...] = (
    IRDIS_DBI,
    IRDIS_DBI_ESOREX,
    NACO_ADI,
    NACO_CALIBRATION,
)
