"""DataCite 4.5 records of published datasets: a validated process with its inputs and products.

A dataset is citable once its process was validated as ``valid`` and all of its inputs and
products are public (the visibility rule); its DOI is ``<doi_prefix>/hcdc.<process id>``.
Registering the DOI with DataCite (its REST API takes :func:`to_json`'s document) is a site's
business; hcdc makes the documents and the landing page. The XML is checked against the
DataCite kernel-4.5 schema shipped with hcdc (``schemas/datacite-4.5``), offline.
"""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any
from xml.etree import ElementTree as ET

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hcdc_kernel.enums import ValidationStatus
from hcdc_server.exceptions import InvalidInputError, NotFoundError
from hcdc_server.schema import tables as t
from hcdc_server.services.visibility import PUBLIC, visible

NAMESPACE = "http://datacite.org/schema/kernel-4"
SCHEMA_LOCATION = "http://schema.datacite.org/meta/kernel-4.5/metadata.xsd"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


@dataclass(frozen=True)
class RelatedFile:
    """An input or a product of the dataset, by its public URL."""

    url: str
    name: str
    kind: str  # frame type or product category


@dataclass(frozen=True)
class Dataset:
    """What a DataCite record and a landing page say about one validated process."""

    doi: str
    url: str
    title: str
    creators: tuple[str, ...]
    curators: tuple[str, ...]
    publisher: str
    year: int
    created: datetime
    validated: datetime
    description: str
    recipe: str
    recipe_version: str
    target: str | None
    instrument: str | None
    inputs: tuple[RelatedFile, ...] = field(default_factory=tuple)
    products: tuple[RelatedFile, ...] = field(default_factory=tuple)

    @property
    def citation(self) -> str:
        """The citation as DataCite recommends: Creator (Year). Title. Publisher. DOI."""
        creators = "; ".join(self.creators)
        return (
            f"{creators} ({self.year}). {self.title}. {self.publisher}. https://doi.org/{self.doi}"
        )


class DatasetService:
    """Datasets of validated processes, read through the public rule."""

    def __init__(
        self, sessions: sessionmaker[Session], *, prefix: str, publisher: str, api_url: str
    ) -> None:
        self._sessions = sessions
        self._prefix = prefix
        self._publisher = publisher
        self._api = api_url.rstrip("/")

    def doi(self, process_id: int) -> str:
        return f"{self._prefix}/hcdc.{process_id}"

    def process_id(self, doi_suffix: str) -> int:
        """The process of a DOI suffix ``hcdc.<id>`` (400 for anything else)."""
        head, _, tail = doi_suffix.partition(".")
        if head != "hcdc" or not tail.isdigit():
            raise InvalidInputError(f"not an hcdc dataset DOI suffix: {doi_suffix!r}")
        return int(tail)

    def by_suffix(self, doi_suffix: str) -> Dataset:
        return self.dataset(self.process_id(doi_suffix))

    def dataset(self, process_id: int) -> Dataset:
        """The dataset of a validated process with public inputs and products (404 else:
        nothing tells a proprietary dataset from a missing one)."""
        missing = NotFoundError(f"no published dataset for process {process_id}")
        with self._sessions() as session:
            process = session.get(t.Process, process_id)
            if process is None or process.validation_status != ValidationStatus.VALID:
                raise missing
            inputs = _files(session, t.ProcessInput, process_id)
            products = _files(session, t.ProcessOutput, process_id)
            if not inputs or any(not public for _, public in [*inputs, *products]):
                raise missing
            recipe = session.get(t.Recipe, process.recipe_id)
            owner = session.get(t.User, process.user_id)
            validators = session.execute(
                select(t.User.full_name, t.User.login)
                .join(t.ValidationEvent, t.ValidationEvent.user_id == t.User.id)
                .where(
                    t.ValidationEvent.process_id == process_id,
                    t.ValidationEvent.to_status == ValidationStatus.VALID,
                )
            ).all()
            validated_at = session.scalar(
                select(t.ValidationEvent.at)
                .where(
                    t.ValidationEvent.process_id == process_id,
                    t.ValidationEvent.to_status == ValidationStatus.VALID,
                )
                .order_by(t.ValidationEvent.id.desc())
            )
            target = (
                session.scalar(select(t.Target.name).where(t.Target.id == process.target_id))
                if process.target_id
                else None
            )
        assert recipe is not None
        creator = (owner.full_name or owner.login) if owner else "hcdc"
        validated = validated_at or process.ended_at or process.created_at
        what = f"{recipe.name} {recipe.version}"
        title = f"{what} reduction" + (f" of {target}" if target else "")
        if process.obs_night:
            title += f", night {process.obs_night}"
        return Dataset(
            doi=self.doi(process_id),
            url=f"{self._api}/api/public/datasets/hcdc.{process_id}",
            title=title,
            creators=(creator,),
            curators=tuple(dict.fromkeys(str(v.full_name or v.login) for v in validators))
            or (creator,),
            publisher=self._publisher,
            year=validated.year,
            created=process.created_at,
            validated=validated,
            description=(
                f"Process {process_id} of the High Contrast Data Center: recipe {what} run on "
                f"{len(inputs)} public file(s), {len(products)} product(s), validated on "
                f"{validated:%Y-%m-%d}."
            ),
            recipe=recipe.name,
            recipe_version=recipe.version,
            target=target,
            instrument=process.instrument,
            inputs=tuple(self._related(row) for row, _ in inputs),
            products=tuple(self._related(row) for row, _ in products),
        )

    def _related(self, row: t.DataFile) -> RelatedFile:
        return RelatedFile(
            url=f"{self._api}/api/public/data/{row.id}/file", name=row.filename, kind=row.frame_type
        )


