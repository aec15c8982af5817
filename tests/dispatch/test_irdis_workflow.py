"""IRDIS through the service: the irdis_dbi workflow on a demo night, association, bad input.

The workflow runs raw frames to companions with the ird_* and hci_* recipes through the
dispatcher; the pre-processed cubes wait for validation before the post-processing. The
association preview of ``ird_preprocess`` says what is missing and why (a sequence without
flats, darks of another DIT only, a star centre of another filter), and a step on frames with a
corrupt ``TEL PARANG`` ends in ``error`` naming the file and the keyword.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from astropy.io import fits
from astropy.table import Table
from sqlalchemy import select

from hcdc_kernel.demo import read_companions, write_demo_nights
from hcdc_kernel.frames import classify
from hcdc_kernel.recipes.sphere import run_sphere_recipe
from hcdc_server.config import Settings
from hcdc_server.exceptions import InvalidInputError
from hcdc_server.factory import Factory
from hcdc_server.models.processes import InputRef, LaunchRequest, WorkflowLaunchRequest
from hcdc_server.schema.tables import DataFile, ProcessOutput
from tests.dispatch.helpers import ingest, run_worker, user_id

NIGHT = "2019-05-27"
PARANG_START = "HIERARCH ESO TEL PARANG START"
FILTER_KEY = "HIERARCH ESO INS COMB IFLT"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("irdis")
    write_demo_nights(root, quick=True)
    return root


def night_files(demo: Path) -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = {}
    for path in sorted((demo / "raw" / NIGHT).glob("*.fits")):
        files.setdefault(classify(dict(fits.getheader(path)))[0], []).append(path)
    return files


@pytest.fixture(scope="module")
def products(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """The night's calibration products, made in this process (no dispatcher)."""
    out = tmp_path_factory.mktemp("products")
    files = night_files(demo)
    made: dict[str, list[Path]] = {}

    def run(name: str, inputs: dict[str, list[Path]] | list[Path]) -> None:
        manifest = run_sphere_recipe(name, inputs=inputs, output_dir=out / name)
        assert manifest.status == "ok", manifest.error
        for product in manifest.products:
            if product.path.endswith(".fits"):
                made.setdefault(str(product.category), []).append(Path(product.path))

    run(
        "ird_master_dark",
        files["IRD_DARK_RAW"] + files["IRD_BACKGROUND_RAW"] + files["IRD_SKY_RAW"],
    )
    run(
        "ird_flat",
        {
            "IRD_FLAT_FIELD_RAW": files["IRD_FLAT_FIELD_RAW"],
            "IRD_MASTER_DARK": made["IRD_MASTER_DARK"],
        },
    )
    calibrations = {
        "IRD_MASTER_DARK": made["IRD_MASTER_DARK"],
        "IRD_MASTER_BACKGROUND": made["IRD_MASTER_BACKGROUND"] + made["IRD_MASTER_SKY"],
        "IRD_FLAT_FIELD": made["IRD_FLAT_FIELD"],
    }
    run("ird_star_center", {"IRD_STAR_CENTER_RAW": files["IRD_STAR_CENTER_RAW"], **calibrations})
    run("ird_flux", {"IRD_FLUX_RAW": files["IRD_FLUX_RAW"], **calibrations})
    return made


def preview(factory: Factory, selection: list[int]):
    (result,) = factory.processes().preview(
        LaunchRequest(recipe="ird_preprocess", selection=selection)
    )
    return result, {slot.tag: slot for slot in result.slots}


def test_preprocess_association_finds_each_calibration_by_the_rules(
    factory: Factory, demo: Path, products: dict[str, list[Path]]
) -> None:
    science = ingest(factory, night_files(demo)["IRD_SCIENCE_DBI_RAW"])
    ingest(factory, [p for paths in products.values() for p in paths])
    result, slots = preview(factory, science)
    assert result.complete, result.missing
    assert "DIT=48.00" in slots["IRD_MASTER_DARK"].reason
    assert slots["IRD_MASTER_DARK"].level == 0
    assert "filter=DB_H23" in slots["IRD_FLAT_FIELD"].reason
    assert "target=PDS 70, filter=DB_H23" in slots["IRD_STAR_CENTER"].reason
    assert len(slots["IRD_PSF"].data_file_ids) == 1
    # The sky of the night is preferred: background and sky of the science DIT and filter.
    assert slots["IRD_MASTER_BACKGROUND"].data_file_ids


def test_preview_says_what_is_missing_and_why(
    factory: Factory, demo: Path, products: dict[str, list[Path]], tmp_path: Path
) -> None:
    science = ingest(factory, night_files(demo)["IRD_SCIENCE_DBI_RAW"])
    # Only the 2 s dark (flux frames), no flat, and a star centre taken in another filter.
    short = [
        p
        for p in products["IRD_MASTER_DARK"]
        if fits.getheader(p)["HIERARCH ESO DET SEQ1 DIT"] == 2.0
    ]
    (centre,) = products["IRD_STAR_CENTER"]
    other = tmp_path / "star_center_k12.fits"
    shutil.copy(centre, other)
    with fits.open(other, mode="update") as hdul:
        hdul[0].header[FILTER_KEY] = "DB_K12"
    ingest(factory, [*short, other, *products["IRD_PSF"]])
    result, slots = preview(factory, science)
    assert not result.complete
    assert set(result.missing) == {"IRD_MASTER_DARK", "IRD_FLAT_FIELD", "IRD_STAR_CENTER"}
    assert slots["IRD_MASTER_DARK"].reason == "no IRD_MASTER_DARK with DIT=48.00 at any time"
    assert slots["IRD_FLAT_FIELD"].reason == "no IRD_FLAT_FIELD with filter=DB_H23 at any time"
    assert slots["IRD_STAR_CENTER"].reason == (
        "no IRD_STAR_CENTER with target=PDS 70, filter=DB_H23 at any time"
    )
    with pytest.raises(InvalidInputError, match="input IRD_FLAT_FIELD: no IRD_FLAT_FIELD"):
        factory.processes().launch(
            LaunchRequest(recipe="ird_preprocess", selection=science), user_id=user_id(factory)
        )


