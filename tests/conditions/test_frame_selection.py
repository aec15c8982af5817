"""hci_frame_selection rejects frames by tau0, Strehl and DTTS drift from the conditions input,
says which and why, and the ADI step then runs on the frames kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from hcdc_kernel.conditions import (
    ConditionParameter,
    ConditionSeries,
    ConditionSource,
    write_conditions_file,
)
from hcdc_kernel.recipes.hci import run_hci_recipe
from tests.conditions.files import START, unix

N_FRAMES = 20
DIT = 16.0
PERIOD = 60.0
BAD_TAU0 = {8, 9, 10, 11}
BAD_STREHL = {14, 15}
DRIFTED = {18}
NO_TELEMETRY = 19


def _cube(path: Path) -> Path:
    """A centred cube with per-frame ``MJD`` (middle of each DIT) in its ANGLES table."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:32, :32]
    star = 1000.0 * np.exp(-((xx - 16) ** 2 + (yy - 16) ** 2) / 8.0)
    cube = star[None] + rng.normal(0.0, 1.0, (N_FRAMES, 32, 32))
    middles = unix(START) + PERIOD * np.arange(N_FRAMES) + DIT / 2
    header = fits.Header()
    header["HIERARCH HCDC PRO CATG"] = "IRD_SCIENCE_CUBE"
    header["HIERARCH HCDC PIXSCALE"] = 0.01225
    header["HIERARCH ESO DET SEQ1 DIT"] = DIT
    angles = Table(
        {
            "PARANG": np.linspace(0.0, 60.0, N_FRAMES),
            "MJD": middles / 86400.0 + 40587.0,
        }
    )
    table = fits.table_to_hdu(angles)
    table.name = "ANGLES"
    fits.HDUList([fits.PrimaryHDU(cube.astype(np.float32), header), table]).writeto(path)
    return path


def _conditions(path: Path) -> Path:
    """Samples every 4 s; bad tau0, bad Strehl and a DTTS drift on chosen frames; nothing at
    all during the last frame."""
    times = unix(START) + np.arange(0.0, PERIOD * N_FRAMES, 4.0)
    frame = ((times - unix(START)) // PERIOD).astype(int)
    keep = frame != NO_TELEMETRY
    tau0 = np.where(np.isin(frame, list(BAD_TAU0)), 0.0015, 0.005)
    strehl = np.where(np.isin(frame, list(BAD_STREHL)), 0.3, 0.7)
    x = np.where(np.isin(frame, list(DRIFTED)), 17.5, 15.5)

    def series(parameter: ConditionParameter, values: np.ndarray) -> ConditionSeries:
        return ConditionSeries.build(parameter, ConditionSource.SPARTA, times[keep], values[keep])

    return write_conditions_file(
        path,
        [
            series(ConditionParameter.TAU0, tau0),
            series(ConditionParameter.STREHL, strehl),
            series(ConditionParameter.DTTS_X, x),
            series(ConditionParameter.DTTS_Y, np.full(times.size, 15.5)),
        ],
    )


def test_selection_by_conditions_changes_the_adi_inputs(tmp_path: Path) -> None:
    cube = _cube(tmp_path / "cube.fits")
    conditions = _conditions(tmp_path / "conditions.fits")
    selected = run_hci_recipe(
        "hci_frame_selection",
        inputs={"SCIENCE": [cube], "CONDITIONS": [conditions]},
        params={
            "min_tau0": 0.002,
            "min_strehl": 0.5,
            "max_dtts_drift": 1.0,
            "flux_sigma": 0,
            "correlation_sigma": 0,
            "pxscale": 0.01225,
        },
        output_dir=tmp_path / "selection",
    )
    assert selected.status == "ok", selected.error
    rejected = BAD_TAU0 | BAD_STREHL | DRIFTED
    assert selected.qc["n_rejected"] == len(rejected)
    table = Table.read(selected.product("HCI_FRAME_SELECTION").path, hdu=1)
    reasons = dict(zip(table["frame"], table["reasons"], strict=True))
    assert {f for f, r in reasons.items() if r} == rejected
    assert all(reasons[f] == "tau0" for f in BAD_TAU0)
    assert all(reasons[f] == "strehl" for f in BAD_STREHL)
    assert reasons[18] == "dtts_drift"
    raw = fits.getdata(selected.product("HCI_FRAME_SELECTION").path, 1)
    assert np.isnan(raw["tau0"][NO_TELEMETRY]) and not reasons[NO_TELEMETRY]
    np.testing.assert_allclose(table["tau0"][0], 0.005)
    np.testing.assert_allclose(table["dtts_drift"][18], 2.0, atol=1e-9)
    log = (tmp_path / "selection" / "recipe.log").read_text()
    assert "frame 8 rejected: tau0 0.0015 (limit 0.002)" in log
    assert "frame 14 rejected: strehl 0.3 (limit 0.5)" in log
    assert "tau0 per frame from the conditions file" in log
    assert "tau0 unknown for frame(s) 19" in log
    with fits.open(selected.product("HCI_CENTERED_CUBE").path) as hdul:
        assert hdul[0].data.shape[0] == N_FRAMES - len(rejected)

    params = {"ncomp": 2, "fwhm": 4.0, "pxscale": 0.01225}
    everything = run_hci_recipe(
        "hci_adi_pca", inputs=[cube], params=params, output_dir=tmp_path / "adi_all"
    )
    kept = run_hci_recipe(
        "hci_adi_pca",
        inputs=[Path(selected.product("HCI_CENTERED_CUBE").path)],
        params=params,
        output_dir=tmp_path / "adi_kept",
    )
    assert everything.status == kept.status == "ok", (everything.error, kept.error)
    assert f"ADI on {N_FRAMES} frames" in (tmp_path / "adi_all" / "recipe.log").read_text()
    kept_log = (tmp_path / "adi_kept" / "recipe.log").read_text()
    assert f"ADI on {N_FRAMES - len(rejected)} frames" in kept_log


def test_a_limit_without_any_values_is_refused(tmp_path: Path) -> None:
    cube = _cube(tmp_path / "cube.fits")
    result = run_hci_recipe(
        "hci_frame_selection",
        inputs=[cube],
        params={"min_strehl": 0.5, "pxscale": 0.01225},
        output_dir=tmp_path / "out",
    )
    assert result.status == "error"
    assert "a strehl limit is set but no strehl values were found" in result.error
