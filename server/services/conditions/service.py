"""Conditions service: import telemetry and site-monitor files, link frames and processes.

* A SPARTA data file is read when ingested (:meth:`ConditionsService.after_ingest`); a
  site-monitor table is imported with ``hcdc conditions import``. Either stores its series as
  samples and relinks the science exposures of its time span.
* A science exposure gets the statistics of each parameter over its exposure window
  (:mod:`hcdc_kernel.conditions.windows`), when ingested and whenever conditions of its time
  arrive later; products get the aggregate of their process's inputs, and so on down the
  provenance, so that a process's conditions are always those of its inputs.

A file that cannot be read at all is refused with its reason and nothing stored; a file read in
part is stored in part, with a message per missing part. Re-importing the same content
changes nothing.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Row, select
from sqlalchemy.orm import Session, sessionmaker

from hcdc_kernel.conditions import (
    DEFAULT_MAX_GAP_S,
    UNITS,
    ConditionParameter,
    ConditionSeries,
    ConditionSource,
    ReadResult,
    WindowStats,
    conditions_over,
    exposure_window,
    index_series,
    read_site_monitor,
    read_sparta,
    unix_to_datetime,
)
from hcdc_kernel.conditions.eso_ambient import AmbientUnreachableError, fetch_ambient
from hcdc_kernel.conditions.site_monitor import parse_site_monitor
from hcdc_kernel.frames import SPARTA
from hcdc_server.exceptions import NotFoundError
from hcdc_server.models.conditions import (
    ConditionSeriesOut,
    ConditionValue,
    ExposureConditions,
    ProcessConditions,
)
from hcdc_server.schema.tables import DataFile, Process
from hcdc_server.services.conditions.aggregate import InputsConditions, aggregate
from hcdc_server.services.permissions import check_read_process, process_ref
from hcdc_server.services.visibility import Viewer
from hcdc_server.storage.conditions import ConditionStore, stats_of

__all__ = ["ConditionsService", "ImportReport", "conditions_for_process", "inherit_outputs"]

ImportStatus = Literal["imported", "unchanged", "rejected", "unreachable"]
#: Products inherit through at most this many generations of processes in one relink.
_MAX_GENERATIONS = 12
_CHUNK = 1 << 20
#: What a conditions panel draws unless asked for other parameters.
PANEL_PARAMETERS = (
    ConditionParameter.SEEING.value,
    ConditionParameter.TAU0.value,
    ConditionParameter.STREHL.value,
)
#: Time around a process's inputs whose conditions its job receives.
_JOB_MARGIN = timedelta(minutes=10)


@dataclass(frozen=True)
class ImportReport:
    """What importing one file did."""

    name: str
    status: ImportStatus
    n_samples: int = 0
    parameters: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    frames_linked: int = 0
    time_start: datetime | None = None
    time_end: datetime | None = None


def _checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ConditionsService:
    """Imports, links and answers the conditions of frames and processes."""

    def __init__(
        self, sessions: sessionmaker[Session], *, max_gap_s: float = DEFAULT_MAX_GAP_S
    ) -> None:
        self._sessions = sessions
        self._max_gap = max_gap_s

    # -- imports -----------------------------------------------------------------------------

    def import_site_files(self, paths: Iterable[Path]) -> list[ImportReport]:
        """Import site-monitor tables (ESO ambient query form CSV), one report per file."""
        reports = []
        for path in paths:
            try:
                checksum = _checksum(Path(path))
            except OSError as exc:
                reports.append(
                    ImportReport(
                        Path(path).name,
                        "rejected",
                        messages=(f"{Path(path).name}: cannot read: {exc.strerror or exc}",),
                    )
                )
                continue
            result = read_site_monitor(Path(path))
            reports.append(self._store(result, ConditionSource.SITE, checksum, None))
        return reports

    def fetch_site(
        self, url: str, *, timeout_s: float = 10.0, margin_s: float = 600.0
    ) -> list[ImportReport]:
        """Ask ESO's ambient archive for the site-monitor samples of every observing night
        whose science exposures no site-monitor import covers yet (imports are the cache: a
        night covered is never asked again). The first failure to reach the archive stops the
        run with one ``unreachable`` report; what was fetched before it is kept."""
        with self._sessions() as session:
            spans = ConditionStore(session).uncovered_spans(timedelta(seconds=margin_s))
        reports: list[ImportReport] = []
        for start, end in spans:
            name = f"ESO ambient {start:%Y-%m-%dT%H:%M}..{end:%Y-%m-%dT%H:%M}"
            try:
                text = fetch_ambient(url, start, end, timeout_s=timeout_s)
            except AmbientUnreachableError as exc:
                message = (
                    f"{name}: ESO's ambient archive cannot be reached ({exc}); import its "
                    "tables with `hcdc conditions import` instead"
                )
                reports.append(ImportReport(name, "unreachable", messages=(message,)))
                break
            checksum = hashlib.sha256(text.encode()).hexdigest()
            reports.append(
                self._store(
                    parse_site_monitor(text, name=name), ConditionSource.SITE, checksum, None
                )
            )
        return reports

    def import_sparta(self, data_file_id: int, *, link: bool = True) -> ImportReport:
        """Read the telemetry of a stored SPARTA data file (again a no-op); with ``link``,
        relink the exposures of its time span."""
        with self._sessions() as session:
            row = session.get(DataFile, data_file_id)
            if row is None:
                raise NotFoundError(f"no data file {data_file_id}")
            path, checksum = Path(row.path), row.checksum
        result = read_sparta(path)
        return self._store(result, ConditionSource.SPARTA, checksum, data_file_id, link=link)

    def _store(
        self,
        result: ReadResult,
        source: ConditionSource,
        checksum: str,
        data_file_id: int | None,
        *,
        link: bool = True,
    ) -> ImportReport:
        parameters = tuple(sorted({s.parameter.value for s in result.series}))
        if not result.series:
            return ImportReport(result.name, "rejected", messages=result.messages)
        with self._sessions.begin() as session:
            store = ConditionStore(session)
            known = store.import_with_checksum(checksum)
            if known is not None:
                return ImportReport(
                    result.name,
                    "unchanged",
                    known.n_samples,
                    parameters,
                    (f"{result.name}: same content as the import of {known.name}",),
                )
            messages = list(result.messages)
            if source == ConditionSource.SITE:
                dropped = store.drop_overlapped(result.series)
                if dropped:
                    messages.append(
                        f"{result.name}: replaces {dropped} earlier site-monitor sample(s) "
                        "of the same time span"
                    )
            row = store.add_import(
                source=source,
                name=result.name,
                checksum=checksum,
                data_file_id=data_file_id,
                series=result.series,
                messages=messages,
            )
            start, end = row.time_start, row.time_end
            linked = 0
            if link and start is not None and end is not None:
                linked = self._link_span(session, start, end)
        return ImportReport(
            result.name,
            "imported",
            row.n_samples,
            parameters,
            tuple(messages),
            linked,
            start,
            end,
        )

    def after_ingest(self, ingested: Sequence[tuple[int, str]]) -> dict[int, ImportReport]:
        """Conditions work for newly ingested files (id, frame type): read SPARTA telemetry,
        link the science exposures. Answers the SPARTA reports by data file id."""
        # Every file's samples first, then one relink of the whole batch: an exposure spanned
        # by several SPARTA files is computed (and written) once.
        reports = {
            file_id: self.import_sparta(file_id, link=False)
            for file_id, frame_type in ingested
            if frame_type == SPARTA
        }
        spans = [
            (r.time_start, r.time_end)
            for r in reports.values()
            if r.status == "imported" and r.time_start is not None and r.time_end is not None
        ]
        others = [file_id for file_id, frame_type in ingested if frame_type != SPARTA]
        if not spans and not others:
            return reports
        with self._sessions.begin() as session:
            store = ConditionStore(session)
            gap = timedelta(seconds=self._max_gap)
            ids = set(others)
            for start, end in spans:
                assert start is not None and end is not None
                ids.update(row.id for row in store.exposures_between(start - gap, end + gap))
            self._link_rows(session, store.exposures(ids))
        return reports

    def catch_up(self, *, chunk: int = 2000) -> tuple[list[ImportReport], int]:
        """Read the SPARTA files stored before hcdc read telemetry and link every exposure that
        has no conditions yet (a database that predates this feature); reports and count."""
        with self._sessions() as session:
            unread = ConditionStore(session).sparta_not_read()
        reports = [self.import_sparta(file_id) for file_id in unread]
        linked = sum(report.frames_linked for report in reports)
        while True:
            with self._sessions() as session:
                ids = ConditionStore(session).exposures_not_linked(chunk)
            if not ids:
                return reports, linked
            linked += self.link(ids)

    # -- linking -----------------------------------------------------------------------------

    def link(self, data_file_ids: Iterable[int]) -> int:
        """(Re)compute the conditions of these files' science exposures; how many."""
        with self._sessions.begin() as session:
            rows = ConditionStore(session).exposures(data_file_ids)
            return self._link_rows(session, rows)

    def _link_span(self, session: Session, start: datetime, end: datetime) -> int:
        gap = timedelta(seconds=self._max_gap)
        rows = ConditionStore(session).exposures_between(start - gap, end + gap)
        return self._link_rows(session, rows)

    def _link_rows(self, session: Session, rows: Sequence[Row[Any]]) -> int:
        if not rows:
            return 0
        store = ConditionStore(session)
        windows = {
            row.id: exposure_window(
                row.date_obs,
                exptime=row.exptime,
                dit=row.dit,
                ndit=row.ndit,
            )
            for row in rows
        }
        airmasses = {row.id: row.airmass for row in rows}
        for group in _clusters(windows, self._max_gap):
            # One read of the samples per stretch of observing: a batch spanning years of
            # archive never loads the years in between.
            low = min(windows[i][0] for i in group) - self._max_gap
            high = max(windows[i][1] for i in group) + self._max_gap
            series = index_series(
                store.series_between(unix_to_datetime(low), unix_to_datetime(high))
            )
            items = []
            for file_id in group:
                start, end = windows[file_id]
                window = (unix_to_datetime(start), unix_to_datetime(end))
                found = conditions_over(series, start, end, max_gap_s=self._max_gap)
                items.append((file_id, window, found, airmasses[file_id]))
            store.save_many(items)
        session.flush()
        _propagate(session, [row.id for row in rows])
        return len(rows)

    # -- reading -----------------------------------------------------------------------------

    def process_panel(
        self, viewer: Viewer, process_id: int, *, parameters: Sequence[str] = PANEL_PARAMETERS
    ) -> ProcessConditions:
        """What a conditions panel shows of a process the viewer may read (404 otherwise): the
        aggregate, the science exposures it comes from and the series over their span."""
        with self._sessions() as session:
            check_read_process(viewer, process_ref(session, process_id))
            store = ConditionStore(session)
            files = store.inputs(process_id)
            found = aggregate(files, store.conditions_of(f.id for f in files))
            exposures = _exposures(store, files)
            starts = [e.window_start for e in exposures if e.window_start is not None]
            ends = [e.window_end for e in exposures if e.window_end is not None]
            series = (
                store.series_between(min(starts) - _JOB_MARGIN, max(ends) + _JOB_MARGIN)
                if starts and ends
                else []
            )
        wanted = set(parameters)
        return ProcessConditions(
            process_id=process_id,
            aggregate={p.value: _value(c.stats, c.source) for p, c in found.parameters.items()},
            airmass=found.airmass.mean if found.airmass else None,
            exposures=exposures,
            series=[
                ConditionSeriesOut(
                    parameter=s.parameter.value,
                    source=s.source.value,
                    unit=UNITS[s.parameter],
                    times=[unix_to_datetime(float(t)) for t in s.times],
                    values=[float(v) for v in s.values],
                )
                for s in series
                if s.parameter.value in wanted
            ],
        )

    def process_conditions(self, process_id: int) -> InputsConditions:
        """The aggregate of a process's inputs."""
        with self._sessions() as session:
            if session.get(Process, process_id) is None:
                raise NotFoundError(f"no process {process_id}")
            store = ConditionStore(session)
            files = store.inputs(process_id)
            return aggregate(files, store.conditions_of(f.id for f in files))

    def file_conditions(self, data_file_ids: Iterable[int]) -> InputsConditions:
        """The aggregate of some data files (one file: its own conditions)."""
        with self._sessions() as session:
            ids = sorted(set(data_file_ids))
            files = list(session.scalars(select(DataFile).where(DataFile.id.in_(ids))))
            return aggregate(files, ConditionStore(session).conditions_of(ids))

    def series_between(self, start: datetime, end: datetime) -> list[ConditionSeries]:
        """The stored series over a time span (e.g. a night, for a job or a plot)."""
        with self._sessions() as session:
            return ConditionStore(session).series_between(start, end)


