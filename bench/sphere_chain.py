"""Benchmark hcdc's IRDIS reduction of one synthetic demo night, raw frames to companions.

Writes the demo nights (``hcdc_kernel.demo.write_demo_nights``), then reduces the first night
with :mod:`hcdc_kernel.sphere`: sort the files, master darks/backgrounds/skies, detector flat,
star-centre and flux exposures, off-axis PSF, the science cubes (one frame per DIT),
parallactic and derotation angles, recentring; then, per field, with the ``irdis_dbi``
workflow's parameters, ADI PCA and the S/N map, and the companions (detection and NEGFC),
checked against the generator's truth. For each step it prints the wall time (a run without
tracing) and the peak of Python/numpy memory (a second run under ``tracemalloc``).

Where the SPHERE consortium's ``vlt-sphere`` package is importable (``pip install
vlt-sphere``; not an hcdc dependency), its Python steps run on the same frames and their time
ratio is printed: bad-pixel correction (``imutils.fix_badpix``), star centre from the waffle
spots (``toolbox.star_centers_from_waffle_img_cube``) and angles (``toolbox.compute_times`` +
``compute_angles``). Its darks and flats are ESO ``esorex`` recipes (``sph_ird_master_dark``,
``sph_ird_instrument_flat``), not Python: those rows say so.

Usage: ``python bench/sphere_chain.py [--size 256] [--quick] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from hcdc_kernel.demo import read_companions, write_demo_nights
from hcdc_kernel.frames import classify
from hcdc_kernel.hci.adi import pca_full_frame
from hcdc_kernel.hci.characterization import detect_sources, negfc
from hcdc_kernel.hci.fakes import normalize_psf, psf_aperture_flux
from hcdc_kernel.hci.snr import snr_map
from hcdc_kernel.recipes.hci.outputs import psf_fwhm
from hcdc_kernel.recipes.workflow import IRDIS_ADI_PARAMS, IRDIS_COMPANION_PARAMS
from hcdc_kernel.sphere import (
    correct_bad_pixels,
    derotation_angles,
    detector_flat_from_files,
    exposure_off_axis_psf,
    exposure_star_centres,
    master_dark_from_files,
    parallactic_angles,
    preprocess_exposure,
    read_exposure,
    recentre_fields,
    select_background,
)
from hcdc_kernel.sphere.filters import IRDIS_PIXEL_SCALE_MAS


def sort_files(folder: Path) -> dict[tuple[str, float], list[Path]]:
    files: dict[tuple[str, float], list[Path]] = {}
    for path in sorted(folder.glob("*.fits")):
        header = fits.getheader(path)
        frame_type, _ = classify(dict(header))
        files.setdefault((frame_type, float(header["HIERARCH ESO DET SEQ1 DIT"])), []).append(path)
    return files


def chain(folder: Path, truth: dict[str, Any]) -> list[tuple[str, Callable[[dict], Any]]]:
    """The steps, each a function of a shared state dictionary."""
    spot_sep = truth["waffle_separation_lambda_d"]
    sci_dit, flux_dit = truth["science_dit_s"], truth["flux_dit_s"]

    def step_sort(s: dict) -> None:
        s["files"] = sort_files(folder)

    def step_darks(s: dict) -> None:
        kinds = ("IRD_DARK_RAW", "IRD_BACKGROUND_RAW", "IRD_SKY_RAW")
        s["darks"] = [
            master_dark_from_files(paths)
            for (kind, _), paths in s["files"].items()
            if kind in kinds
        ]

    def step_flat(s: dict) -> None:
        dark = next(d for d in s["darks"] if d.kind == "dark" and d.dit == flux_dit)
        s["flat"] = detector_flat_from_files(
            s["files"][("IRD_FLAT_FIELD_RAW", flux_dit)], dark=dark
        )

    def preprocess(s: dict, path: Path, *, collapse: bool) -> Any:
        exposure = read_exposure(path)
        background = select_background(
            s["darks"], dit=exposure.dit, filter_combination=exposure.filter_combination
        )
        return preprocess_exposure(
            exposure, background=background, flat=s["flat"], collapse=collapse
        )

    def step_centre(s: dict) -> None:
        paths = s["files"][("IRD_STAR_CENTER_RAW", sci_dit)]
        s["centre_frames"] = [preprocess(s, p, collapse=True) for p in paths]

    def step_waffles(s: dict) -> None:
        s["centres"] = [
            exposure_star_centres(e, spot_separation_lambda_d=spot_sep) for e in s["centre_frames"]
        ]

    def step_flux(s: dict) -> None:
        paths = s["files"][("IRD_FLUX_RAW", flux_dit)]
        s["psfs"] = [exposure_off_axis_psf(preprocess(s, p, collapse=True)) for p in paths]

    def step_science(s: dict) -> None:
        paths = s["files"][("IRD_SCIENCE_DBI_RAW", sci_dit)]
        s["science"] = [preprocess(s, p, collapse=False) for p in paths]

    def step_angles(s: dict) -> None:
        parang = np.concatenate(
            [parallactic_angles(e.header, path=e.path).degrees for e in s["science"]]
        )
        mode = s["science"][0].header["HIERARCH ESO INS4 DROT2 MODE"]
        s["derotation"] = derotation_angles(parang, derotator_mode=mode)

    def step_recentre(s: dict) -> None:
        cube = np.concatenate([e.data for e in s["science"]])
        s["cube"] = recentre_fields(cube, s["centres"][0])

    def step_adi(s: dict) -> None:
        s["adi"] = []
        for field in range(2):
            psf = s["psfs"][0].channels[field].psf * sci_dit
            fwhm = psf_fwhm(psf)
            final = pca_full_frame(
                s["cube"][:, field], s["derotation"], ncomp=int(IRDIS_ADI_PARAMS["ncomp"])
            ).final
            s["adi"].append((psf, fwhm, snr_map(final, fwhm=fwhm)))

    def step_companions(s: dict) -> None:
        s["companions"] = []
        for field, (psf, fwhm, snr) in enumerate(s["adi"]):
            minimum = float(IRDIS_COMPANION_PARAMS["min_separation_fwhm"]) * fwhm
            found = []
            for source in detect_sources(snr, fwhm=fwhm, threshold=5.0, min_separation_px=minimum):
                fit = negfc(
                    s["cube"][:, field],
                    s["derotation"],
                    normalize_psf(psf, fwhm=fwhm, size=int(np.ceil(4 * fwhm)) // 2 * 2 + 1),
                    x=source.x,
                    y=source.y,
                    fwhm=fwhm,
                    ncomp=int(IRDIS_COMPANION_PARAMS["negfc_ncomp"]),
                    annulus_width=4.0 * fwhm,
                    aperture_radius=2.0,
                )
                found.append((fit, fit.flux / psf_aperture_flux(psf, fwhm=fwhm)))
            s["companions"].append(found)

    return [
        ("sort files (headers, frame types)", step_sort),
        ("master darks, backgrounds, skies", step_darks),
        ("detector flat", step_flat),
        ("pre-process star-centre frames", step_centre),
        ("star centre from waffles", step_waffles),
        ("pre-process flux frames + PSF", step_flux),
        ("pre-process science cubes", step_science),
        ("parallactic + derotation angles", step_angles),
        ("recentre science sequence", step_recentre),
        ("ADI PCA + S/N map, both fields", step_adi),
        ("companions (NEGFC), both fields", step_companions),
    ]


def run_chain(folder: Path, truth: dict[str, Any], *, trace: bool) -> tuple[dict, list]:
    state: dict[str, Any] = {}
    rows = []
    if trace:
        tracemalloc.start()
    for name, step in chain(folder, truth):
        if trace:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
        start = time.perf_counter()
        step(state)
        elapsed = time.perf_counter() - start
        peak = (tracemalloc.get_traced_memory()[1] - base) / 2**20 if trace else float("nan")
        rows.append((name, elapsed, peak))
    if trace:
        tracemalloc.stop()
    return state, rows


# -- vlt-sphere on the same frames -------------------------------------------------------------


def vlt_sphere_kernels(state: dict, truth: dict[str, Any]) -> list[tuple[str, float, float, str]]:
    """(step, hcdc s, vlt-sphere s, note) for the steps vlt-sphere does in Python.

    Raises ImportError when vlt-sphere is not installed.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandas as pd
        from sphere.utils import imutils, toolbox

    rows = []
    # Bad pixels of the science cubes: the same map, each code's interpolation per frame.
    bad = state["darks"][0].bad_pixels | state["flat"].bad_pixels
    frames = np.concatenate([read_exposure(e.path).data for e in state["science"]])
    ours = timed(lambda: correct_bad_pixels(frames, bad))
    theirs = timed(lambda: [imutils.fix_badpix(f, bad, npix=12, weight=True) for f in frames])
    rows.append(
        (f"bad pixels, {len(frames)} frames", ours, theirs, f"{int(bad.sum())} bad pixels/frame")
    )

    # Waffle centres: its search radius is 10 sqrt(2) 0.97 lambda/(8 m); the demo's spots sit
    # at 10 lambda/(8.2 m): a pixel scale scaled by their ratio puts its boxes on them.
    exposure = state["centre_frames"][0]
    wave = np.array(exposure.wavelengths_um) * 1e3
    scale = (
        IRDIS_PIXEL_SCALE_MAS
        * (10 * np.sqrt(2) * 0.97 / 8.0)
        / (truth["waffle_separation_lambda_d"] / 8.2)
    )
    guess = np.array([[c.x, c.y] for c in state["centres"][0].channels]).round()
    found: dict[str, Any] = {}

    def theirs_waffle() -> None:
        found["xy"] = toolbox.star_centers_from_waffle_img_cube(
            exposure.data[0],
            wave,
            "x",
            guess,
            scale,
            0.0,
            box_size=16,
            coro=True,
            save_path=None,
        )[2]

    spot_sep = truth["waffle_separation_lambda_d"]
    ours = timed(lambda: exposure_star_centres(exposure, spot_separation_lambda_d=spot_sep))
    theirs = timed(theirs_waffle)
    true = np.array([f["star_center_px"] for f in truth["fields"]])
    error_ours = np.abs(state["centres"][0].xy - true).max()
    rows.append(
        (
            "star centre from waffles",
            ours,
            theirs,
            f"error vs truth {error_ours:.3f} px (hcdc), {np.abs(found['xy'] - true).max():.3f} px",
        )
    )

    # Angles: vlt-sphere's frames_info for every DIT of every science cube.
    records = []
    for e in state["science"]:
        h = e.header
        for i in range(int(h["HIERARCH ESO DET NDIT"])):
            records.append(
                {
                    "FILE": e.path.name,
                    "IMG": i,
                    "SEQ ARM": "IRDIS",
                    "DATE-OBS": np.datetime64(h["DATE-OBS"]),
                    "DET FRAM UTC": np.datetime64(h["HIERARCH ESO DET FRAM UTC"]),
                    "DET NDIT": int(h["HIERARCH ESO DET NDIT"]),
                    "DET SEQ1 DIT": float(h["HIERARCH ESO DET SEQ1 DIT"]),
                    "DET DITDELAY": float(h["HIERARCH ESO DET DITDELAY"]),
                    "INS4 DROT2 RA": float(h["HIERARCH ESO INS4 DROT2 RA"]),
                    "INS4 DROT2 DEC": float(h["HIERARCH ESO INS4 DROT2 DEC"]),
                    "INS4 DROT2 MODE": h["HIERARCH ESO INS4 DROT2 MODE"],
                    "INS4 DROT2 POSANG": float(h["HIERARCH ESO INS4 DROT2 POSANG"]),
                }
            )
    info = pd.DataFrame(records).set_index(["FILE", "IMG"])

    def theirs_angles() -> None:
        toolbox.compute_times(info)
        toolbox.compute_angles(info, -1.75)

    def ours_angles() -> None:
        parang = np.concatenate(
            [parallactic_angles(e.header, path=e.path).degrees for e in state["science"]]
        )
        derotation_angles(parang, derotator_mode="ELEV")

    ours = timed(ours_angles)
    theirs = timed(theirs_angles)
    derot = info["DEROT ANGLE"].to_numpy(dtype=float)
    difference = np.abs((derot - state["derotation"] + 180) % 360 - 180).max()
    rows.append(
        (
            f"angles, {len(derot)} frames",
            ours,
            theirs,
            f"max |vlt-sphere - hcdc| {difference:.3f} deg: vlt-sphere takes INS4 DROT2 RA/DEC "
            "as of date (no precession); the demo writes J2000 there",
        )
    )
    return rows


