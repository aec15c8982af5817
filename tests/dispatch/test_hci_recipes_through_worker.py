"""The hci_* Python recipes run as registered recipes through the dispatcher, errors included."""

from __future__ import annotations

import numpy as np
from astropy.io import fits
from sqlalchemy import select

from hcdc_kernel.products.images import FinalImageProduct
from hcdc_server.models.processes import LaunchRequest
from hcdc_server.schema.tables import DataFile, ProcessOutput
from tests.dispatch.helpers import ingest, run_worker, user_id


def _final_image(path, *, with_source: bool) -> None:
    rng = np.random.default_rng(3)
    image = rng.normal(0.0, 1.0, (61, 61))
    if with_source:
        yy, xx = np.mgrid[:61, :61]
        image += 12.0 * np.exp(-((xx - 45) ** 2 + (yy - 30) ** 2) / (2 * (4.0 / 2.355) ** 2))
    FinalImageProduct.create(image, meta={"fwhm_px": 4.0}).write(path)


def test_snr_map_recipe_products_are_ingested(factory, tmp_path) -> None:
    _final_image(tmp_path / "final.fits", with_source=True)
    (image_id,) = ingest(factory, [tmp_path / "final.fits"])
    launched = factory.processes().launch(
        LaunchRequest(recipe="hci_snr_map", selection=[image_id]), user_id=user_id(factory)
    )
    pid = launched.processes[0].id
    run_worker(factory)
    process = factory.processes().get(pid)
    assert process.status in ("done", "waiting_validation"), process.error
    with factory.sessions() as session:
        rows = session.execute(
            select(DataFile.frame_type, DataFile.path)
            .join(ProcessOutput, ProcessOutput.data_file_id == DataFile.id)
            .where(ProcessOutput.process_id == pid)
        ).all()
    by_type = {r.frame_type: r.path for r in rows}
    assert sorted(by_type) == ["HCI_PREVIEW", "HCI_SNR_MAP"]  # the map and its PNG preview
    assert by_type["HCI_PREVIEW"].endswith("snr_map.png")
    with fits.open(by_type["HCI_SNR_MAP"]) as hdul:
        snr = hdul[0].data
    peak_y, peak_x = np.unravel_index(int(np.nanargmax(snr)), snr.shape)
    assert (abs(peak_x - 45) <= 1) and (abs(peak_y - 30) <= 1)


def test_a_failing_recipe_ends_in_error_with_its_reason(factory, tmp_path) -> None:
    _final_image(tmp_path / "final.fits", with_source=False)
    (image_id,) = ingest(factory, [tmp_path / "final.fits"])
    launched = factory.processes().launch(
        LaunchRequest(recipe="hci_snr_map", selection=[image_id], params={"fwhm": 0.0}),
        user_id=user_id(factory),
    )
    # Break the input after launch: the recipe must refuse it, not write a silent product.
    (tmp_path / "final.fits").write_bytes(b"SIMPLE  = garbage")
    pid = launched.processes[0].id
    run_worker(factory)
    process = factory.processes().get(pid)
    assert process.status == "error"
    assert process.error
    with factory.sessions() as session:
        assert (
            session.scalars(select(ProcessOutput).where(ProcessOutput.process_id == pid)).all()
            == []
        )


def test_companion_table_fits_is_ingested_as_a_level3_product(factory, tmp_path) -> None:
    """The companion table recipe links its FITS table: ingest must classify it, not reject it."""
    from hcdc_kernel.products.companions import CompanionTable

    row = {
        "x": 61.2, "y": 70.4, "sep_px": 16.6, "sep_arcsec": 0.452, "pa_deg": 314.9,
        "flux": 660.0, "flux_err": 32.0, "contrast": 5.5e-4, "delta_mag": 8.15, "snr": 11.0,
    }  # fmt: skip
    path = CompanionTable.from_rows([row]).write_fits(tmp_path / "companions.fits")
    (data_id,) = ingest(factory, [path])
    with factory.sessions() as session:
        frame_type = session.scalar(select(DataFile.frame_type).where(DataFile.id == data_id))
    assert frame_type == "HCI_COMPANION_TABLE"
