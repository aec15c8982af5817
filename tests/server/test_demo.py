"""`hcdc demo`: the synthetic nights and NACO beta Pic ingest with the expected frame types."""

from __future__ import annotations

import json
from collections import Counter

from click.testing import CliRunner
from sqlalchemy import func, select

from hcdc_kernel.demo import write_demo_nights
from hcdc_server.cli import main
from hcdc_server.schema.tables import DataFile
from hcdc_server.services.demo import install_demo
from tests.conftest import SHARED_DIR


def _types(factory) -> Counter:
    with factory.sessions() as session:
        rows = session.execute(
            select(DataFile.frame_type, func.count()).group_by(DataFile.frame_type)
        )
        return Counter(dict(rows.all()))


def test_demo_ingests_expected_counts_per_frame_type(factory, tmp_path) -> None:
    summary = install_demo(factory, quick=True, reduce=False)
    expected = write_demo_nights(tmp_path / "again", quick=True).counts  # deterministic: same seed
    found = _types(factory)
    for frame_type, count in expected.items():
        assert found[frame_type] == count, frame_type
    assert "UNKNOWN" not in found
    assert {
        "IRD_SCIENCE_DBI_RAW",
        "IRD_STAR_CENTER_RAW",
        "IRD_FLUX_RAW",
        "IRD_DARK_RAW",
        "IRD_FLAT_FIELD_RAW",
    } <= set(found)
    naco_present = (SHARED_DIR / "data" / "naco_betapic").is_dir()
    assert bool(summary["naco_betapic"]) == naco_present
    if naco_present:
        assert found["NACO_IMG_OBJECT_RAW"] >= 1
    assert factory.users().authenticate("demo", summary["token"]).login == "demo"
    # a second run ingests nothing new
    again = install_demo(factory, quick=True, reduce=False)
    assert again["files"].get("ingested", 0) == 0
    assert _types(factory) == found


def test_demo_cli_prints_login_and_token(factory) -> None:
    env = {
        "HCDC_DATABASE_URL": factory.settings.resolved_database_url,
        "HCDC_RESOLVE_TARGETS": "false",
    }
    result = CliRunner().invoke(
        main,
        ["--data-dir", str(factory.settings.data_dir), "demo", "--quick", "--no-reduce"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["login"] == "demo" and "." in printed["token"]
    assert printed["files"]["ingested"] >= 30