def _clusters(windows: dict[int, tuple[float, float]], gap: float) -> list[list[int]]:
    """File ids grouped into stretches of time with no hole longer than an hour."""
    hole = max(3600.0, 2 * gap)
    groups: list[list[int]] = []
    last_end = -math.inf
    for file_id, (start, end) in sorted(windows.items(), key=lambda item: item[1]):
        if start - last_end > hole:
            groups.append([])
        groups[-1].append(file_id)
        last_end = max(last_end, end)
    return groups


def _value(stats: WindowStats, source: str) -> ConditionValue:
    return ConditionValue(
        mean=stats.mean,
        std=stats.std,
        n=stats.n,
        minimum=stats.minimum,
        maximum=stats.maximum,
        interpolated=stats.interpolated,
        source=str(source),
    )


def _exposures(store: ConditionStore, files: Sequence[DataFile]) -> list[ExposureConditions]:
    """The raw exposures among ``files``, else among the inputs of the processes that made
    them, and so on up the provenance."""
    current = list(files)
    for _ in range(_MAX_GENERATIONS):
        raw = [
            f for f in current if f.is_raw and f.category == "SCIENCE" and f.frame_type != SPARTA
        ]
        if raw:
            linked = store.conditions_of(f.id for f in raw)
            rows = sorted(
                (linked[f.id] for f in raw if f.id in linked),
                key=lambda r: (r.window_start or datetime.min, r.data_file_id),
            )
            return [
                ExposureConditions(
                    window_start=row.window_start,
                    window_end=row.window_end,
                    values={p.value: _value(s, src) for p, (s, src) in stats_of(row).items()},
                    airmass=row.airmass,
                )
                for row in rows
            ]
        producers = store.producers(f.id for f in current)
        if not producers:
            return []
        current = [f for process_id in producers for f in store.inputs(process_id)]
    return []


