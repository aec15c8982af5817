"""The ird_* recipes on the quick demo nights: products, QC, provenance, truth and bad input.

Each recipe's products are checked against the generator's truth (detector, star centre, star
flux, angles) with the tolerances of the science core's own tests, and against what hcdc's
ingest and association read from them (frame type, DIT, filter, target). Bad input ends in an
error manifest naming the file and the keyword, never in a traceback.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from hcdc_kernel.demo.ephemeris import irdis_derotation_angle, sky_position
from hcdc_kernel.demo.optics import ChannelOptics, PupilAberrations
from hcdc_kernel.frames import frame_info_from_header
from hcdc_kernel.recipes.registry import builtin_recipes
from hcdc_kernel.recipes.sphere import SPHERE_RECIPES, run_sphere_recipe
from hcdc_kernel.recipes.sphere.ird_star_center import estimate_spot_separation
from hcdc_kernel.sphere import frame_times
from tests.sphere.chain import (
    ReducedNight,
    calibrate,
    of_type,
    paths,
    preprocess_inputs,
    reduce_night,
)
from tests.sphere.conftest import IrdisDemo

DIT_KEY = "HIERARCH ESO DET SEQ1 DIT"
FILTER_KEY = "HIERARCH ESO INS COMB IFLT"
PARANG_START = "HIERARCH ESO TEL PARANG START"


@pytest.fixture(scope="module")
def reduced(
    irdis_demo: IrdisDemo, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ReducedNight, ...]:
    return tuple(
        reduce_night(night, tmp_path_factory.mktemp(f"night{i}"))
        for i, night in enumerate(irdis_demo.nights)
    )


def header_of(path: Path) -> fits.Header:
    return fits.getheader(path)


def test_recipes_are_registered_with_typed_parameters_and_outputs() -> None:
    specs = {s.name: s for s in builtin_recipes()}
    for name in ("ird_master_dark", "ird_flat", "ird_star_center", "ird_flux", "ird_preprocess"):
        spec = specs[name]
        assert spec.kind == "python" and spec.available and spec.instrument == "SPHERE"
        assert spec.primary_slot is not None and spec.outputs
        assert spec.params_schema()["properties"]
    assert specs["ird_master_dark"].auto_calibrate and specs["ird_flat"].auto_calibrate
    assert specs["ird_preprocess"].needs_validation
    # ESO's recipes stay listed, unavailable without the SPHERE plugin.
    assert specs["sph_ird_master_dark"].kind == "esorex"
    with pytest.raises(Exception, match="not one of"):
        specs["ird_preprocess"].resolve_params({"channel": "middle"})


def test_master_dark_products_match_the_detector(
    reduced: tuple[ReducedNight, ...], irdis_demo: IrdisDemo
) -> None:
    manifest = reduced[0].steps["dark"]
    detector = irdis_demo.detector
    found = {(p.category, p.qc["dit"]) for p in manifest.products if "dit" in p.qc}
    assert found == {
        ("IRD_MASTER_DARK", 48.0),
        ("IRD_MASTER_DARK", 2.0),
        ("IRD_MASTER_BACKGROUND", 48.0),
        ("IRD_MASTER_BACKGROUND", 2.0),
        ("IRD_MASTER_SKY", 48.0),
    }
    path = next(
        Path(p.path)
        for p in manifest.products
        if p.category == "IRD_MASTER_DARK" and p.qc["dit"] == 48.0
    )
    with fits.open(path) as hdul:
        image, badpix, header = hdul[0].data, hdul["BADPIX"].data.astype(bool), hdul[0].header
    truth = detector.offset_adu + detector.dark_rate * 48.0
    hot = detector.dark_rate > 10.0
    assert header["HIERARCH HCDC QC LEVEL"] == pytest.approx(float(np.median(truth)), abs=0.5)
    assert np.count_nonzero(badpix & hot) / np.count_nonzero(hot) >= 0.98
    assert header["HIERARCH HCDC QC HOT PIXELS"] == int(badpix.sum())
    assert abs(float(np.mean((image - truth)[~hot]))) < 0.2
    # Provenance and what association reads: category, DIT, filter, night.
    info = frame_info_from_header(dict(header))
    assert info.frame_type == "IRD_MASTER_DARK" and info.dit == 48.0
    assert info.instrument == "SPHERE" and info.obs_night is not None
    assert header["HIERARCH HCDC PRO REC1 ID"] == "ird_master_dark"
    assert header["HIERARCH HCDC IRD KIND"] == "dark"
    assert manifest.qc["n_masters"] == 5


def test_flat_product_matches_the_detector_flat(
    reduced: tuple[ReducedNight, ...], irdis_demo: IrdisDemo
) -> None:
    (path,) = paths(reduced[0].steps["flat"], "IRD_FLAT_FIELD")
    with fits.open(path) as hdul:
        flat, badpix, header = hdul[0].data, hdul["BADPIX"].data.astype(bool), hdul[0].header
    truth = irdis_demo.detector.flat.copy()
    half = truth.shape[1] // 2
    truth[:, :half] /= np.median(truth[:, :half])
    truth[:, half:] /= np.median(truth[:, half:])
    dead = irdis_demo.detector.flat < 0.1
    assert np.all(badpix[dead])
    ratio = flat[~badpix] / truth[~badpix]
    assert float(np.std(ratio)) < 0.015  # one lamp frame: 1 % photon noise per pixel
    assert header["HIERARCH HCDC QC FLAT RMS"] == pytest.approx(
        float(np.std(truth[~badpix])), abs=0.01
    )
    assert frame_info_from_header(dict(header)).instrument_filter == "DB_H23"


@pytest.mark.parametrize("index", [0, 1])
def test_star_center_product_matches_the_true_star(
    reduced: tuple[ReducedNight, ...], index: int
) -> None:
    night = reduced[index]
    (path,) = paths(night.steps["star_center"], "IRD_STAR_CENTER")
    table = Table.read(path, hdu="STAR_CENTER")
    for field in night.night.truth["fields"]:
        (row,) = table[table["filter"] == field["filter"]]
        true_x, true_y = field["star_center_px"]
        # Measured: within 0.05 px.
        assert abs(row["x"] - true_x) < 0.1 and abs(row["y"] - true_y) < 0.1
        # The spot distance is measured on the frame (the demo's waffle: 10 lambda/D).
        assert row["separation_lambda_d"] == pytest.approx(10.0, rel=0.02)
        assert row["residual_px"] < 0.4
    qc = night.steps["star_center"].qc
    assert {"offset_left", "waffle_residual_left", "offset_right", "waffle_residual_right"} <= set(
        qc
    )


def test_waffle_separation_is_measured_for_the_standard_irdis_waffle() -> None:
    """IRDIS's waffle sits at 14.06 lambda/D (vlt-sphere), not the demo's 10."""
    none = PupilAberrations(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    optics = ChannelOptics(size=192, wavelength_um=1.5888, aberrations=none)
    waffle = optics.waffle_phase(2 * math.pi * 0.05 / 1.5888, 14.06)
    image = optics.coronagraphic_image(extra_phase=waffle) * 1e6
    radius = estimate_spot_separation(
        image, lambda_over_d=optics.lambda_over_d_px, centre=(96.0, 96.0), orientation="x"
    )
    assert radius / optics.lambda_over_d_px == pytest.approx(14.06, abs=0.5)


@pytest.mark.parametrize("index", [0, 1])
def test_flux_product_gives_the_true_star_flux(
    reduced: tuple[ReducedNight, ...], irdis_demo: IrdisDemo, index: int
) -> None:
    night = reduced[index]
    (path,) = paths(night.steps["flux"], "IRD_PSF")
    table = Table.read(path, hdu="STAR_FLUX")
    size = irdis_demo.size
    for i, field in enumerate(night.night.truth["fields"]):
        (row,) = table[table["filter"] == field["filter"]]
        median_flat = float(np.median(irdis_demo.detector.flat[:, i * size : (i + 1) * size]))
        # Total flux within 12 lambda/D: the star's rate times the flat, to 2 % (the core's test).
        expected = field["star_flux_adu_per_s"] * median_flat
        assert row["total_flux"] == pytest.approx(expected, rel=0.03)
        assert row["nd_transmission"] == pytest.approx(field["nd_transmission"])
    assert fits.getdata(path).shape[0] == 2


@pytest.mark.parametrize("index", [0, 1])
def test_preprocessed_cubes_carry_the_true_angles_and_psf(
    reduced: tuple[ReducedNight, ...], index: int
) -> None:
    night = reduced[index]
    truth = night.night.truth
    science = of_type(night.night, "IRD_SCIENCE_DBI_RAW")
    times = [frame_times(fits.getheader(p)) for p in sorted(science)]
    expected = np.concatenate(
        [
            irdis_derotation_angle(
                sky_position(t, ra_deg=truth["ra_deg"], dec_deg=truth["dec_deg"]).parallactic_angle
            )
            for t in times
        ]
    )
    manifest = night.steps["preprocess"]
    for field in truth["fields"]:
        cube_path = night.cube(field["filter"])
        cube = fits.getdata(cube_path)
        angles = Table.read(cube_path, hdu="ANGLES")
        assert cube.shape == (len(expected), 128, 128)
        difference = (np.asarray(angles["PARANG"]) - expected + 180.0) % 360.0 - 180.0
        assert float(np.max(np.abs(difference))) < 0.01  # measured 0.002 deg
        header = fits.getheader(cube_path)
        assert frame_info_from_header(dict(header)).frame_type == "IRD_SCIENCE_CUBE"
        assert header["HIERARCH HCDC IRD FILTER"] == field["filter"]
        assert header["HIERARCH HCDC STAR X"] == 64.0 and header["HIERARCH HCDC CENTRED"]
        psf = fits.getdata(night.psf(field["filter"]))
        peak = np.unravel_index(int(np.argmax(psf)), psf.shape)
        assert peak == (psf.shape[0] // 2, psf.shape[1] // 2)
    categories = {p.category for p in manifest.products}
    assert {"IRD_SCIENCE_CUBE", "HCI_PSF", "IRD_DEROTATED_STACK"} <= categories
    assert manifest.qc["parang_source"] == "header"
    assert manifest.qc["parang_vs_pointing_deg"] < 0.01
    assert manifest.qc["rotation_deg"] > 30.0


def test_one_field_and_collapsed_cubes(reduced: tuple[ReducedNight, ...], tmp_path: Path) -> None:
    night = reduced[1]
    manifest = run_sphere_recipe(
        "ird_preprocess",
        inputs=preprocess_inputs(night),
        params={"channel": "right", "collapse": "mean", "size": 64},
        output_dir=tmp_path,
    )
    assert manifest.status == "ok", manifest.error
    (cube,) = paths(manifest, "IRD_SCIENCE_CUBE")
    n_files = len(of_type(night.night, "IRD_SCIENCE_DBI_RAW"))
    assert fits.getdata(cube).shape == (n_files, 64, 64)
    assert cube.stem.endswith("H3")


# -- bad input ---------------------------------------------------------------------------------


def failed(manifest) -> str:
    assert manifest.status == "error"
    assert manifest.products == ()
    assert "Traceback" not in (manifest.error or "")
    return manifest.error or ""


def test_darks_of_another_dit_name_the_file_and_keyword(
    reduced: tuple[ReducedNight, ...], tmp_path: Path
) -> None:
    night = reduced[0]
    inputs = preprocess_inputs(night)
    two_seconds = [p for p in inputs["IRD_MASTER_DARK"] if header_of(p)[DIT_KEY] == 2.0]
    inputs["IRD_MASTER_DARK"] = two_seconds
    inputs["IRD_MASTER_BACKGROUND"] = []
    error = failed(run_sphere_recipe("ird_preprocess", inputs=inputs, output_dir=tmp_path))
    first = sorted(inputs["IRD_SCIENCE_RAW"])[0].name
    assert f"file {first}, keyword {DIT_KEY}" in error
    assert "no sky, background or dark with DIT 48 s (available: dark 2 s)" in error


def test_a_sequence_without_flats_is_refused_naming_the_slot(
    reduced: tuple[ReducedNight, ...], tmp_path: Path
) -> None:
    inputs = preprocess_inputs(reduced[0])
    inputs["IRD_FLAT_FIELD"] = []
    error = failed(run_sphere_recipe("ird_preprocess", inputs=inputs, output_dir=tmp_path))
    assert "needs at least 1 IRD_FLAT_FIELD" in error


def test_a_star_centre_frame_of_another_filter_names_file_and_keyword(
    reduced: tuple[ReducedNight, ...], tmp_path: Path
) -> None:
    night = reduced[0]
    (raw,) = of_type(night.night, "IRD_STAR_CENTER_RAW")
    other = tmp_path / raw.name
    with fits.open(raw) as hdul:
        hdul[0].header[FILTER_KEY] = "DB_K12"
        hdul.writeto(other)
    error = failed(
        run_sphere_recipe(
            "ird_star_center",
            inputs={"IRD_STAR_CENTER_RAW": [other], **night.calibrations()},
            output_dir=tmp_path / "out",
        )
    )
    assert f"file {other.name}, keyword {FILTER_KEY}" in error
    assert "no detector flat of filter 'DB_K12'" in error


@pytest.mark.parametrize(
    ("value", "message"),
    [(None, "absent from the header"), ("n/a", "expected a number, found 'n/a'")],
)
def test_absent_or_corrupt_parang_names_the_file_and_keyword(
    reduced: tuple[ReducedNight, ...], tmp_path: Path, value: str | None, message: str
) -> None:
    night = reduced[0]
    inputs = preprocess_inputs(night)
    science = sorted(inputs["IRD_SCIENCE_RAW"])
    broken = tmp_path / science[1].name
    shutil.copy(science[1], broken)
    with fits.open(broken, mode="update") as hdul:
        if value is None:
            del hdul[0].header[PARANG_START]
        else:
            hdul[0].header[PARANG_START] = value
    inputs["IRD_SCIENCE_RAW"] = [science[0], broken, *science[2:]]
    error = failed(run_sphere_recipe("ird_preprocess", inputs=inputs, output_dir=tmp_path / "o"))
    assert f"file {broken.name}, keyword {PARANG_START}: {message}" in error
    # The pointing (RA, DEC, LST) stands in when asked to.
    rescued = run_sphere_recipe(
        "ird_preprocess",
        inputs=inputs,
        params={"angle_source": "auto", "channel": "left"},
        output_dir=tmp_path / "auto",
    )
    assert rescued.status == "ok", rescued.error
    assert rescued.qc["parang_source"] == "ephemeris/header"


def test_inputs_of_the_wrong_kind_are_named(
    reduced: tuple[ReducedNight, ...], tmp_path: Path
) -> None:
    night = reduced[0]
    flats = of_type(night.night, "IRD_FLAT_FIELD_RAW")
    error = failed(
        run_sphere_recipe(
            "ird_star_center",
            inputs={"IRD_STAR_CENTER_RAW": flats, **night.calibrations()},
            output_dir=tmp_path,
        )
    )
    assert f"{flats[0].name} is a IRD_FLAT_FIELD_RAW, not a IRD_STAR_CENTER_RAW" in error
    error = failed(run_sphere_recipe("ird_nothing", inputs=[], output_dir=tmp_path / "x"))
    assert "unknown IRDIS recipe 'ird_nothing'" in error
    assert set(SPHERE_RECIPES) == {
        "ird_master_dark",
        "ird_flat",
        "ird_star_center",
        "ird_flux",
        "ird_preprocess",
    }


def test_calibrating_twice_gives_the_same_products(irdis_demo: IrdisDemo, tmp_path: Path) -> None:
    night = irdis_demo.nights[1]
    first = calibrate(night, tmp_path / "a")
    second = calibrate(night, tmp_path / "b")
    for step in ("dark", "flat"):
        for a, b in zip(first.steps[step].products, second.steps[step].products, strict=True):
            if a.path.endswith(".fits"):
                np.testing.assert_array_equal(fits.getdata(a.path), fits.getdata(b.path))