def timed(function: Callable[[], Any]) -> float:
    """Best wall time of two calls."""
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256, help="field side in pixels")
    parser.add_argument("--quick", action="store_true", help="the minimal demo plan")
    parser.add_argument("--keep", type=Path, help="write the demo here and keep it")
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="hcdc-sphere-bench-"))
    try:
        start = time.perf_counter()
        write_demo_nights(root, size=args.size, quick=args.quick)
        truth = json.loads((root / "companions.json").read_text())["nights"][0]
        folder = root / "raw" / truth["night"]
        n_files = len(list(folder.glob("*.fits")))
        print(
            f"demo night {truth['night']}: {n_files} files, frames {args.size} x "
            f"{2 * args.size}, written in {time.perf_counter() - start:.1f} s"
        )
        state, timed_rows = run_chain(folder, truth, trace=False)
        _, traced_rows = run_chain(folder, truth, trace=True)

        print(f"{'hcdc step':<38} {'wall s':>7} {'peak MiB':>9}")
        total = 0.0
        for (name, elapsed, _), (_, _, peak) in zip(timed_rows, traced_rows, strict=True):
            total += elapsed
            print(f"{name:<38} {elapsed:7.2f} {peak:9.1f}")
        print(f"{'total':<38} {total:7.2f}   ({state['cube'].shape[0]} science frames)")
        centres = state["centres"][0].xy
        true = np.array([f["star_center_px"] for f in truth["fields"]])
        flux = [c.total_flux_adu_s for c in state["psfs"][0].channels]
        rates = [f["star_flux_adu_per_s"] for f in truth["fields"]]
        print(
            f"check: star centre error {np.abs(centres - true).max():.3f} px; total star flux "
            f"{flux[0]:.4g}, {flux[1]:.4g} ADU/s (truth {rates[0]:.4g}, {rates[1]:.4g} before "
            "the flat, whose median per field is about 0.96 and 0.93)"
        )
        injected = [
            c for c in read_companions(root / "companions.json") if c.night == truth["night"]
        ]
        centre = state["cube"].shape[-1] // 2
        for field, found in zip(truth["fields"], state["companions"], strict=True):
            (companion,) = [c for c in injected if c.filter == field["filter"]]
            theta = np.radians(companion.pa_deg)
            x = centre - companion.sep_px * np.sin(theta)
            y = centre + companion.sep_px * np.cos(theta)
            for fit, contrast in found:
                print(
                    f"check: {field['filter']} source at S/N {fit.snr:.1f}: "
                    f"{np.hypot(fit.x - x, fit.y - y):.3f} px from the injected companion, "
                    f"contrast {contrast:.3g} (injected {companion.contrast:.3g}, "
                    f"{contrast / companion.contrast - 1:+.1%})"
                )

        print()
        print("vlt-sphere: darks, backgrounds and flats are ESO esorex recipes there")
        print("(sph_ird_master_dark, sph_ird_instrument_flat), not Python: no ratio.")
        logging.disable(logging.INFO)
        try:
            rows = vlt_sphere_kernels(state, truth)
        except ImportError as error:
            print(f"vlt-sphere not importable ({error}): pip install vlt-sphere to compare")
            rows = []
        finally:
            logging.disable(logging.NOTSET)
        if rows:
            print(f"{'same frames':<38} {'hcdc s':>7} {'vlt-sphere s':>13} {'ratio':>7}")
            for name, ours, theirs, note in rows:
                print(f"{name:<38} {ours:7.3f} {theirs:13.3f} {theirs / ours:6.1f}x")
                print(f"    {note}")
            print("ratio = vlt-sphere time / hcdc time")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
