"""hci recipes through run_hci_recipe on FITS files: products, manifests and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from hcdc_kernel.jobs.manifest import JobManifest
from hcdc_kernel.products.companions import CompanionTable
from hcdc_kernel.products.provenance import meta_from_header
from hcdc_kernel.recipes.hci import HCI_RECIPES, run_hci_recipe
from hcdc_kernel.recipes.registry import hci_recipe_specs

EXPECTED = {
    "hci_star_center",
    "hci_frame_selection",
    "hci_adi_pca",
    "hci_rdi_pca",
    "hci_paco",
    "hci_snr_map",
    "hci_contrast_curve",
    "hci_companion_characterization",
    "hci_polarimetry",
}


def _write_raw(path, data, dpr_type, **cards):
    header = fits.Header()
    header["HIERARCH ESO DPR TYPE"] = dpr_type
    header["HIERARCH HCDC PIXSCALE"] = 0.0272
    for key, value in cards.items():
        header[f"HIERARCH {key.replace('_', ' ')}"] = value
    hdus = [fits.PrimaryHDU(data=np.asarray(data, dtype=np.float32), header=header)]
    fits.HDUList(hdus).writeto(path)
    return path


def _science_files(tmp_path, syn, *, angles=None):
    """A raw OBJECT cube with its angles in a PARANG table, and an OBJECT,FLUX PSF.

    Both are integrated 1 s (``ESO DET DIT``): the PSF's flux is the star's in the cube.
    """
    cube_path = tmp_path / "science.fits"
    header = fits.Header()
    header["HIERARCH ESO DPR TYPE"] = "OBJECT"
    header["OBJECT"] = "SYNTH"
    header["HIERARCH HCDC PIXSCALE"] = 0.0272
    header["HIERARCH ESO DET DIT"] = 1.0
    values = syn.angles if angles is None else angles
    table = fits.BinTableHDU(Table({"PARANG": np.asarray(values)}), name="ANGLES")
    fits.HDUList([fits.PrimaryHDU(data=syn.cube.astype(np.float32), header=header), table]).writeto(
        cube_path
    )
    psf_path = _write_raw(tmp_path / "psf.fits", syn.psf * 1000.0, "OBJECT,FLUX", ESO_DET_DIT=1.0)
    return cube_path, psf_path


def test_registry_declares_every_recipe():
    assert set(HCI_RECIPES) == EXPECTED
    specs = {s.name: s for s in hci_recipe_specs()}
    assert set(specs) == EXPECTED
    schema = HCI_RECIPES["hci_adi_pca"].params_schema()
    assert schema["properties"]["mode"]["enum"] == ["median", "full", "annular"]
    assert specs["hci_adi_pca"].primary_slot is not None


def test_chain_center_adi_snr_characterisation(tmp_path, make_adi_cube):
    syn = make_adi_cube(n_frames=20, size=41, noise=1.0, companions=[(11.0, 140.0, 250.0)])
    # Move the star off the frame centre, as a raw cube has it.
    from hcdc_kernel.hci.centering import shift_frames

    shifted = type(syn)(
        cube=shift_frames(syn.cube, dx=0.6, dy=-0.4),
        angles=syn.angles,
        psf=syn.psf,
        fwhm=syn.fwhm,
        speckles=syn.speckles,
        companions=syn.companions,
    )
    cube_path, psf_path = _science_files(tmp_path, shifted)
    seen = []
    centre = run_hci_recipe(
        "hci_star_center",
        inputs=[cube_path, psf_path],
        params={"fwhm": "4", "method": "core"},
        output_dir=tmp_path / "center",
        progress=seen.append,
    )
    assert centre.status == "ok", centre.error
    assert seen[0] == 0.0 and seen[-1] == 100.0
    assert all(0 <= p <= 100 for p in seen)
    from hcdc_kernel.hci.centering import fit_star_core

    before = fit_star_core(syn.cube, fwhm=4.0)
    assert centre.qc["mean_shift_x"] == pytest.approx(np.mean(before.shift_x) - 0.6, abs=0.05)
    assert centre.qc["mean_shift_y"] == pytest.approx(np.mean(before.shift_y) + 0.4, abs=0.05)
    assert JobManifest.read(tmp_path / "center") == centre
    centred = centre.product("HCI_CENTERED_CUBE").path
    psf = centre.product("HCI_PSF").path
    with fits.open(centred) as hdul:
        category, meta = meta_from_header(hdul[0].header)
        assert category == "HCI_CENTERED_CUBE"
        assert meta["method"] == "core_gaussian"
        assert np.allclose(hdul["ANGLES"].data["PARANG"], syn.angles)

    adi = run_hci_recipe(
        "hci_adi_pca",
        inputs=[centred],
        params={"mode": "annular", "ncomp": 3, "fwhm": 4.0, "mask_center_px": 4},
        output_dir=tmp_path / "adi",
    )
    assert adi.status == "ok", adi.error
    snr = run_hci_recipe(
        "hci_snr_map",
        inputs=[adi.product("HCI_FINAL_IMAGE").path],
        params={},
        output_dir=tmp_path / "snr",
    )
    assert snr.status == "ok", snr.error
    assert snr.qc["snr_max"] > 5

    char = run_hci_recipe(
        "hci_companion_characterization",
        inputs=[centred, psf],
        params={"ncomp": 3, "negfc_ncomp": 3, "fwhm": 4.0, "threshold": 5},
        output_dir=tmp_path / "char",
    )
    assert char.status == "ok", char.error
    table = CompanionTable.read(char.product("HCI_COMPANION_TABLE").path).table
    assert len(table) >= 1
    best = table[int(np.argmax(np.asarray(table["snr"])))]
    assert best["sep_px"].value == pytest.approx(11.0, abs=0.5)
    assert best["pa_deg"].value == pytest.approx(140.0, abs=3.0)
    assert best["flux"].value == pytest.approx(250.0, rel=0.15)
    assert best["sep_arcsec"].value == pytest.approx(11.0 * 0.0272, abs=0.02)


def test_frame_selection_recipe_and_empty_selection(tmp_path, make_adi_cube):
    syn = make_adi_cube(n_frames=12, size=31)
    cube = syn.cube.copy()
    cube[3] *= 0.3
    cube_path, _ = _science_files(
        tmp_path, type(syn)(cube, syn.angles, syn.psf, syn.fwhm, syn.speckles)
    )
    seeing = ",".join(["0.8"] * 11 + ["2.0"])
    ok = run_hci_recipe(
        "hci_frame_selection",
        inputs=[cube_path],
        params={"outer_radius": 12, "seeing": seeing, "max_seeing": 1.5},
        output_dir=tmp_path / "sel",
    )
    assert ok.status == "ok", ok.error
    assert ok.qc["n_rejected"] == 2
    table = Table.read(ok.product("HCI_FRAME_SELECTION").path, hdu=1)
    reasons = dict(zip(table["frame"], table["reasons"], strict=True))
    assert "flux_low" in reasons[3].split(",") and reasons[11] == "seeing"
    with fits.open(ok.product("HCI_CENTERED_CUBE").path) as hdul:
        assert hdul[0].data.shape[0] == 10
        assert len(hdul["ANGLES"].data) == 10
    empty = run_hci_recipe(
        "hci_frame_selection",
        inputs=[cube_path],
        params={"max_seeing": 0.1, "seeing": ",".join(["0.8"] * 12)},
        output_dir=tmp_path / "empty",
    )
    assert empty.status == "error"
    assert "rejected all" in empty.error
    assert empty.products == ()
    assert not (tmp_path / "empty" / "selected_cube.fits").exists()
    assert "rejected all" in (tmp_path / "empty" / "recipe.log").read_text()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("angles_length", "parallactic angles"),
        ("nan", "NaN"),
        ("missing_psf", "PSF input"),
        ("unknown_param", "param bogus: unknown parameter"),
        ("bad_value", "ncomp"),
        ("unknown_recipe", "unknown hci recipe"),
        ("headerless", "cannot tell the role"),
    ],
)
def test_bad_input_gives_error_manifest(tmp_path, make_adi_cube, case, message):
    syn = make_adi_cube(n_frames=8, size=25)
    angles = syn.angles[:-1] if case == "angles_length" else None
    if case == "nan":
        syn.cube[2, 5, 5] = np.nan
    cube_path, psf_path = _science_files(tmp_path, syn, angles=angles)
    name, inputs, params = "hci_contrast_curve", [cube_path, psf_path], {"fwhm": 4.0}
    if case == "missing_psf":
        inputs = [cube_path]
    elif case == "unknown_param":
        params = {"bogus": 1}
    elif case == "bad_value":
        params = {"ncomp": "two"}
    elif case == "unknown_recipe":
        name = "hci_nothing"
    elif case == "headerless":
        plain = tmp_path / "plain.fits"
        fits.PrimaryHDU(data=syn.cube).writeto(plain)
        inputs = [plain]
    manifest = run_hci_recipe(name, inputs=inputs, params=params, output_dir=tmp_path / "out")
    assert manifest.status == "error"
    assert message in manifest.error
    assert manifest.products == ()
    on_disk = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert on_disk["status"] == "error" and message in on_disk["error"]
    assert message in (tmp_path / "out" / "recipe.log").read_text()


def test_rdi_recipe_prefers_the_similar_reference(tmp_path, make_adi_cube):
    syn = make_adi_cube(n_frames=10, size=31, seed=1)
    cube_path, _ = _science_files(tmp_path, syn)
    rng = np.random.default_rng(4)
    similar = 2.0 * syn.speckles[None] + rng.normal(size=(6, 31, 31))
    other = make_adi_cube(n_frames=6, size=31, seed=8).cube
    ref_a = _write_raw(tmp_path / "ref_a.fits", similar, "OBJECT", OBJECT="REF_A")
    ref_b = _write_raw(tmp_path / "ref_b.fits", other, "OBJECT", OBJECT="REF_B")
    manifest = run_hci_recipe(
        "hci_rdi_pca",
        inputs=[cube_path, ref_b, ref_a],
        params={"n_frames": 6, "ncomp": 3, "inner_radius": 2},
        output_dir=tmp_path / "rdi",
    )
    assert manifest.status == "ok", manifest.error
    table = Table.read(manifest.product("HCI_REFERENCE_LIBRARY").path, hdu=1)
    assert set(table["file"][table["selected"]]) == {"ref_a.fits"}
    roles = {r.path.split("/")[-1]: r.role for r in manifest.inputs}
    assert roles["ref_a.fits"] == "SCIENCE"  # by header; the recipe splits them by OBJECT
    assert manifest.product("HCI_FINAL_IMAGE")


def test_polarimetry_recipe(tmp_path):
    from tests.science.test_polarimetry import _disk_beams

    left, right, hwp, polarised = _disk_beams(size=32)
    inputs = []
    for k, angle in enumerate(hwp):
        frame = np.concatenate([left[k], right[k]], axis=1)
        path = tmp_path / f"dpi_{k}.fits"
        _write_raw(
            path, frame, "OBJECT", ESO_DPR_TECH="IMAGE,DUAL,POLARIMETRY", HCDC_HWP_ANGLE=angle
        )
        inputs.append(path)
    manifest = run_hci_recipe(
        "hci_polarimetry", inputs=inputs, params={}, output_dir=tmp_path / "pol"
    )
    assert manifest.status == "ok", manifest.error
    qphi = fits.getdata(manifest.product("HCI_DPI_QPHI").path)
    uphi = fits.getdata(manifest.product("HCI_DPI_UPHI").path)
    assert np.allclose(qphi, polarised, atol=1e-4 * polarised.max())
    assert np.max(np.abs(uphi)) < 1e-4 * polarised.max()


def test_contrast_curve_recipe(tmp_path, make_adi_cube):
    syn = make_adi_cube(n_frames=12, size=31, noise=1.0)
    cube_path, psf_path = _science_files(tmp_path, syn)
    manifest = run_hci_recipe(
        "hci_contrast_curve",
        inputs={"SCIENCE": [cube_path], "PSF": [psf_path]},
        params={"mode": "full", "ncomp": 2, "fwhm": 4.0},
        output_dir=tmp_path / "cc",
    )
    assert manifest.status == "ok", manifest.error
    categories = [p.category for p in manifest.products]
    assert categories == ["HCI_CONTRAST_CURVE", "HCI_CONTRAST_CURVE"]
    assert 0 < manifest.qc["best_contrast"] < 1


def test_star_center_defaults_find_a_vortex_dark_hole(tmp_path):
    """No method, box or guess: the median frame shows a dark hole, which is fitted."""
    from tests.science.conftest import gaussian_psf
    from tests.science.test_centering import _vortex_cube

    positions = np.array([(20.6, 19.7)] * 6) + np.linspace(-0.2, 0.2, 6)[:, None]
    cube = _vortex_cube(positions)
    header = fits.Header()
    header["HIERARCH ESO DPR TYPE"] = "OBJECT"
    header["HIERARCH HCDC PIXSCALE"] = 0.0272
    angles = fits.BinTableHDU(Table({"PARANG": np.linspace(0, 50, 6)}), name="ANGLES")
    cube_path = tmp_path / "vortex.fits"
    fits.HDUList([fits.PrimaryHDU(cube.astype(np.float32), header), angles]).writeto(cube_path)
    psf_path = _write_raw(tmp_path / "psf.fits", 100 * gaussian_psf(21, 4.0), "OBJECT,FLUX")
    centre = run_hci_recipe(
        "hci_star_center", inputs=[cube_path, psf_path], params={}, output_dir=tmp_path / "c"
    )
    assert centre.status == "ok", centre.error
    table = Table.read(centre.product("HCI_STAR_CENTERS").path, hdu=1)
    assert np.allclose(table["x"], positions[:, 0], atol=0.1)
    assert np.allclose(table["y"], positions[:, 1], atol=0.1)
    with fits.open(centre.product("HCI_CENTERED_CUBE").path) as hdul:
        assert meta_from_header(hdul[0].header)[1]["method"] == "dark_hole_gaussian"
        assert hdul[0].header["HCDC CENTRED"] is True
        assert hdul[0].header["HCDC FWHM"] == pytest.approx(4.0, abs=0.1)


def test_a_cube_marked_centred_is_passed_through(tmp_path, make_adi_cube):
    syn = make_adi_cube(n_frames=6, size=25)
    cube_path, _ = _science_files(tmp_path, syn)
    with fits.open(cube_path, mode="update") as hdul:
        hdul[0].header["HIERARCH HCDC CENTRED"] = True
    centre = run_hci_recipe(
        "hci_star_center", inputs=[cube_path], params={"fwhm": 4.0}, output_dir=tmp_path / "c"
    )
    assert centre.status == "ok", centre.error
    assert centre.qc["mean_shift_x"] == 0.0 and centre.qc["mean_shift_y"] == 0.0
    with fits.open(centre.product("HCI_CENTERED_CUBE").path) as hdul:
        assert meta_from_header(hdul[0].header)[1]["method"] == "none"
        np.testing.assert_array_equal(hdul[0].data, syn.cube.astype(np.float32))


def test_snr_map_reads_the_fwhm_the_adi_recorded(tmp_path, make_adi_cube):
    """Centring fits the FWHM on the PSF; ADI and then the S/N map need no fwhm parameter."""
    syn = make_adi_cube(n_frames=12, size=31, noise=1.0, companions=[(9.0, 60.0, 300.0)])
    cube_path, psf_path = _science_files(tmp_path, syn)
    centre = run_hci_recipe(
        "hci_star_center", inputs=[cube_path, psf_path], params={}, output_dir=tmp_path / "c"
    )
    assert centre.status == "ok", centre.error
    adi = run_hci_recipe(
        "hci_adi_pca",
        inputs=[centre.product("HCI_CENTERED_CUBE").path],
        params={"ncomp": 2},
        output_dir=tmp_path / "adi",
    )
    assert adi.status == "ok", adi.error
    final = adi.product("HCI_FINAL_IMAGE").path
    assert fits.getheader(final)["HCDC FWHM"] == pytest.approx(4.0, abs=0.1)
    assert adi.qc["fwhm_px"] == pytest.approx(4.0, abs=0.1)
    snr = run_hci_recipe("hci_snr_map", inputs=[final], params={}, output_dir=tmp_path / "snr")
    assert snr.status == "ok", snr.error
    assert snr.qc["snr_max"] > 5


def test_companion_fits_closer_than_a_fwhm_are_one_companion(tmp_path, make_adi_cube, monkeypatch):
    """Two S/N maxima whose NEGFC fits meet (0.05 px apart) are listed once, the brighter."""
    from hcdc_kernel.hci.characterization import Detection, NegfcResult
    from hcdc_kernel.recipes.hci import hci_companion_characterization as recipe

    def fit_at(x: float) -> NegfcResult:
        return NegfcResult(
            x=x, y=21.0, sep_px=9.0, pa_deg=270.0, flux=300.0, sep_err=0.1, pa_err=0.5,
            flux_err=10.0, snr=9.0, throughput=0.5, chi2=1.0, n_evaluations=10,
            uncertainty="noise",
        )

    detections = (
        Detection(x=29, y=21, snr=9.0, sep_px=9.0, pa_deg=270.0),
        Detection(x=24, y=24, snr=6.0, sep_px=5.0, pa_deg=300.0),
    )
    fits_ = iter([fit_at(29.0), fit_at(29.05)])
    monkeypatch.setattr(recipe, "detect_sources", lambda *a, **k: detections)
    monkeypatch.setattr(recipe, "negfc", lambda *a, **k: next(fits_))
    syn = make_adi_cube(n_frames=8, size=41)
    cube_path, psf_path = _science_files(tmp_path, syn)
    manifest = run_hci_recipe(
        "hci_companion_characterization",
        inputs=[cube_path, psf_path],
        params={"ncomp": 2, "fwhm": 4.0},
        output_dir=tmp_path / "char",
    )
    assert manifest.status == "ok", manifest.error
    table = CompanionTable.read(manifest.product("HCI_COMPANION_TABLE").path)
    assert len(table) == 1
    assert table.table["x"][0].value == 29.0 and table.table["snr"][0].value == 9.0
    assert table.meta["n_merged"] == 1