def inherit_outputs(session: Session, process_id: int, output_ids: Iterable[int]) -> list[int]:
    """Give a process's products the aggregate conditions of its inputs (inside the caller's
    transaction); the ids given conditions."""
    store = ConditionStore(session)
    files = store.inputs(process_id)
    input_ids = {f.id for f in files}
    outputs = sorted(set(output_ids) - input_ids)
    if not outputs:
        return []
    found = aggregate(files, store.conditions_of(input_ids))
    if not found.parameters and found.airmass is None:
        return []
    for output_id in outputs:
        store.save(
            output_id,
            window=found.window,
            found=found.parameters,
            airmass=found.airmass.mean if found.airmass else None,
        )
    session.flush()
    return outputs


def _propagate(session: Session, data_file_ids: Sequence[int]) -> None:
    """Relinked files change the products made from them, generation after generation."""
    store = ConditionStore(session)
    changed = list(data_file_ids)
    for _ in range(_MAX_GENERATIONS):
        produced: list[int] = []
        for process_id in store.consumers(changed):
            produced += inherit_outputs(session, process_id, store.outputs(process_id))
        if not produced:
            return
        changed = produced


def conditions_for_process(session: Session, process_id: int) -> list[ConditionSeries]:
    """The series a process's job needs: over its inputs' exposures (with a margin), or
    around their observation times when none was linked."""
    store = ConditionStore(session)
    files = store.inputs(process_id)
    linked = store.conditions_of(f.id for f in files).values()
    starts = [c.window_start for c in linked if c.window_start is not None]
    ends = [c.window_end for c in linked if c.window_end is not None]
    if not starts or not ends:
        dates = [f.date_obs for f in files if f.date_obs is not None]
        if not dates:
            return []
        starts, ends = [min(dates)], [max(dates) + timedelta(hours=2)]
    return store.series_between(min(starts) - _JOB_MARGIN, max(ends) + _JOB_MARGIN)
