"""Products and processes inherit the observation of their inputs; ECSV and PNG products are
registered; the recipe version is the products' pipeline version."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from sqlalchemy import select

from hcdc_server.models.processes import InputRef, LaunchRequest
from hcdc_server.schema.tables import DataFile, Process, ProcessOutput, Target
from hcdc_server.services.visibility import load_viewer
from tests.dispatch.helpers import ingest, run_worker, user_id
from tests.science.conftest import _make_adi_cube

TARGET = "HD 4242"
NIGHT = dt.date(2013, 1, 31)
PROG_ID = "090.C-0424(A)"
OBS_ID = 4242001


def _naco_header(dpr_type: str) -> fits.Header:
    header = fits.Header()
    header["INSTRUME"] = "NACO"
    header["OBJECT"] = TARGET
    header["RA"] = 86.82
    header["DEC"] = -51.07
    header["DATE-OBS"] = "2013-02-01T03:00:00.000"
    header["HIERARCH ESO DPR CATG"] = "SCIENCE"
    header["HIERARCH ESO DPR TYPE"] = dpr_type
    header["HIERARCH ESO DPR TECH"] = "IMAGE"
    header["HIERARCH ESO OBS PROG ID"] = PROG_ID
    header["HIERARCH ESO OBS ID"] = OBS_ID
    header["HIERARCH ESO OBS TARG NAME"] = TARGET
    header["HIERARCH ESO INS OPTI7 NAME"] = "L27"
    header["HIERARCH ESO DET DIT"] = 0.2
    return header


def _raw_files(folder: Path) -> tuple[Path, Path]:
    """A small NACO ADI cube (angles in a PARANG table) and its flux frame."""
    syn = _make_adi_cube(n_frames=10, size=31, noise=1.0, companions=[(9.0, 60.0, 300.0)])
    cube = folder / "naco_cube.fits"
    angles = fits.BinTableHDU(Table({"PARANG": syn.angles}), name="ANGLES")
    fits.HDUList(
        [fits.PrimaryHDU(syn.cube.astype(np.float32), _naco_header("OBJECT")), angles]
    ).writeto(cube)
    psf = folder / "naco_psf.fits"
    fits.PrimaryHDU((1000.0 * syn.psf).astype(np.float32), _naco_header("OBJECT,FLUX")).writeto(psf)
    return cube, psf


def _launch(factory, recipe: str, inputs: dict[str, list[int]], **params) -> int:
    refs = [InputRef(data_file_id=i, tag=tag) for tag, ids in inputs.items() for i in ids]
    launched = factory.processes().launch(
        LaunchRequest(recipe=recipe, inputs=refs, params=params), user_id=user_id(factory)
    )
    return launched.processes[0].id


def _outputs(factory, process_id: int) -> list[DataFile]:
    with factory.sessions() as session:
        rows = session.scalars(
            select(DataFile)
            .join(ProcessOutput, ProcessOutput.data_file_id == DataFile.id)
            .where(ProcessOutput.process_id == process_id)
            .order_by(DataFile.id)
        ).all()
        session.expunge_all()
    return list(rows)


def _finished(factory, process_id: int) -> None:
    process = factory.processes().get(process_id)
    assert process.status in ("done", "waiting_validation"), process.error


def _by_type(rows: list[DataFile], frame_type: str, suffix: str = ".fits") -> list[int]:
    return [r.id for r in rows if r.frame_type == frame_type and r.filename.endswith(suffix)]


@pytest.mark.slow
def test_level2_products_and_processes_inherit_the_observation(factory, tmp_path) -> None:
    cube, psf = _raw_files(tmp_path)
    cube_id, psf_id = ingest(factory, [cube, psf])
    centre = _launch(factory, "hci_star_center", {"SCIENCE": [cube_id], "PSF": [psf_id]})
    run_worker(factory)
    _finished(factory, centre)
    centred = _outputs(factory, centre)
    science = {
        "SCIENCE": _by_type(centred, "HCI_CENTERED_CUBE"),
        "ANGLES": _by_type(centred, "HCI_ANGLES"),
        "PSF": _by_type(centred, "HCI_PSF"),
    }
    adi = _launch(factory, "hci_adi_pca", science, ncomp=2)
    curve = _launch(factory, "hci_contrast_curve", science, ncomp=2)
    run_worker(factory)
    _finished(factory, adi)
    _finished(factory, curve)
    snr = _launch(
        factory, "hci_snr_map", {"FINAL_IMAGE": _by_type(_outputs(factory, adi), "HCI_FINAL_IMAGE")}
    )
    run_worker(factory)
    _finished(factory, snr)
    chain = [centre, adi, curve, snr]
    products = [row for pid in chain for row in _outputs(factory, pid)]

    # The ECSV twin of the contrast curve and the PNG previews are registered products too.
    curve_files = {r.filename for r in _outputs(factory, curve)}
    assert curve_files == {"contrast_curve.fits", "contrast_curve.ecsv"}
    previews = {r.filename for r in products if r.frame_type == "HCI_PREVIEW"}
    assert {"centered_cube.png", "final_image.png", "snr_map.png"} <= previews

    with factory.sessions() as session:
        target_id = session.scalar(select(Target.id).where(Target.name == TARGET))
        assert target_id is not None
        for row in products:
            described = (row.target_id, row.obs_night, row.instrument, row.prog_id, row.obs_id)
            assert described == (target_id, NIGHT, "NACO", PROG_ID, OBS_ID), row.filename
            assert row.pipeline_version == "1.1", row.filename
            assert row.is_raw is False
        for process in session.scalars(select(Process).where(Process.id.in_(chain))):
            described = (
                process.target_id,
                process.obs_night,
                process.instrument,
                process.prog_id,
                process.obs_id,
            )
            assert described == (target_id, NIGHT, "NACO", PROG_ID, OBS_ID), process.id

        # Browsing by target or night finds every Level 2 product and every process.
        viewer = load_viewer(session, user_id(factory))
    browse = factory.browse()
    by_target = set(browse.ids(viewer, "data", {"TARGET_NAME": TARGET}))
    by_night = set(browse.ids(viewer, "data", {"OBS_NIGHT_DATE": NIGHT.isoformat()}))
    by_version = set(browse.ids(viewer, "data", {"DATA_PIPELINE_VERSION": "1.1"}))
    wanted = {row.id for row in products}
    assert wanted <= by_target
    assert wanted <= by_night
    assert wanted <= by_version
    assert set(chain) <= set(browse.ids(viewer, "process", {"TARGET_NAME": TARGET}))
    assert set(chain) <= set(
        browse.ids(viewer, "process", {"OBS_NIGHT_DATE": NIGHT.isoformat()})
    )


def test_registering_a_product_that_is_not_fits(factory, tmp_path) -> None:
    """ECSV and PNG products are stored with the category their manifest gives them."""
    from hcdc_server.dispatch.registration import Product, register_products

    table = tmp_path / "curve.ecsv"
    Table({"separation_arcsec": [0.1, 0.2]}).write(table, format="ascii.ecsv")
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 16)
    products = [Product(str(table), "HCI_CONTRAST_CURVE"), Product(str(png), "HCI_PREVIEW")]
    outputs = register_products(
        factory.ingest(), factory.sessions, products, public=False, user_id=None, user_login=None
    )
    assert sorted(outputs.values()) == ["HCI_CONTRAST_CURVE", "HCI_PREVIEW"]
    again = register_products(
        factory.ingest(), factory.sessions, products, public=False, user_id=None, user_login=None
    )
    assert again == outputs  # the same content is the same data file
    with factory.sessions() as session:
        rows = {r.filename: r for r in session.scalars(select(DataFile))}
    assert rows["curve.ecsv"].frame_type == "HCI_CONTRAST_CURVE"
    assert rows["image.png"].frame_type == "HCI_PREVIEW"
    assert all(r.category == "PRODUCT" and not r.is_raw and not r.is_public for r in rows.values())
