"""`hcdc recipe run`: any recipe on files, with no service and no database, writing the
products and the manifest as a process's job does; clear errors for what does not fit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from click.testing import CliRunner

from hcdc_kernel.jobs.manifest import read_manifest
from hcdc_server.cli import main
from tests.server.fits_factory import write_frame


def _run(tmp_path: Path, *args: str) -> tuple[int, str]:
    """`hcdc recipe run ...` with a data directory that must stay untouched."""
    result = CliRunner().invoke(
        main, ["--data-dir", str(tmp_path / "no-data"), "recipe", "run", *args]
    )
    assert not (tmp_path / "no-data").exists(), "recipe run touched the data directory"
    return result.exit_code, result.output


def test_echo_on_a_frame_writes_products_and_manifest(tmp_path: Path) -> None:
    frame = write_frame(tmp_path / "in" / "frame.fits")
    out = tmp_path / "out"
    code, output = _run(
        tmp_path,
        "hcdc_echo",
        "--input",
        str(frame),
        "--param",
        "message=hello",
        "--output-dir",
        str(out),
    )
    assert code == 0, output
    manifest = read_manifest(out)
    assert manifest is not None and manifest.status == "ok", manifest
    assert (manifest.recipe, manifest.version) == ("hcdc_echo", "1.0")
    (product,) = manifest.products
    assert product.category == "HCDC_ECHO" and Path(product.path).parent == out / "products"
    assert str(out / "products") in output
    spec = json.loads((out / "spec.json").read_text())
    assert spec["inputs"] == [{"path": str(frame.resolve()), "tag": "ANY"}]
    assert spec["params"]["message"] == "hello"
    with fits.open(product.path) as hdul:
        assert hdul[0].header["HIERARCH ESO QC MESSAGE"] == "hello"
        assert hdul[0].header["HIERARCH HCDC IN0 TAG"] == "ANY"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["hcdc_ech"], "no recipe 'hcdc_ech' (did you mean hcdc_echo"),
        (["hcdc_echo", "--param", "volume=11"], "param volume: unknown parameter"),
        (["hcdc_echo", "--param", "novalue"], "is not KEY=VALUE"),
        (["hcdc_sleep", "--param", "seconds=-1"], "param seconds"),
        (["hcdc_echo", "--preset", "fast"], "unknown preset"),
        (["hcdc_echo", "--input", "missing.fits"], "missing.fits: no such file"),
        (["hcdc_echo", "--input", "{bad}"], "not a readable FITS file"),
        (["hci_snr_map", "--input", "{frame}"], "fits no input of hci_snr_map"),
        (["hci_snr_map"], "FINAL_IMAGE: needs at least 1"),
    ],
)
def test_what_does_not_fit_is_refused_clearly(
    tmp_path: Path, args: list[str], message: str
) -> None:
    bad = tmp_path / "bad.fits"
    bad.write_text("not FITS at all")
    frame = write_frame(tmp_path / "frame.fits")
    args = [a.format(bad=bad, frame=frame) for a in args]
    code, output = _run(tmp_path, *args, "--output-dir", str(tmp_path / "out"))
    assert code in (1, 2), output  # 2: a malformed option, as click answers it
    assert message in output, output
    assert not (tmp_path / "out").exists()


def test_the_output_directory_must_be_new_or_empty(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    code, output = _run(tmp_path, "hcdc_echo", "--output-dir", str(tmp_path / "out"))
    assert code == 1 and "not empty" in output
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def _centred_cube(path: Path, *, n_frames: int = 12, size: int = 31) -> Path:
    """A small centred ADI cube with its angles, as hci_star_center writes one."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:size, :size]
    c = size // 2
    halo = 500.0 * np.exp(-np.hypot(xx - c, yy - c) / 3.0)
    cube = halo[None] + rng.normal(0.0, 1.0, (n_frames, size, size))
    header = fits.Header()
    header["HIERARCH HCDC PRO CATG"] = "HCI_CENTERED_CUBE"
    header["HIERARCH HCDC PIXSCALE"] = 0.0272
    angles = fits.BinTableHDU(Table({"PARANG": np.linspace(-40.0, 40.0, n_frames)}), name="ANGLES")
    fits.HDUList([fits.PrimaryHDU(cube.astype(np.float32), header=header), angles]).writeto(path)
    return path


def test_an_hci_recipe_on_a_synthetic_cube(tmp_path: Path) -> None:
    cube = _centred_cube(tmp_path / "cube.fits")
    out = tmp_path / "adi"
    code, output = _run(
        tmp_path,
        "hci_adi_pca",
        "--input",
        str(cube),
        "--param",
        "mode=median",
        "--param",
        "fwhm=4",
        "--output-dir",
        str(out),
    )
    assert code == 0, output
    manifest = read_manifest(out)
    assert manifest is not None and manifest.status == "ok", manifest
    assert "HCI_FINAL_IMAGE" in {p.category for p in manifest.products}
    assert json.loads((out / "spec.json").read_text())["inputs"][0]["tag"] == "SCIENCE"
    final = next(p.path for p in manifest.products if p.category == "HCI_FINAL_IMAGE")
    with fits.open(final) as hdul:
        assert hdul[0].data.shape == (31, 31)


def test_a_failing_recipe_names_the_reason_and_the_log(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = _run(tmp_path, "hcdc_sleep", "--param", "fail=raise", "--output-dir", str(out))
    assert code == 1 and "hcdc_sleep failed" in output, output
    assert str(out / "job.log") in output
    manifest = read_manifest(out)
    assert manifest is not None and manifest.status == "error" and manifest.error


def test_a_file_of_an_unknown_type_goes_where_tag_says(tmp_path: Path) -> None:
    plain = tmp_path / "plain.fits"
    fits.PrimaryHDU(np.zeros((4, 4), np.float32)).writeto(plain)
    code, output = _run(
        tmp_path, "hcdc_echo", "--input", f"ANY={plain}", "--output-dir", str(tmp_path / "o")
    )
    assert code == 0, output
    assert json.loads((tmp_path / "o" / "spec.json").read_text())["inputs"][0]["tag"] == "ANY"
