"""The synthetic SPHERE/IRDIS demo nights and the NACO beta Pic copies.

Frame types are read back from the DPR keywords of the written headers with hcdc's own
classifier, and the injected companions are found again by a classical ADI reduction
(median subtraction, derotation with vip-hci) driven only by the headers.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import CIRS, AltAz, EarthLocation, SkyCoord
from astropy.io import fits
from astropy.time import Time
from scipy.ndimage import shift

from hcdc_kernel.demo import DemoManifest, read_companions, write_demo_nights, write_naco_betapic
from hcdc_kernel.frames import classify, observation_night
from tests.conftest import SHARED_DIR, shared_data

# vip-hci warns on import when numba is not installed (it then runs pure numpy).
pytestmark = pytest.mark.filterwarnings("ignore::ImportWarning:vip_hci.*")

PARANAL = EarthLocation.from_geodetic(-70.4045 * u.deg, -24.6272 * u.deg, 2635.43 * u.m)
ON_SKY_REDUCED = {"IRD_SCIENCE_DBI_RAW", "IRD_STAR_CENTER_RAW", "IRD_FLUX_RAW", "IRD_SKY_RAW"}


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoManifest:
    return write_demo_nights(tmp_path_factory.mktemp("demo"), quick=True)


def headers_of(manifest: DemoManifest) -> dict[Path, fits.Header]:
    return {path: fits.getheader(path) for path in manifest.files}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


# -- files and headers --------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_noise(
    quick_demo: DemoManifest, tmp_path: Path
) -> None:
    again = write_demo_nights(tmp_path / "again", quick=True)
    relative = [p.relative_to(quick_demo.root) for p in quick_demo.files]
    assert [p.relative_to(again.root) for p in again.files] == relative
    assert all(digest(a) == digest(b) for a, b in zip(quick_demo.files, again.files, strict=True))
    assert (again.root / "companions.json").read_text() == (
        quick_demo.root / "companions.json"
    ).read_text()

    other = write_demo_nights(tmp_path / "other", seed=7, quick=True)
    assert [p.relative_to(other.root) for p in other.files] == relative  # same plan
    science = next(
        p for p in quick_demo.files if fits.getval(p, "HIERARCH ESO DPR TYPE") == "OBJECT"
    )
    counterpart = other.root / science.relative_to(quick_demo.root)
    assert not np.array_equal(fits.getdata(science), fits.getdata(counterpart))


def test_every_file_is_valid_fits_with_the_layout_of_irdis(quick_demo: DemoManifest) -> None:
    size = json.loads((quick_demo.root / "companions.json").read_text())["size"]
    for path in quick_demo.files:
        assert path.name == f"SPHER.{fits.getval(path, 'DATE-OBS')[:23]}.fits"
        with fits.open(path) as hdul:
            hdul.verify("exception")
            header, data = hdul[0].header, hdul[0].data
            assert data.dtype == np.dtype(">f4")
            assert data.shape == (header["HIERARCH ESO DET NDIT"], size, 2 * size)
            assert np.isfinite(data).all()
            assert header["INSTRUME"] == "SPHERE"
            assert header["HIERARCH ESO SEQ ARM"] == "IRDIS"
            assert header["ARCFILE"] == path.name
            assert header["EXPTIME"] == pytest.approx(
                header["HIERARCH ESO DET SEQ1 DIT"] * header["HIERARCH ESO DET NDIT"]
            )


def test_counts_by_frame_type_from_the_headers(quick_demo: DemoManifest) -> None:
    classified = Counter()
    for header in headers_of(quick_demo).values():
        frame_type, reason = classify(header)
        assert reason is None
        classified[frame_type] += 1
    assert classified == Counter(dict(quick_demo.counts))
    assert set(classified) >= {
        "IRD_SCIENCE_DBI_RAW",
        "IRD_STAR_CENTER_RAW",
        "IRD_FLUX_RAW",
        "IRD_SKY_RAW",
        "IRD_DARK_RAW",
        "IRD_BACKGROUND_RAW",
        "IRD_FLAT_FIELD_RAW",
    }
    assert len(quick_demo.files) <= 32


def test_full_night_has_about_a_hundred_files(tmp_path: Path) -> None:
    manifest = write_demo_nights(tmp_path, size=64)
    classified = Counter(classify(fits.getheader(p))[0] for p in manifest.files)
    assert classified == Counter(dict(manifest.counts))
    assert 80 <= len(manifest.files) <= 120
    assert classified["ACQUISITION"] >= 1


def test_morning_calibrations_belong_to_the_night_before(quick_demo: DemoManifest) -> None:
    for path, header in headers_of(quick_demo).items():
        when = parse_utc(header["DATE-OBS"])
        assert observation_night(when).isoformat() == path.parent.name
        catg = header["HIERARCH ESO DPR CATG"]
        if catg == "CALIB":
            assert when.hour >= 10 and when.date() > observation_night(when)
        elif header["HIERARCH ESO DPR TYPE"] == "OBJECT":
            assert 2 <= when.hour <= 5


def test_darks_and_backgrounds_cover_every_dit(quick_demo: DemoManifest) -> None:
    by_night: dict[str, dict[str, set[float]]] = {}
    for path, header in headers_of(quick_demo).items():
        frame_type, _ = classify(header)
        kinds = by_night.setdefault(path.parent.name, {})
        kinds.setdefault(frame_type, set()).add(round(header["HIERARCH ESO DET SEQ1 DIT"], 2))
    for kinds in by_night.values():
        used = set().union(
            *(dits for t, dits in kinds.items() if t in ON_SKY_REDUCED | {"IRD_FLAT_FIELD_RAW"})
        )
        assert used <= kinds["IRD_DARK_RAW"]
        assert used <= kinds["IRD_BACKGROUND_RAW"]
        assert len(kinds["IRD_FLUX_RAW"] & kinds["IRD_SCIENCE_DBI_RAW"]) == 0  # flux DIT differs


def test_pointing_keywords_agree_with_astropy(quick_demo: DemoManifest) -> None:
    """Parallactic angle = position angle of the zenith seen from the star (true equator)."""
    for header in headers_of(quick_demo).values():
        if "RA" not in header:
            assert header["HIERARCH ESO DPR CATG"] == "CALIB"
            continue
        assert header["HIERARCH ESO INS4 DROT2 MODE"] == "ELEV"
        for edge, key in (("START", "DATE-OBS"), ("END", "HIERARCH ESO DET FRAM UTC")):
            when = Time(header[key], scale="utc")
            star = SkyCoord(header["RA"] * u.deg, header["DEC"] * u.deg).transform_to(
                CIRS(obstime=when)
            )
            altaz = AltAz(obstime=when, location=PARANAL)
            zenith = SkyCoord(alt=90 * u.deg, az=0 * u.deg, frame=altaz).transform_to(
                CIRS(obstime=when)
            )
            parang = star.position_angle(zenith).wrap_at(180 * u.deg).deg
            assert header[f"HIERARCH ESO TEL PARANG {edge}"] == pytest.approx(parang, abs=0.01)
            airmass = float(star.transform_to(altaz).secz)
            assert header[f"HIERARCH ESO TEL AIRM {edge}"] == pytest.approx(airmass, abs=2e-3)


# -- science content ----------------------------------------------------------------------------


def science_cube(
    manifest: DemoManifest, night: str, field: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """One field of all science frames of a night, recentred, and per-frame derotation angles.

    Frame times follow the SPHERE pipelines: DATE-OBS + i (DET FRAM UTC − DATE-OBS) / NDIT
    + DIT / 2; the parallactic angle is interpolated between TEL PARANG START and END.
    """
    frames, angles = [], []
    x0, x1 = field["x_range"]
    cx, cy = field["star_center_px"]
    for path in sorted(manifest.files):
        if path.parent.name != night:
            continue
        header = fits.getheader(path)
        if classify(header)[0] != "IRD_SCIENCE_DBI_RAW":
            continue
        ndit, dit = header["HIERARCH ESO DET NDIT"], header["HIERARCH ESO DET SEQ1 DIT"]
        start = parse_utc(header["DATE-OBS"])
        span = (parse_utc(header["HIERARCH ESO DET FRAM UTC"]) - start).total_seconds()
        p0, p1 = header["HIERARCH ESO TEL PARANG START"], header["HIERARCH ESO TEL PARANG END"]
        data = fits.getdata(path).astype(np.float64)
        for i in range(ndit):
            t = i * span / ndit + dit / 2
            angles.append(p0 + (p1 - p0) * t / span + 135.99 - 1.75)
            size = x1 - x0
            frames.append(shift(data[i, :, x0:x1], (size / 2 - cy, size / 2 - cx), order=3))
    return np.array(frames), np.array(angles)


@pytest.mark.parametrize(("night", "field_index"), [("2019-05-27", 0), ("2019-05-29", 1)])
def test_companion_is_where_companions_json_says_after_derotation(
    quick_demo: DemoManifest, night: str, field_index: int
) -> None:
    from vip_hci.preproc import cube_derotate

    truth = json.loads((quick_demo.root / "companions.json").read_text())
    size = truth["size"]
    field = next(n for n in truth["nights"] if n["night"] == night)["fields"][field_index]
    (companion,) = [
        c for c in quick_demo.companions if c.night == night and c.filter == field["filter"]
    ]
    assert companion in read_companions(quick_demo.root / "companions.json")

    cube, angles = science_cube(quick_demo, night, field)
    assert angles.max() - angles.min() > 30.0  # enough field rotation for ADI
    residuals = cube - np.median(cube, axis=0)  # static speckles cancel, the companion does not
    image = np.median(cube_derotate(residuals, angles, imlib="skimage"), axis=0)

    pa = np.radians(companion.pa_deg)
    expected_x = size / 2 - companion.sep_px * np.sin(pa)  # east is left
    expected_y = size / 2 + companion.sep_px * np.cos(pa)  # north is up
    y, x = np.indices(image.shape)
    annulus = np.abs(np.hypot(x - size / 2, y - size / 2) - companion.sep_px) < 3
    peak_y, peak_x = np.unravel_index(np.argmax(np.where(annulus, image, -np.inf)), image.shape)
    assert np.hypot(peak_x - expected_x, peak_y - expected_y) < 1.5
    background = annulus & (np.hypot(x - expected_x, y - expected_y) > 8)
    assert image[peak_y, peak_x] > 8 * image[background].std()

    # Derotating the wrong way smears the companion: nothing left at its position.
    wrong = np.median(cube_derotate(residuals, -angles, imlib="skimage"), axis=0)
    assert wrong[round(expected_y), round(expected_x)] < 3 * image[background].std()


def test_speckles_are_static_while_the_companion_moves(quick_demo: DemoManifest) -> None:
    truth = json.loads((quick_demo.root / "companions.json").read_text())
    size = truth["size"]
    night = truth["nights"][0]
    cube, angles = science_cube(quick_demo, night["night"], night["fields"][0])
    first, last = cube[0], cube[-1]
    y, x = np.indices(first.shape)
    r = np.hypot(x - size / 2, y - size / 2)
    speckle_zone = (r > 4) & (r < 14)  # inside the companion's orbit
    correlation = np.corrcoef(first[speckle_zone], last[speckle_zone])[0, 1]
    assert correlation > 0.9
    assert abs(angles[-1] - angles[0]) > 30.0


def test_flux_frames_hold_an_unsaturated_off_axis_psf(quick_demo: DemoManifest) -> None:
    truth = json.loads((quick_demo.root / "companions.json").read_text())
    night = truth["nights"][0]
    field = night["fields"][0]
    x0, x1 = field["x_range"]
    flux_path = next(
        p
        for p in quick_demo.files
        if p.parent.name == night["night"] and classify(fits.getheader(p))[0] == "IRD_FLUX_RAW"
    )
    header = fits.getheader(flux_path)
    assert header["HIERARCH ESO INS4 FILT2 NAME"] == night["flux_nd_filter"]
    image = fits.getdata(flux_path)[0, :, x0:x1].astype(np.float64)
    image -= np.median(image)
    peak_y, peak_x = np.unravel_index(np.argmax(image), image.shape)
    cx, cy = field["star_center_px"]
    assert np.hypot(peak_x - cx, peak_y - cy) < 1.0
    # FWHM from the area above half maximum: about 4 pixels in H.
    fwhm = 2 * np.sqrt(np.count_nonzero(image > image.max() / 2) / np.pi)
    assert 3.0 < fwhm < 5.0
    assert image.max() < 3.0e4


# -- NACO beta Pic ------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_naco_betapic_copies_carry_headers(tmp_path: Path) -> None:
    source = shared_data("naco_betapic")
    written = write_naco_betapic(SHARED_DIR, tmp_path)
    assert len(written) == 3
    assert all(p.parent == tmp_path / "raw" / "naco_betapic" for p in written)
    types = {classify(fits.getheader(p))[0]: p for p in written}
    assert set(types) == {"NACO_IMG_OBJECT_RAW", "NACO_IMG_FLUX_RAW", "HCI_ANGLES"}

    cube_header = fits.getheader(types["NACO_IMG_OBJECT_RAW"])
    assert cube_header["INSTRUME"] == "NACO"
    assert cube_header["OBJECT"] == "beta Pic"
    assert cube_header["HIERARCH ESO INS OPTI7 NAME"] == "L27"
    assert cube_header["HIERARCH ESO INS OPTI6 NAME"] == "L_prime"
    assert cube_header["HIERARCH HCDC PIXSCALE"] == pytest.approx(0.02719)
    np.testing.assert_array_equal(
        fits.getdata(types["NACO_IMG_OBJECT_RAW"]), fits.getdata(source / "naco_betapic_cube.fits")
    )
    np.testing.assert_array_equal(
        fits.getdata(types["NACO_IMG_FLUX_RAW"]), fits.getdata(source / "naco_betapic_psf.fits")
    )
    angles = fits.getdata(types["HCI_ANGLES"])
    np.testing.assert_array_equal(angles, fits.getdata(source / "naco_betapic_pa.fits").ravel())
    assert cube_header["HIERARCH ESO TEL PARANG START"] == pytest.approx(angles[0], abs=1e-3)
    assert cube_header["HIERARCH ESO TEL PARANG END"] == pytest.approx(angles[-1], abs=1e-3)

    # The reconstructed start time really gives beta Pic that parallactic angle at Paranal.
    when = Time(cube_header["DATE-OBS"], scale="utc")
    star = SkyCoord(cube_header["RA"] * u.deg, cube_header["DEC"] * u.deg).transform_to(
        CIRS(obstime=when)
    )
    zenith = SkyCoord(alt=90 * u.deg, az=0 * u.deg, frame=AltAz(obstime=when, location=PARANAL))
    parang = star.position_angle(zenith.transform_to(CIRS(obstime=when))).wrap_at(180 * u.deg).deg
    assert parang == pytest.approx(float(angles[0]), abs=0.1)
    assert observation_night(parse_utc(cube_header["DATE-OBS"])).isoformat() == "2013-01-31"


@pytest.mark.parametrize("shared", [None, Path("does-not-exist")])
def test_naco_betapic_absent_returns_nothing_and_warns(
    tmp_path: Path, shared: Path | None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="hcdc_kernel.demo.naco"):
        assert write_naco_betapic(None if shared is None else tmp_path / shared, tmp_path) == ()
    assert "NACO beta Pic data not found" in caplog.text
    assert not (tmp_path / "raw").exists()


def test_rejects_fields_too_small_for_the_waffle_spots(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 64"):
        write_demo_nights(tmp_path, size=48, quick=True)
