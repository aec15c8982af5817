"""``hci_rdi_pca``: reference-star differential imaging with a library chosen by similarity.

Reference frames are the ``REFERENCE`` inputs (``HCI_REFERENCE_CUBE``
products, or OBJECT frames of another target than the science one); the best
``n_frames`` by similarity to the science frames
(:func:`hcdc_kernel.hci.reference_library.select_reference_frames`) make the
PCA library.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.table import Table

from hcdc_kernel.hci.reference_library import select_reference_frames
from hcdc_kernel.products.images import FinalImageProduct
from hcdc_kernel.recipes.hci.base import RecipeError, RecipeRun, hci_recipe
from hcdc_kernel.recipes.hci.inputs import InputFile
from hcdc_kernel.recipes.hci.outputs import (
    FWHM_PARAM,
    PXSCALE_PARAM,
    describe,
    star_at_centre,
    write_image_product,
    write_table,
)
from hcdc_kernel.recipes.hci.processing import ANGLES_SLOT, post_process
from hcdc_kernel.recipes.spec import InputSlot, ParamSpec


def _split(run: RecipeRun) -> tuple[tuple[InputFile, ...], tuple[InputFile, ...]]:
    """Science files and reference files (other targets' OBJECT frames are references)."""
    science = run.inputs.of_role("SCIENCE")
    references = list(run.inputs.of_role("REFERENCE"))
    if not science:
        raise RecipeError("no science input was given")
    target = str(run.params["target"]) or str(science[0].header.get("OBJECT", ""))
    kept = tuple(f for f in science if str(f.header.get("OBJECT", target)) == target)
    references.extend(f for f in science if f not in kept)
    if not references:
        raise RecipeError(
            "no reference frames: give HCI_REFERENCE_CUBE inputs or frames of other targets"
        )
    return kept, tuple(references)


def run(run: RecipeRun) -> None:
    """Choose the reference library, run RDI PCA, write the library table and final image."""
    science_files, reference_files = _split(run)
    sequence = run.inputs.science(science_files)
    pxscale = run.inputs.pixscale(float(run.params["pxscale"]))
    candidates = [run.inputs.cube_of([f], what=f"reference {f.path.name}") for f in reference_files]
    half = min(sequence.cube.shape[1:]) / 2.0
    inner = float(run.params["inner_radius"])
    outer = float(run.params["outer_radius"]) or half - 1.0
    run.progress(10.0, f"ranking {sum(c.shape[0] for c in candidates)} reference frames")
    selection = select_reference_frames(
        sequence.cube,
        candidates,
        n_frames=int(run.params["n_frames"]),
        inner_radius=inner,
        outer_radius=outer,
        metric=str(run.params["metric"]),  # type: ignore[arg-type]
        whole_cubes=bool(run.params["whole_cubes"]),
    )
    chosen = np.zeros(selection.scores.shape[0], dtype=bool)
    chosen[selection.selected] = True
    rank = np.full(selection.scores.shape[0], -1)
    rank[selection.selected] = np.arange(selection.selected.size)
    table = Table(
        {
            "file": [reference_files[k].path.name for k in selection.cube_index],
            "frame": selection.frame_index,
            "score": selection.scores,
            "selected": chosen,
            "rank": rank,
        },
        units={"frame": u.one, "score": u.one, "rank": u.one},
    )
    meta = {
        "recipe": run.recipe.name,
        "metric": selection.metric,
        "annulus_px": list(selection.annulus),
        "n_selected": int(selection.selected.size),
    }
    qc_lib = {
        "n_candidates": int(selection.scores.size),
        "n_selected": int(selection.selected.size),
        "best_score": float(selection.scores[selection.selected[0]]),
        "worst_selected_score": float(selection.scores[selection.selected[-1]]),
    }
    write_table(
        run, "reference_library.fits", table, category="HCI_REFERENCE_LIBRARY", meta=meta, qc=qc_lib
    )
    run.progress(40.0, f"RDI PCA with {selection.selected.size} reference frames")
    result = post_process(
        run,
        sequence.cube,
        sequence.angles,
        fwhm=float(run.params["fwhm"]),
        reference=selection.library,
    )
    final_meta = {
        **meta,
        "algorithm": result.algorithm,
        "params": dict(result.params),
        "pxscale_arcsec": pxscale,
        "fwhm_px": float(run.params["fwhm"]) or None,
        "references": sorted({f.path.name for f in reference_files}),
    }
    fwhm = float(run.params["fwhm"]) or None
    description = describe(
        run,
        pixscale=pxscale,
        star_xy=star_at_centre(result.final.shape),
        north_up=True,
        fwhm=fwhm,
    )
    product = FinalImageProduct.create(result.final, meta=final_meta, description=description)
    write_image_product(
        run, "final_image.fits", product, qc={"final_std": float(np.std(result.final))}
    )
    run.qc.update(qc_lib)


RECIPE = hci_recipe(
    name="hci_rdi_pca",
    version="1.1",
    description="RDI full-frame PCA with a reference library chosen by similarity.",
    inputs=(
        InputSlot(
            "SCIENCE",
            ("HCI_CENTERED_CUBE",),
            min_count=1,
            doc="Centred science cube.",
            primary=True,
        ),
        ANGLES_SLOT,
        InputSlot(
            "REFERENCE", ("HCI_REFERENCE_CUBE",), min_count=0, doc="Candidate reference cubes."
        ),
    ),
    params=(
        ParamSpec("ncomp", "int", 5, "Principal components.", minimum=1, maximum=500),
        ParamSpec("n_frames", "int", 50, "Frames in the reference library.", minimum=1),
        ParamSpec(
            "metric", "str", "correlation", "Similarity measure.", choices=("correlation", "mse")
        ),
        ParamSpec("whole_cubes", "bool", False, "Keep whole candidate cubes, best first."),
        ParamSpec(
            "inner_radius", "float", 0.0, "Inner radius (px) of the compared annulus.", minimum=0.0
        ),
        ParamSpec("outer_radius", "float", 0.0, "Outer radius (px); 0 = frame edge.", minimum=0.0),
        ParamSpec("target", "str", "", "Science OBJECT name; '' = the first science file's."),
        ParamSpec(
            "mask_center_px", "float", 0.0, "Central mask radius (px); 0 = none.", minimum=0.0
        ),
        ParamSpec(
            "interpolation",
            "str",
            "biquintic",
            "Rotation interpolation.",
            choices=("bilinear", "bicubic", "biquartic", "biquintic", "fft"),
        ),
        FWHM_PARAM,
        PXSCALE_PARAM,
    ),
    outputs=("HCI_REFERENCE_LIBRARY", "HCI_FINAL_IMAGE"),
    run=run,
)
