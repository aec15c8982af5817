"""VO rules that need no DaCHS: SQLite refusal, release dates, DataCite schema, bands."""

from __future__ import annotations

from datetime import datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hcdc_server.cli import main
from hcdc_server.exceptions import InvalidInputError
from hcdc_server.factory import Factory
from hcdc_server.schema import tables as t
from hcdc_server.vo.bands import band
from hcdc_server.vo.datacite import Dataset, RelatedFile, to_json, to_xml, validate_xml
from tests.server.fits_factory import write_frame


@pytest.mark.parametrize("command", [["vo", "publish"], ["vo", "serve"], ["up", "--vo"]])
def test_vo_on_sqlite_says_it_needs_postgresql(tmp_path, command) -> None:
    data_dir = tmp_path / "data"
    runner = CliRunner()
    env = {"HCDC_RESOLVE_TARGETS": "false", "HCDC_DATABASE_URL": ""}
    assert runner.invoke(main, ["--data-dir", str(data_dir), "init"], env=env).exit_code == 0
    result = runner.invoke(main, ["--data-dir", str(data_dir), *command], env=env)
    assert result.exit_code == 1
    assert "VO publication needs PostgreSQL" in result.output
    assert "Traceback" not in result.output


def test_validation_on_sqlite_is_not_held_up_by_the_vo(factory) -> None:
    """The validation hook does nothing where there is nothing to publish to."""
    if factory.settings.resolved_database_url.startswith("sqlite"):
        factory.vo().on_valid(1)  # no error, no DaCHS started


def test_release_after_the_proprietary_period(factory: Factory, tmp_path) -> None:
    old = write_frame(tmp_path / "old.fits", date_obs="2019-05-28T03:10:00", value=1)
    new = write_frame(
        tmp_path / "new.fits", date_obs=f"{datetime.now().year}-01-01T03:10:00", value=2
    )
    factory.workspaces().add_workspace("w", description="", owner_login=None)
    factory.ingest().ingest([old, new], workspace="w", public=False)
    assert factory.vo().release() == 0  # no period set: the ingest's flag decides
    settings = factory.settings.model_copy(update={"proprietary_days": 365})
    released = Factory(settings)
    try:
        # Only the frame observed more than a year ago becomes public.
        assert released.vo().release() == 1
        with released.sessions() as session:
            public = dict(session.execute(select(t.DataFile.filename, t.DataFile.is_public)).all())
    finally:
        released.close()
    assert public == {"old.fits": True, "new.fits": False}


def _dataset() -> Dataset:
    return Dataset(
        doi="10.80000/hcdc.7",
        url="http://127.0.0.1:8080/api/public/datasets/hcdc.7",
        title="ird_preprocess 1.0 reduction of PDS 70, night 2019-05-27",
        creators=("Demo User",),
        curators=("Val Idator",),
        publisher="High Contrast Data Center",
        year=2026,
        created=datetime(2026, 11, 30, 12, 0),
        validated=datetime(2026, 12, 1, 9, 0),
        description="Process 7 & <friends>",
        recipe="ird_preprocess",
        recipe_version="1.0",
        target="PDS 70",
        instrument="SPHERE",
        inputs=(RelatedFile("http://x/api/public/data/1/file", "a.fits", "IRD_SCIENCE_DBI_RAW"),),
        products=(RelatedFile("http://x/api/public/data/2/file", "b.fits", "IRD_SCIENCE_CUBE"),),
    )


def test_datacite_xml_is_valid_against_the_shipped_schema() -> None:
    document = to_xml(_dataset())
    validate_xml(document)
    assert "Process 7 &amp; &lt;friends&gt;" in document
    broken = document.replace("<publicationYear>2026</publicationYear>", "")
    with pytest.raises(InvalidInputError, match="DataCite"):
        validate_xml(broken)


def test_datacite_json_has_the_mandatory_properties() -> None:
    attributes = to_json(_dataset())["data"]["attributes"]
    for key in ("doi", "creators", "titles", "publisher", "publicationYear", "types"):
        assert attributes[key], key
    assert attributes["prefix"] == "10.80000" and attributes["suffix"] == "hcdc.7"


def test_bands() -> None:
    dbi = band("SPHERE", "DB_H23")
    assert dbi is not None
    assert dbi.em_min == pytest.approx(1.5628e-6) and dbi.em_max == pytest.approx(1.6941e-6)
    lp = band("NACO", "L_prime")
    assert lp is not None and lp.em_min == pytest.approx(3.49e-6)
    assert band("SPHERE", None) is None and band("SPHERE", "NOPE") is None


def test_a_public_workspace_releases_its_raw_files_now_and_those_shared_later(
    factory: Factory, tmp_path
) -> None:
    frames = [write_frame(tmp_path / f"{n}.fits", value=i) for i, n in enumerate("abc", 1)]
    workspaces = factory.workspaces()
    workspaces.add_workspace("open", description="", owner_login=None)
    workspaces.add_workspace("closed", description="", owner_login=None)
    factory.ingest().ingest(frames[:1], workspace="open", public=False)
    factory.ingest().ingest(frames[1:], workspace="closed", public=False)

    def public() -> dict[str, bool]:
        with factory.sessions() as session:
            return dict(session.execute(select(t.DataFile.filename, t.DataFile.is_public)).all())

    workspace, released = workspaces.make_public("open")
    assert workspace.public and released == 1
    assert public() == {"a.fits": True, "b.fits": False, "c.fits": False}
    # Shared with the public workspace afterwards: released by the next publication's release.
    with factory.sessions() as session:
        c_id = session.scalar(select(t.DataFile.id).where(t.DataFile.filename == "c.fits"))
    workspaces.share_data("open", [int(c_id)])
    assert public()["c.fits"] is False
    assert factory.vo().release() == 1
    assert public() == {"a.fits": True, "b.fits": False, "c.fits": True}
    assert workspaces.get("closed").public is False
