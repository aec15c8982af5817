"""The NACO beta Pic chain through the client: centre -> ADI PCA -> S/N -> contrast -> companions.

The live server's demo holds the real NACO L' AGPM sequence of beta Pic (taken on the night of
2013-01-31, Absil et al. 2013) when ``../shared/data`` is present; the test is skipped otherwise.
Every step is launched as a notebook user would, with the recipes' defaults except the optics of
this data set and the star's flux, which the normalised PSF of the distribution cannot give.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]

#: beta Pic's flux in a 1xFWHM aperture in the cube's units: VIP's published ``starphot`` for
#: this sequence (the non-coronagraphic PSF before normalisation rescaled to the science
#: integration time; Absil et al. 2013, A&A 559, L12).
STARPHOT = 764939.6
#: The notebook's optics: NACO L27 pixel scale, PSF FWHM (Gaussian fit to the PSF core).
OPTICS = {"fwhm": 4.6, "pxscale": 0.02719, "ncomp": 10}
#: beta Pic b (Absil et al. 2013): 0.452" at PA 211.2 deg. The distributed angles are the bare
#: parallactic angles, without NACO's pupil offset (104.84 deg) and true north (-0.45 deg), so in
#: their frame b lies at PA 211.2 + 104.84 - 0.45.
B_SEPARATION = 0.452
B_PA_IN_THE_DATA_FRAME = (211.2 + 104.84 - 0.45) % 360.0
TIMEOUT_S = 540


def _ids(table, frame_type: str) -> list[int]:
    column = "data_file_id" if "data_file_id" in table.colnames else "id"
    types = "frame_type" if "frame_type" in table.colnames else "data_frame_type"
    return [int(i) for i in table[column][table[types] == frame_type]]


def _fits(table, frame_type: str) -> list[int]:
    return [
        int(row["data_file_id"])
        for row in table
        if row["frame_type"] == frame_type and str(row["file_name"]).endswith(".fits")
    ]


@pytest.fixture(scope="module")
def naco(live_server):
    import hcdc_kernel as hk

    with hk.connect(live_server.url, live_server.token, login=live_server.login) as dc:
        # The demo's files: the products of its own reduction describe beta Pic too.
        raw = dc.data(instrument="NACO", file_name="naco_betapic_*", sort="id ASC", progress=False)
    if not _ids(raw, "NACO_IMG_OBJECT_RAW"):
        pytest.skip("the demo has no NACO beta Pic data: ../shared/data/naco_betapic is absent")
    return raw


def test_betapic_chain_through_the_client(dc, naco):
    raw = {
        "SCIENCE": _ids(naco, "NACO_IMG_OBJECT_RAW"),
        "ANGLES": _ids(naco, "HCI_ANGLES"),
        "PSF": _ids(naco, "NACO_IMG_FLUX_RAW"),
    }
    # Centring with its defaults finds the AGPM dark hole.
    centring = dc.launch("hci_star_center", raw, reference="beta Pic centring", force=True)
    centre = centring.wait(timeout_s=TIMEOUT_S, progress=False)[0]
    centred = centre.outputs
    cube = {
        "SCIENCE": _fits(centred, "HCI_CENTERED_CUBE"),
        "ANGLES": _fits(centred, "HCI_ANGLES"),
        "PSF": _fits(centred, "HCI_PSF"),
    }
    adi = dc.launch("hci_adi_pca", cube, reference="beta Pic ADI", **OPTICS)
    curve_run = dc.launch(
        "hci_contrast_curve", cube, starphot=STARPHOT, reference="beta Pic contrast", **OPTICS
    )
    companions_run = dc.launch(
        "hci_companion_characterization",
        cube,
        starphot=STARPHOT,
        reference="beta Pic b",
        **OPTICS,
    )
    adi_process = adi.wait(timeout_s=TIMEOUT_S, progress=False)[0]
    # The S/N map takes the FWHM the ADI step recorded: no parameter.
    snr_run = dc.launch(
        "hci_snr_map",
        {"FINAL_IMAGE": _fits(adi_process.outputs, "HCI_FINAL_IMAGE")},
        reference="beta Pic S/N",
    )
    snr_process = snr_run.wait(timeout_s=TIMEOUT_S, progress=False)[0]
    curve_process = curve_run.wait(timeout_s=TIMEOUT_S, progress=False)[0]
    companions_process = companions_run.wait(timeout_s=TIMEOUT_S, progress=False)[0]

    assert snr_process.info["params"]["fwhm"] == 0.0
    snr = snr_process.product("HCI_SNR_MAP")
    assert float(np.nanmax(snr.data)) > 5

    curve = curve_process.product("HCI_CONTRAST_CURVE")
    at_half_arcsec = float(np.interp(0.5, curve.separation_arcsec.value, curve.contrast))
    print(f"5-sigma contrast at 0.5 arcsec: {at_half_arcsec:.3g}")
    assert 1e-5 < at_half_arcsec < 1e-2

    table = companions_process.product("HCI_COMPANION_TABLE").table
    assert len(table) == 1
    b = table[0]
    print(
        f"beta Pic b: {b['sep_arcsec'].value:.4f} arcsec, PA {b['pa_deg'].value:.2f} deg, "
        f"contrast {b['contrast'].value:.3g} (dmag {b['delta_mag'].value:.2f}), "
        f"S/N {b['snr'].value:.1f}"
    )
    assert b["sep_arcsec"].value == pytest.approx(B_SEPARATION, abs=0.01)
    assert b["pa_deg"].value == pytest.approx(B_PA_IN_THE_DATA_FRAME, abs=1.5)
    # Absil et al. 2013: dL' = 8.01 +- 0.16; VIP's NEGFC on this cube gives about 7.8.
    assert b["delta_mag"].value == pytest.approx(7.8, abs=0.4)

    # Every product and process of the chain is found by its target and its night.
    chain = [centre, adi_process, snr_process, curve_process, companions_process]
    products = {int(i) for p in chain for i in p.outputs["data_file_id"]}
    target = str(naco["target_name"][naco["id"] == raw["SCIENCE"][0]][0])
    night = str(naco["obs_night_date"][naco["id"] == raw["SCIENCE"][0]][0])[:10]
    found = dc.data(target_name=target, max_rows=10_000, progress=False)
    assert products <= {int(i) for i in found["id"]}
    at_night = dc.data(obs_night_date=night, max_rows=10_000, progress=False)
    assert products <= {int(i) for i in at_night["id"]}
    processes = dc.processes(target_name=target, max_rows=10_000, progress=False)
    assert {p.id for p in chain} <= {int(i) for i in processes["id"]}
    # Each image product has its preview among the outputs.
    for process in chain:
        names = set(process.outputs["file_name"])
        for name in names:
            if name.endswith(("final_image.fits", "snr_map.fits", "centered_cube.fits")):
                assert name.replace(".fits", ".png") in names, (process.id, name)
