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


#: IRDIS dual-band imaging, from raw frames to a contrast curve (HC-DC's standard chain).
IRDIS_DBI = WorkflowSpec(
    name="irdis_dbi",
    version="1",
    description="IRDIS: master dark -> flat -> star center -> science preprocessing -> ADI "
    "-> contrast curve.",
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

#: NACO imaging calibrations available with Debian's plugin.
NACO_CALIBRATION = WorkflowSpec(
    name="naco_calibration",
    version="1",
    description="NACO: master dark, hot, cold and deviant pixel maps.",
    steps=(WorkflowStep("dark", "naco_img_dark"),),
)

BUILTIN_WORKFLOWS: tuple[WorkflowSpec, ...] = (IRDIS_DBI, NACO_CALIBRATION)