def _files(session: Session, link: Any, process_id: int) -> list[tuple[t.DataFile, bool]]:
    """The files of a process with whether each is public (by the visibility rule)."""
    rows = session.execute(
        select(t.DataFile, visible(PUBLIC, "data").label("public"))
        .join(link, link.data_file_id == t.DataFile.id)
        .where(link.process_id == process_id)
        .distinct()
        .order_by(t.DataFile.id)
    ).all()
    return [(row[0], bool(row[1])) for row in rows]


# -- documents ---------------------------------------------------------------------------------


def to_json(dataset: Dataset) -> dict[str, Any]:
    """The DataCite REST API document (``POST /dois``)."""
    prefix, _, suffix = dataset.doi.partition("/")
    subjects = [{"subject": s} for s in _subjects(dataset)]
    return {
        "data": {
            "type": "dois",
            "attributes": {
                "doi": dataset.doi,
                "prefix": prefix,
                "suffix": suffix,
                "url": dataset.url,
                "creators": [{"name": c, "nameType": "Personal"} for c in dataset.creators],
                "titles": [{"title": dataset.title}],
                "publisher": {"name": dataset.publisher},
                "publicationYear": dataset.year,
                "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Reduced data"},
                "subjects": subjects,
                "contributors": [
                    {"name": c, "nameType": "Personal", "contributorType": "DataCurator"}
                    for c in dataset.curators
                ],
                "dates": [
                    {"date": f"{dataset.created:%Y-%m-%d}", "dateType": "Created"},
                    {"date": f"{dataset.validated:%Y-%m-%d}", "dateType": "Available"},
                ],
                "relatedIdentifiers": [
                    *(_related_json(f, "IsDerivedFrom") for f in dataset.inputs),
                    *(_related_json(f, "HasPart") for f in dataset.products),
                ],
                "descriptions": [
                    {"description": dataset.description, "descriptionType": "Abstract"}
                ],
                "schemaVersion": "http://datacite.org/schema/kernel-4",
            },
        }
    }


def _related_json(f: RelatedFile, relation: str) -> dict[str, str]:
    return {"relatedIdentifier": f.url, "relatedIdentifierType": "URL", "relationType": relation}


def _subjects(dataset: Dataset) -> list[str]:
    found = ["High-contrast imaging", "Exoplanets"]
    found += [s for s in (dataset.instrument, dataset.target) if s]
    return found


