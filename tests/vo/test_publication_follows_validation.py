"""Publication follows hcdc: a validation publishes its products at once; DOIs of datasets."""

from __future__ import annotations

import time

import httpx
import pytest
import pyvo
from sqlalchemy import select

from hcdc_kernel.enums import ValidationStatus
from hcdc_server.schema import tables as t
from hcdc_server.services.demo import DEMO_LOGIN
from hcdc_server.vo.datacite import validate_xml
from tests.requirements import needs_dachs
from tests.vo.site import VoSite

pytestmark = [needs_dachs, pytest.mark.postgres, pytest.mark.slow]


def _published(site: VoSite, data_ids: list[int]) -> set[int]:
    ids = ", ".join(str(i) for i in data_ids)
    rows = pyvo.dal.TAPService(site.tap_url).run_sync(
        f"SELECT data_id FROM hcdc_vo.files WHERE data_id IN ({ids})"
    )
    return {int(i) for i in rows["data_id"]}


def _outputs(site: VoSite, process_id: int) -> list[int]:
    with site.factory.sessions() as session:
        return [
            int(i)
            for i in session.scalars(
                select(t.ProcessOutput.data_file_id)
                .join(t.DataFile, t.DataFile.id == t.ProcessOutput.data_file_id)
                .where(t.ProcessOutput.process_id == process_id, t.DataFile.filename.like("%.fits"))
            )
        ]


def test_validating_a_process_publishes_its_products(vo_site: VoSite) -> None:
    with vo_site.factory.sessions() as session:
        waiting = session.scalar(
            select(t.Process.id).where(t.Process.validation_status == ValidationStatus.TO_VALIDATE)
        )
    assert waiting is not None, "the demo leaves a reprocessed cube waiting for validation"
    products = _outputs(vo_site, waiting)
    assert products and not _published(vo_site, products)
    user_id = vo_site.factory.users().get_user(DEMO_LOGIN).id
    vo_site.factory.processes().set_validation(
        waiting, ValidationStatus.VALID, user_id=user_id, comment="clean stack"
    )
    # Published in the background, after the validation's commit.
    deadline = time.monotonic() + 120
    while _published(vo_site, products) != set(products):
        assert time.monotonic() < deadline, "products not published within 120 s"
        time.sleep(0.5)


def _validated(site: VoSite) -> int:
    with site.factory.sessions() as session:
        process_id = session.scalar(
            select(t.Process.id)
            .where(t.Process.validation_status == ValidationStatus.VALID)
            .order_by(t.Process.id)
        )
    assert process_id is not None
    return int(process_id)


def test_datacite_records_and_landing_page_of_a_validated_process(vo_site: VoSite) -> None:
    process_id = _validated(vo_site)
    base = f"{vo_site.api_url}/api/public/datasets/hcdc.{process_id}"
    doi = f"{vo_site.settings.doi_prefix}/hcdc.{process_id}"
    xml = httpx.get(f"{base}/datacite.xml")
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
    validate_xml(xml.text)  # the shipped kernel-4.5 schema, offline
    assert f">{doi}</identifier>" in xml.text
    document = httpx.get(f"{base}/datacite.json").json()
    attributes = document["data"]["attributes"]
    assert attributes["doi"] == doi
    assert attributes["types"]["resourceTypeGeneral"] == "Dataset"
    relations = {r["relationType"] for r in attributes["relatedIdentifiers"]}
    assert relations == {"IsDerivedFrom", "HasPart"}
    for related in attributes["relatedIdentifiers"]:
        assert httpx.head(related["relatedIdentifier"]).status_code in (200, 405)
    page = httpx.get(base)
    assert page.status_code == 200
    assert f"https://doi.org/{doi}" in page.text and "Cite as" in page.text
    assert attributes["titles"][0]["title"] in page.text


def test_no_dataset_for_unvalidated_or_proprietary_processes(vo_site: VoSite) -> None:
    with vo_site.factory.sessions() as session:
        unvalidated = session.scalar(
            select(t.Process.id).where(t.Process.validation_status.is_(None))
        )
    assert unvalidated is not None
    for suffix in (f"hcdc.{unvalidated}", "hcdc.99999999"):
        for tail in ("", "/datacite.xml", "/datacite.json"):
            response = httpx.get(f"{vo_site.api_url}/api/public/datasets/{suffix}{tail}")
            assert response.status_code == 404, (suffix, tail)
    assert httpx.get(f"{vo_site.api_url}/api/public/datasets/doi.1").status_code == 400
