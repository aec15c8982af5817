"""``hci_polarimetry``: IRDIS dual-beam polarimetry -> I, Q, U, Q_phi, U_phi.

Inputs are centred DPI frames (``DPR TECH`` POLARIMETRY, or ``HCI_DPI_FRAMES``
products) whose left and right halves are the two beams, each with the star
at its frame centre. The HWP angle of a file is ``HIERARCH HCDC HWP ANGLE``
or, for raw IRDIS headers, the mean of ``ESO INS4 DROT3 BEGIN/END``.
"""

from __future__ import annotations

import numpy as np

from hcdc_kernel.hci.polarimetry import polarimetric_differential_imaging, split_beams
from hcdc_kernel.recipes.hci.base import RecipeError, RecipeRun, hci_recipe
from hcdc_kernel.recipes.hci.inputs import InputFile
from hcdc_kernel.recipes.hci.outputs import PXSCALE_PARAM, write_image
from hcdc_kernel.recipes.spec import InputSlot, ParamSpec

HWP_KEYS = ("HCDC HWP ANGLE",)
HWP_RANGE_KEYS = ("ESO INS4 DROT3 BEGIN", "ESO INS4 DROT3 END")


def _hwp(item: InputFile) -> float:
    for key in HWP_KEYS:
        if key in item.header:
            return float(item.header[key])
    if all(k in item.header for k in HWP_RANGE_KEYS):
        return float(np.mean([float(item.header[k]) for k in HWP_RANGE_KEYS]))
    raise RecipeError(f"{item.path.name} has no HWP angle (HIERARCH HCDC HWP ANGLE)")


def run(run: RecipeRun) -> None:
    """Combine the beams and HWP positions; write the Stokes images."""
    files = run.inputs.of_role("DPI")
    lefts, rights, angles = [], [], []
    for item in files:
        cube = run.inputs.cube_of([item], what=f"DPI {item.path.name}")
        left, right = split_beams(cube)
        lefts.append(left)
        rights.append(right)
        angles.extend([_hwp(item)] * left.shape[0])
    left_cube = np.concatenate(lefts)
    right_cube = np.concatenate(rights)
    x0, y0 = float(run.params["x"]), float(run.params["y"])
    center = (x0, y0) if x0 >= 0 and y0 >= 0 else None
    run.progress(20.0, f"{left_cube.shape[0]} frames, HWP angles {sorted(set(angles))}")
    result = polarimetric_differential_imaging(
        left_cube,
        right_cube,
        angles,
        combination=str(run.params["combination"]),  # type: ignore[arg-type]
        center=center,
    )
    pxscale = None
    try:
        pxscale = run.inputs.pixscale(float(run.params["pxscale"]))
    except RecipeError:
        run.log.info("no pixel scale known; products written without HCDC PIXSCALE")
    meta = {
        "recipe": run.recipe.name,
        "combination": result.combination,
        "n_cycles": result.n_cycles,
        "center": list(result.center),
        "convention": "Q_phi = -Q cos 2phi - U sin 2phi, phi east of north (de Boer et al. 2020)",
    }
    qc = {
        "n_cycles": result.n_cycles,
        "qphi_sum": float(result.q_phi.sum()),
        "uphi_sum": float(result.u_phi.sum()),
    }
    for name, image, category in (
        ("stokes_i.fits", result.i_total, "HCI_DPI_I"),
        ("stokes_q.fits", result.q, "HCI_DPI_Q"),
        ("stokes_u.fits", result.u, "HCI_DPI_U"),
        ("qphi.fits", result.q_phi, "HCI_DPI_QPHI"),
        ("uphi.fits", result.u_phi, "HCI_DPI_UPHI"),
    ):
        write_image(run, name, image, category=category, meta=meta, pixscale=pxscale)
    run.qc.update(qc)


RECIPE = hci_recipe(
    name="hci_polarimetry",
    version="1.1",
    description="IRDIS dual-polarisation double difference: Q, U, Qphi, Uphi.",
    instrument="SPHERE",
    inputs=(
        InputSlot(
            "DPI",
            ("IRD_SCIENCE_DPI_RAW", "HCI_DPI_FRAMES"),
            min_count=4,
            doc="Centred DPI frames, left/right beams side by side, four HWP angles.",
            primary=True,
        ),
    ),
    params=(
        ParamSpec(
            "combination",
            "str",
            "double_difference",
            "Beam and HWP combination.",
            choices=("double_difference", "double_ratio"),
        ),
        ParamSpec("x", "float", -1.0, "Star x (px) in each beam; -1 = frame centre."),
        ParamSpec("y", "float", -1.0, "Star y (px) in each beam; -1 = frame centre."),
        PXSCALE_PARAM,
    ),
    outputs=("HCI_DPI_I", "HCI_DPI_Q", "HCI_DPI_U", "HCI_DPI_QPHI", "HCI_DPI_UPHI"),
    run=run,
)