def to_xml(dataset: Dataset) -> str:
    """The DataCite kernel-4.5 XML record."""
    ET.register_namespace("", NAMESPACE)
    q = functools.partial(_qualified, NAMESPACE)
    root = ET.Element(
        q("resource"), {f"{{{_XSI}}}schemaLocation": f"{NAMESPACE} {SCHEMA_LOCATION}"}
    )
    ET.SubElement(root, q("identifier"), identifierType="DOI").text = dataset.doi
    creators = ET.SubElement(root, q("creators"))
    for name in dataset.creators:
        creator = ET.SubElement(creators, q("creator"))
        ET.SubElement(creator, q("creatorName"), nameType="Personal").text = name
    titles = ET.SubElement(root, q("titles"))
    ET.SubElement(titles, q("title")).text = dataset.title
    ET.SubElement(root, q("publisher")).text = dataset.publisher
    ET.SubElement(root, q("publicationYear")).text = str(dataset.year)
    ET.SubElement(root, q("resourceType"), resourceTypeGeneral="Dataset").text = "Reduced data"
    subjects = ET.SubElement(root, q("subjects"))
    for subject in _subjects(dataset):
        ET.SubElement(subjects, q("subject")).text = subject
    contributors = ET.SubElement(root, q("contributors"))
    for name in dataset.curators:
        contributor = ET.SubElement(contributors, q("contributor"), contributorType="DataCurator")
        ET.SubElement(contributor, q("contributorName"), nameType="Personal").text = name
    dates = ET.SubElement(root, q("dates"))
    ET.SubElement(dates, q("date"), dateType="Created").text = f"{dataset.created:%Y-%m-%d}"
    ET.SubElement(dates, q("date"), dateType="Available").text = f"{dataset.validated:%Y-%m-%d}"
    related = ET.SubElement(root, q("relatedIdentifiers"))
    for files, relation in ((dataset.inputs, "IsDerivedFrom"), (dataset.products, "HasPart")):
        for f in files:
            ET.SubElement(
                related, q("relatedIdentifier"), relatedIdentifierType="URL", relationType=relation
            ).text = f.url
    ET.SubElement(root, q("version")).text = dataset.recipe_version
    descriptions = ET.SubElement(root, q("descriptions"))
    ET.SubElement(
        descriptions, q("description"), descriptionType="Abstract"
    ).text = dataset.description
    ET.register_namespace("xsi", _XSI)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def _qualified(namespace: str, tag: str) -> str:
    return f"{{{namespace}}}{tag}"


@functools.cache
def _schema() -> Any:
    import xmlschema

    path = resources.files("hcdc_server.vo").joinpath("schemas/datacite-4.5/metadata.xsd")
    with resources.as_file(path) as local:
        return xmlschema.XMLSchema(str(local))


def validate_xml(document: str) -> None:
    """Check a record against the DataCite kernel-4.5 schema (no network); raises
    :class:`InvalidInputError` naming the first problem."""
    import xmlschema

    try:
        _schema().validate(document)
    except xmlschema.XMLSchemaValidationError as exc:
        raise InvalidInputError(f"not a valid DataCite 4.5 record: {exc.reason}") from exc


def landing_page(dataset: Dataset) -> str:
    """The DOI's landing page: title, citation, description, files."""
    e = html.escape

    def items(files: tuple[RelatedFile, ...]) -> str:
        return "".join(
            f'<li><a href="{e(f.url)}">{e(f.name)}</a> ({e(f.kind)})</li>' for f in files
        )

    url = e(dataset.url)
    kind = "application/vnd.datacite.datacite"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(dataset.title)}</title>
<link rel="alternate" type="{kind}+xml" href="{url}/datacite.xml">
<link rel="alternate" type="{kind}+json" href="{url}/datacite.json">
</head><body>
<h1>{e(dataset.title)}</h1>
<p>DOI: <a href="https://doi.org/{e(dataset.doi)}">{e(dataset.doi)}</a></p>
<h2>Cite as</h2><p class="citation">{e(dataset.citation)}</p>
<p>{e(dataset.description)}</p>
<h2>Products</h2><ul>{items(dataset.products)}</ul>
<h2>Inputs</h2><ul>{items(dataset.inputs)}</ul>
<p>Metadata: <a href="{e(dataset.url)}/datacite.xml">DataCite XML</a>,
<a href="{e(dataset.url)}/datacite.json">DataCite JSON</a>.</p>
</body></html>
"""
