"""What the VO publishes, read from hcdc's database: ObsCore rows, DataLink links, companions.

Only public data goes in, by the one rule of :mod:`hcdc_server.services.visibility` (what an
anonymous caller may see, :data:`~hcdc_server.services.visibility.PUBLIC`); a product goes in
once its process is done and needs no validation or was validated as ``valid``. Links and
companions are made from published rows only, so no link names a proprietary file.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from astropy.time import Time
from sqlalchemy import Row, and_, or_, select
from sqlalchemy.orm import Session

from hcdc_kernel.enums import ProcessStatus, ValidationStatus
from hcdc_kernel.products.companions import COMPANION_TABLE_CATEGORY, CompanionTable
from hcdc_kernel.products.contrast_curve import CONTRAST_CURVE_CATEGORY
from hcdc_kernel.products.preview import PREVIEW_CATEGORY
from hcdc_server.schema import tables as t
from hcdc_server.services.visibility import PUBLIC, visible
from hcdc_server.vo.bands import band, pixel_scale_arcsec

log = logging.getLogger(__name__)

#: Level 3: science-ready measurements; every other FITS product is level 2.
LEVEL3_CATEGORIES = frozenset({CONTRAST_CURVE_CATEGORY, COMPANION_TABLE_CATEGORY})
FITS_FORMAT = "application/fits"
PNG_FORMAT = "image/png"
#: Polarimetric frame types carry Stokes states (ObsCore pol_states).
_POLARIMETRIC = ("DPI", "ZPL_SCIENCE_P")
#: Minutes of arc over which a field without a known size is drawn (ObsCore s_region).
_DEFAULT_FOV_DEG = 11.0 / 3600


@dataclass(frozen=True)
class Urls:
    """How published identifiers and links are spelled."""

    authority: str
    api: str

    def did(self, data_id: int) -> str:
        return f"ivo://{self.authority}/hcdc?data/{data_id}"

    def file(self, data_id: int) -> str:
        return f"{self.api.rstrip('/')}/api/public/data/{data_id}/file"

    def preview(self, data_id: int) -> str:
        return f"{self.api.rstrip('/')}/api/public/data/{data_id}/preview"


@dataclass(frozen=True)
class FileRecord:
    """One row of ``hcdc_vo.files`` (ObsCore column names)."""

    data_id: int
    obs_publisher_did: str
    obs_id: str
    obs_collection: str
    obs_title: str
    dataproduct_type: str
    dataproduct_subtype: str
    calib_level: int
    target_name: str | None
    s_ra: float | None
    s_dec: float | None
    s_fov: float | None
    s_region: str | None
    s_xel1: int | None
    s_xel2: int | None
    s_pixel_scale: float | None
    t_min: float | None
    t_max: float | None
    t_exptime: float | None
    em_min: float | None
    em_max: float | None
    pol_states: str | None
    o_ucd: str | None
    access_url: str
    access_format: str
    access_estsize: int
    preview: str | None
    instrument_name: str | None
    facility_name: str


@dataclass(frozen=True)
class LinkRecord:
    """One row of ``hcdc_vo.links``."""

    did: str
    access_url: str
    semantics: str
    description: str
    content_type: str
    content_length: int | None


@dataclass(frozen=True)
class CompanionRecord:
    """One row of ``hcdc_vo.epn_core`` (EPN-TAP v2 names and hcdc's measurements)."""

    granule_uid: str
    granule_gid: str
    obs_id: str
    target_name: str
    host_star: str
    ra: float | None
    dec: float | None
    # EPN-TAP's coordinates for a celestial frame: RA and Dec ranges, degrees.
    c1min: float | None
    c1max: float | None
    c2min: float | None
    c2max: float | None
    separation: float
    separation_err: float | None
    position_angle: float
    position_angle_err: float | None
    contrast: float
    contrast_err: float | None
    delta_mag: float | None
    snr: float | None
    epoch: float | None
    time_min: float | None
    time_max: float | None
    spectral_range_min: float | None
    spectral_range_max: float | None
    instrument_host_name: str
    instrument_name: str | None
    filter: str | None
    proposal_id: str | None
    access_url: str
    access_format: str
    access_estsize: int


@dataclass(frozen=True)
class Publication:
    """Everything one publication writes."""

    files: list[FileRecord]
    links: list[LinkRecord]
    companions: list[CompanionRecord]


def _public() -> Any:
    return and_(visible(PUBLIC, "data"), t.DataFile.status == "ok")


def _published_process() -> Any:
    """Processes whose products may be published: done, and valid where validation applies."""
    return and_(
        t.Process.status == ProcessStatus.DONE,
        or_(
            t.Process.validation_status.is_(None),
            t.Process.validation_status == ValidationStatus.VALID,
        ),
    )


@dataclass
class _Observation:
    """What a product inherits from the raw inputs of its process."""

    ra: float | None = None
    dec: float | None = None
    t_min: float | None = None
    t_max: float | None = None
    exptime: float = 0.0
    instrument: str | None = None
    filter_name: str | None = None
    target: str | None = None
    prog_id: str | None = None


def _mjd_end(mjd: float | None, exptime: float | None) -> float | None:
    if mjd is None:
        return None
    return mjd + (exptime or 0.0) / 86400.0


def _region(ra: float | None, dec: float | None, fov: float | None) -> str | None:
    """A square field of side ``fov`` around the pointing, as a pgsphere polygon."""
    if ra is None or dec is None:
        return None
    half = (fov or _DEFAULT_FOV_DEG) / 2
    cos_dec = max(math.cos(math.radians(dec)), 1e-6)
    dra = half / cos_dec
    corners = [(ra - dra, dec - half), (ra + dra, dec - half)]
    corners += [(ra + dra, dec + half), (ra - dra, dec + half)]
    return "{" + ",".join(f"({c[0] % 360:.8f}d,{c[1]:.8f}d)" for c in corners) + "}"


def _title(frame_type: str, target: str | None, night: Any) -> str:
    parts = [frame_type]
    if target:
        parts.append(target)
    if night is not None:
        parts.append(str(night))
    return " ".join(parts)


class PublicationReader:
    """Reads the publication out of hcdc's database in one session."""

    def __init__(self, session: Session, urls: Urls) -> None:
        self._session = session
        self._urls = urls

    def read(self) -> Publication:
        raw = list(self._raw_rows())
        products = list(self._product_rows())
        observations = self._observations({int(row.process_id) for row in products})
        previews = self._product_previews({int(row.id) for row in products})
        files = [self._raw_record(row, self._urls.preview(row.id)) for row in raw]
        files += [
            self._product_record(
                row,
                observations.get(int(row.process_id)),
                previews.get(int(row.id), self._urls.preview(row.id)),
            )
            for row in products
        ]
        published = {f.data_id: f for f in files}
        links = list(self._links(published))
        companions = list(self._companions(products, observations, published))
        return Publication(files=files, links=links, companions=companions)

    # -- rows ------------------------------------------------------------------------------

    def _raw_rows(self) -> Iterator[Any]:
        d = t.DataFile
        query = (
            select(*_file_columns(), t.Target.name.label("target"))
            .outerjoin(t.Target, t.Target.id == d.target_id)
            .where(_public(), d.is_raw.is_(True))
            .order_by(d.id)
        )
        yield from self._session.execute(query)

    def _product_rows(self) -> Iterator[Any]:
        d = t.DataFile
        query = (
            select(*_file_columns(), t.ProcessOutput.process_id)
            .join(t.ProcessOutput, t.ProcessOutput.data_file_id == d.id)
            .join(t.Process, t.Process.id == t.ProcessOutput.process_id)
            .where(_public(), d.is_raw.is_(False), _published_process())
            .where(d.filename.ilike("%.fits") | d.filename.ilike("%.fits.gz"))
            .order_by(d.id)
        )
        # A product registered twice (a cache hit) is published once, with its first process.
        seen: set[int] = set()
        for row in self._session.execute(query):
            if row.id not in seen:
                seen.add(row.id)
                yield row

    def _observations(self, process_ids: set[int]) -> dict[int, _Observation]:
        """Per process, the pointing, time span and band of its raw inputs (transitively
        through the workflow: a contrast curve's inputs are products)."""
        if not process_ids:
            return {}
        inputs: dict[int, list[int]] = defaultdict(list)
        for pid, did in self._session.execute(
            select(t.ProcessInput.process_id, t.ProcessInput.data_file_id)
        ):
            inputs[int(pid)].append(int(did))
        made_by: dict[int, int] = {
            int(did): int(pid)
            for pid, did in self._session.execute(
                select(t.ProcessOutput.process_id, t.ProcessOutput.data_file_id)
            )
        }
        raw_cols = (
            t.DataFile.id, t.DataFile.ra, t.DataFile.dec, t.DataFile.mjd_obs,
            t.DataFile.exptime, t.DataFile.instrument, t.DataFile.instrument_filter,
            t.DataFile.prog_id, t.DataFile.category, t.Target.name,
        )  # fmt: skip
        raws = {
            int(row[0]): row
            for row in self._session.execute(
                select(*raw_cols)
                .outerjoin(t.Target, t.Target.id == t.DataFile.target_id)
                .where(t.DataFile.is_raw.is_(True))
            )
        }
        result: dict[int, _Observation] = {}
        for pid in process_ids:
            found = _Observation()
            todo, done = [pid], set()
            while todo:
                current = todo.pop()
                if current in done:
                    continue
                done.add(current)
                for did in inputs.get(current, ()):
                    if did in raws:
                        _absorb(found, tuple(raws[did]))
                    elif did in made_by:
                        todo.append(made_by[did])
            result[pid] = found
        return result

    # -- records ---------------------------------------------------------------------------

    def _raw_record(self, f: Row[Any], preview: str) -> FileRecord:
        scale = pixel_scale_arcsec(f.instrument)
        fov = _fov(f.naxis1, f.naxis2, scale)
        covered = band(f.instrument, f.instrument_filter)
        cube = (f.naxis3 or 1) > 1
        return FileRecord(
            data_id=f.id,
            obs_publisher_did=self._urls.did(f.id),
            obs_id=f.filename,
            obs_collection="hcdc raw",
            obs_title=_title(f.frame_type, f.target or f.object, f.obs_night),
            dataproduct_type="cube" if cube else "image",
            dataproduct_subtype=f.frame_type,
            calib_level=1,
            target_name=f.target or f.object,
            s_ra=f.ra,
            s_dec=f.dec,
            s_fov=fov,
            s_region=_region(f.ra, f.dec, fov),
            s_xel1=f.naxis1,
            s_xel2=f.naxis2,
            s_pixel_scale=scale,
            t_min=f.mjd_obs,
            t_max=_mjd_end(f.mjd_obs, f.exptime),
            t_exptime=f.exptime,
            em_min=covered.em_min if covered else None,
            em_max=covered.em_max if covered else None,
            pol_states="/I/Q/U/" if any(p in f.frame_type for p in _POLARIMETRIC) else None,
            o_ucd="phot.count",
            access_url=self._urls.file(f.id),
            access_format=FITS_FORMAT,
            access_estsize=max(1, f.size // 1024),
            preview=preview,
            instrument_name=f.instrument,
            facility_name="VLT",
        )

    def _product_record(self, f: Row[Any], obs: _Observation | None, preview: str) -> FileRecord:
        obs = obs or _Observation()
        level3 = f.frame_type in LEVEL3_CATEGORIES
        scale = pixel_scale_arcsec(obs.instrument)
        fov = None if level3 else _fov(f.naxis1, f.naxis2, scale)
        covered = band(obs.instrument, obs.filter_name)
        cube = (f.naxis3 or 1) > 1
        return FileRecord(
            data_id=f.id,
            obs_publisher_did=self._urls.did(f.id),
            obs_id=f.filename,
            obs_collection="hcdc science" if level3 else "hcdc reduced",
            obs_title=_title(f.frame_type, obs.target, None),
            dataproduct_type="measurements" if level3 else ("cube" if cube else "image"),
            dataproduct_subtype=f.frame_type,
            calib_level=3 if level3 else 2,
            target_name=obs.target,
            s_ra=obs.ra,
            s_dec=obs.dec,
            s_fov=fov,
            s_region=_region(obs.ra, obs.dec, fov),
            s_xel1=None if level3 else f.naxis1,
            s_xel2=None if level3 else f.naxis2,
            s_pixel_scale=None if level3 else scale,
            t_min=obs.t_min,
            t_max=obs.t_max,
            t_exptime=obs.exptime or None,
            em_min=covered.em_min if covered else None,
            em_max=covered.em_max if covered else None,
            pol_states=None,
            o_ucd="stat.snr" if "SNR" in f.frame_type else None,
            access_url=self._urls.file(f.id),
            access_format=FITS_FORMAT,
            access_estsize=max(1, f.size // 1024),
            preview=preview,
            instrument_name=obs.instrument,
            facility_name="VLT",
        )

    def _product_previews(self, products: set[int]) -> dict[int, str]:
        """A product's own PNG preview (same process, same stem), where it has one."""
        d = t.DataFile
        pngs = self._session.execute(
            select(t.ProcessOutput.process_id, d.id, d.filename)
            .join(d, d.id == t.ProcessOutput.data_file_id)
            .where(d.frame_type == PREVIEW_CATEGORY, _public())
        ).all()
        by_stem = {(int(pid), Path(name).stem): int(did) for pid, did, name in pngs}
        found: dict[int, str] = {}
        for pid, did, name in self._session.execute(
            select(t.ProcessOutput.process_id, d.id, d.filename).join(
                d, d.id == t.ProcessOutput.data_file_id
            )
        ):
            png = by_stem.get((int(pid), Path(name).name.split(".")[0]))
            if png is not None and int(did) in products:
                found[int(did)] = self._urls.file(png)
        return found

    def _links(self, published: dict[int, FileRecord]) -> Iterator[LinkRecord]:
        """#this and #preview for every file; for a raw file, #calibration (the files reduced
        with it under another tag) and #derivation (everything made from it, transitively)."""
        inputs: dict[int, list[tuple[int, str]]] = defaultdict(list)
        used_in: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for pid, did, tag in self._session.execute(
            select(t.ProcessInput.process_id, t.ProcessInput.data_file_id, t.ProcessInput.sof_tag)
        ):
            inputs[int(pid)].append((int(did), str(tag)))
            used_in[int(did)].append((int(pid), str(tag)))
        outputs: dict[int, list[int]] = defaultdict(list)
        for pid, did in self._session.execute(
            select(t.ProcessOutput.process_id, t.ProcessOutput.data_file_id)
        ):
            outputs[int(pid)].append(int(did))
        for record in published.values():
            did = record.obs_publisher_did
            yield LinkRecord(
                did, record.access_url, "#this", "The file (FITS)", FITS_FORMAT,
                record.access_estsize * 1024,
            )  # fmt: skip
            if record.preview:
                yield LinkRecord(did, record.preview, "#preview", "PNG preview", PNG_FORMAT, None)
            if record.calib_level != 1:
                continue
            calibrations: set[int] = set()
            derived: set[int] = set()
            for pid, tag in used_in.get(record.data_id, ()):
                calibrations.update(i for i, other in inputs[pid] if other != tag)
                derived.update(_descendants(pid, outputs, used_in))
            calibrations.discard(record.data_id)
            for kind, ids, text in (
                ("#calibration", calibrations, "Calibration used with this file"),
                ("#derivation", derived, "Product reduced from this file"),
            ):
                for linked in sorted(ids):
                    target = published.get(linked)
                    if target is not None:
                        yield LinkRecord(
                            did, target.access_url, kind,
                            f"{text}: {target.dataproduct_subtype} {target.obs_id}",
                            FITS_FORMAT, target.access_estsize * 1024,
                        )  # fmt: skip

    def _companions(
        self,
        products: Iterable[Row[Any]],
        observations: dict[int, _Observation],
        published: dict[int, FileRecord],
    ) -> Iterator[CompanionRecord]:
        for row in products:
            f = row
            if f.frame_type != COMPANION_TABLE_CATEGORY or f.id not in published:
                continue
            try:
                table = CompanionTable.read(f.path).table
            except (OSError, ValueError) as exc:
                log.warning("companion table %s (data %d) not read: %s", f.path, f.id, exc)
                continue
            obs = observations.get(int(row.process_id)) or _Observation()
            yield from _companion_records(f, table, obs, published[f.id])


def _companion_records(
    f: Row[Any], table: Any, obs: _Observation, record: FileRecord
) -> Iterator[CompanionRecord]:
    host = obs.target or "unknown"
    covered = band(obs.instrument, obs.filter_name)
    epoch = None
    if obs.t_min is not None and obs.t_max is not None:
        epoch = (obs.t_min + obs.t_max) / 2
    for index, comp in enumerate(table, start=1):
        sep_mas = float(comp["sep_arcsec"].value) * 1000.0
        pa = float(comp["pa_deg"].value)
        contrast = float(comp["contrast"].value)
        flux, flux_err = float(comp["flux"].value), float(comp["flux_err"].value)
        contrast_err = abs(contrast * flux_err / flux) if flux and math.isfinite(flux_err) else None
        ra, dec = _offset(obs.ra, obs.dec, sep_mas, pa)
        letter = chr(ord("a") + index) if index < 25 else str(index)
        name = f"{host} {letter}"
        yield CompanionRecord(
            granule_uid=f"hcdc-{f.id}-{index}",
            granule_gid=f"hcdc-companions-{f.id}",
            obs_id=record.obs_publisher_did,
            target_name=name,
            host_star=host,
            ra=ra,
            dec=dec,
            c1min=ra,
            c1max=ra,
            c2min=dec,
            c2max=dec,
            separation=sep_mas,
            separation_err=None,
            position_angle=pa,
            position_angle_err=None,
            contrast=contrast,
            contrast_err=contrast_err,
            delta_mag=_finite(float(comp["delta_mag"].value)),
            snr=_finite(float(comp["snr"].value)),
            epoch=epoch,
            time_min=_jd(obs.t_min),
            time_max=_jd(obs.t_max),
            spectral_range_min=_frequency(covered.em_max) if covered else None,
            spectral_range_max=_frequency(covered.em_min) if covered else None,
            instrument_host_name="VLT",
            instrument_name=obs.instrument,
            filter=obs.filter_name,
            proposal_id=obs.prog_id,
            access_url=record.access_url,
            access_format=FITS_FORMAT,
            access_estsize=record.access_estsize,
        )


def _file_columns() -> tuple[Any, ...]:
    """The columns of a data file a published row is made of (plain rows: ORM objects for
    100 000 files would cost seconds)."""
    d = t.DataFile
    return (
        d.id, d.path, d.filename, d.size, d.frame_type, d.object, d.obs_night, d.ra, d.dec,
        d.naxis1, d.naxis2, d.naxis3, d.mjd_obs, d.exptime, d.instrument, d.instrument_filter,
    )  # fmt: skip


def _absorb(found: _Observation, raw: Sequence[Any]) -> None:
    _, ra, dec, mjd, exptime, instrument, filt, prog, category, target = raw
    if category != "SCIENCE":
        # Calibrations (darks, flats) say nothing of the pointing or the exposure.
        found.instrument = found.instrument or instrument
        return
    if found.ra is None:
        found.ra, found.dec = ra, dec
    found.instrument = found.instrument or instrument
    found.filter_name = found.filter_name or filt
    found.target = found.target or target
    found.prog_id = found.prog_id or prog
    if mjd is not None:
        end = _mjd_end(mjd, exptime)
        found.t_min = mjd if found.t_min is None else min(found.t_min, mjd)
        found.t_max = end if found.t_max is None or (end or 0) > found.t_max else found.t_max
    found.exptime += exptime or 0.0


def _descendants(
    pid: int, outputs: dict[int, list[int]], used_in: dict[int, list[tuple[int, str]]]
) -> set[int]:
    """Every file made by ``pid`` and by the processes that used those files, transitively."""
    made: set[int] = set()
    todo, seen = [pid], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for did in outputs.get(current, ()):
            made.add(did)
            todo.extend(p for p, _ in used_in.get(did, ()))
    return made


def _fov(naxis1: int | None, naxis2: int | None, scale: float | None) -> float | None:
    if scale is None or not (naxis1 or naxis2):
        return None
    return max(naxis1 or 0, naxis2 or 0) * scale / 3600.0


def _offset(
    ra: float | None, dec: float | None, sep_mas: float, pa_deg: float
) -> tuple[float | None, float | None]:
    """The companion's position: ``sep`` from the star at position angle ``pa``."""
    if ra is None or dec is None:
        return None, None
    sep_deg = sep_mas / 3.6e6
    pa = math.radians(pa_deg)
    ddec = sep_deg * math.cos(pa)
    dra = sep_deg * math.sin(pa) / max(math.cos(math.radians(dec)), 1e-6)
    return (ra + dra) % 360.0, dec + ddec


def _jd(mjd: float | None) -> float | None:
    """EPN-TAP times are Julian days."""
    return None if mjd is None else float(Time(mjd, format="mjd").jd)


def _frequency(wavelength_m: float) -> float:
    """EPN-TAP spectral ranges are frequencies (Hz)."""
    return 299_792_458.0 / wavelength_m


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