def test_a_night_without_flats_is_refused_by_the_workflow(factory: Factory, demo: Path) -> None:
    files = night_files(demo)
    selection = ingest(
        factory, [p for kind, paths in files.items() if kind != "IRD_FLAT_FIELD_RAW" for p in paths]
    )
    with pytest.raises(InvalidInputError, match=r"step flat: .*IRD_FLAT_FIELD_RAW"):
        factory.workflows().launch(
            "irdis_dbi", WorkflowLaunchRequest(selection=selection), user_id=user_id(factory)
        )


def test_corrupt_parang_fails_the_step_naming_file_and_keyword(
    factory: Factory, demo: Path, products: dict[str, list[Path]], tmp_path: Path
) -> None:
    science = night_files(demo)["IRD_SCIENCE_DBI_RAW"]
    broken = tmp_path / science[0].name
    shutil.copy(science[0], broken)
    with fits.open(broken, mode="update") as hdul:
        hdul[0].header[PARANG_START] = "n/a"
    ids = ingest(factory, [broken, *science[1:]])
    calibration_ids = ingest(factory, [p for paths in products.values() for p in paths])
    launched = factory.processes().launch(
        LaunchRequest(
            recipe="ird_preprocess",
            inputs=[InputRef(data_file_id=i) for i in [*ids, *calibration_ids]],
        ),
        user_id=user_id(factory),
    )
    run_worker(factory)
    process = factory.processes().get(launched.processes[0].id)
    assert process.status == "error"
    assert f"file {broken.name}, keyword {PARANG_START}: expected a number" in process.error
    assert "Traceback" not in process.error


@pytest.fixture
def sqlite_factory(tmp_path: Path) -> Iterator[Factory]:
    made = Factory(
        Settings(
            data_dir=tmp_path / "data",
            database_url=f"sqlite:///{tmp_path / 'hcdc.sqlite'}",
            resolve_targets=False,
        )
    )
    made.init_database()
    yield made
    made.close()


def test_irdis_dbi_reduces_a_night_to_its_companions(sqlite_factory: Factory, demo: Path) -> None:
    factory = sqlite_factory
    selection = ingest(factory, [p for paths in night_files(demo).values() for p in paths])
    uid = user_id(factory)
    launched = factory.workflows().launch(
        "irdis_dbi", WorkflowLaunchRequest(selection=selection, reference="PDS 70"), user_id=uid
    )
    steps = {p.workflow_step: p.id for p in launched.processes}
    processes = factory.processes()
    run_worker(factory, timeout_s=600.0)
    for side in ("left", "right"):
        cube = processes.get(steps[f"preprocess_{side}"])
        assert cube.status == "waiting_validation" and cube.validation_status == "to_validate"
        assert processes.get(steps[f"adi_{side}"]).status == "queued"
        processes.set_validation(cube.id, "valid", user_id=uid, comment="stack checked")
    run_worker(factory, timeout_s=600.0)
    statuses = {name: processes.get(pid).status for name, pid in steps.items()}
    assert set(statuses.values()) == {"done"}, statuses
    adi = processes.get(steps["adi_left"])
    assert any(
        "product of step preprocess_left" in (i.association_reason or "") for i in adi.inputs
    )
    truth = {c.filter: c for c in read_companions(demo / "companions.json") if c.night == NIGHT}
    with factory.sessions() as session:
        for side, name in (("left", "H2"), ("right", "H3")):
            (path,) = session.scalars(
                select(DataFile.path)
                .join(ProcessOutput, ProcessOutput.data_file_id == DataFile.id)
                .where(
                    ProcessOutput.process_id == steps[f"companions_{side}"],
                    DataFile.frame_type == "HCI_COMPANION_TABLE",
                    DataFile.path.like("%.fits"),
                )
            ).all()
            (row,) = Table.read(path)
            companion = truth[name]
            x = 64 - companion.sep_px * math.sin(math.radians(companion.pa_deg))
            y = 64 + companion.sep_px * math.cos(math.radians(companion.pa_deg))
            assert math.hypot(float(row["x"]) - x, float(row["y"]) - y) < 0.5
            assert float(row["contrast"]) == pytest.approx(companion.contrast, rel=0.15)
        types = set(session.scalars(select(DataFile.frame_type)))
    assert {
        "IRD_MASTER_DARK",
        "IRD_MASTER_BACKGROUND",
        "IRD_MASTER_SKY",
        "IRD_FLAT_FIELD",
        "IRD_STAR_CENTER",
        "IRD_PSF",
        "IRD_SCIENCE_CUBE",
        "IRD_DEROTATED_STACK",
        "HCI_CONTRAST_CURVE",
        "HCI_SNR_MAP",
    } <= types
