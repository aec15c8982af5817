"""All SQL of the conditions aggregate: imports, samples and per-frame conditions.

The store works inside the caller's transaction (it takes a Session and never commits).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Row, delete, func, insert, select
from sqlalchemy.orm import Session

from hcdc_kernel.conditions import (
    ConditionParameter,
    ConditionSeries,
    ConditionSource,
    FrameCondition,
    WindowStats,
    datetime_to_unix,
    unix_to_datetime,
)
from hcdc_kernel.frames import ACQUISITION, SPARTA, UNKNOWN
from hcdc_server.schema.tables import (
    ConditionImport,
    ConditionSample,
    DataFile,
    FrameConditions,
    ProcessInput,
    ProcessOutput,
)

__all__ = ["ConditionStore", "stats_of"]


#: (parameter, mean column, spread column), resolved once: enum access costs per row.
_COLUMNS = tuple((p, p.value, f"{p.value}_std") for p in ConditionParameter)
_NO_VALUES = {name: None for _, mean, std in _COLUMNS for name in (mean, std)}


def _condition_values(
    window: tuple[datetime, datetime] | None,
    found: Mapping[ConditionParameter, FrameCondition],
    airmass: float | None,
) -> dict[str, Any]:
    """The columns of one frame_conditions row (all of them, so a relink replaces every one)."""
    values: dict[str, Any] = dict(_NO_VALUES)
    values["window_start"], values["window_end"] = window if window is not None else (None, None)
    details: dict[str, Any] = {}
    if found:
        for parameter, mean, std in _COLUMNS:
            item = found.get(parameter)
            if item is not None:
                values[mean] = item.stats.mean
                values[std] = item.stats.std
                details[mean] = {
                    "source": item.source.value,
                    "n": item.stats.n,
                    "min": item.stats.minimum,
                    "max": item.stats.maximum,
                    "interpolated": item.stats.interpolated,
                }
    values["details"] = details
    values["airmass"] = airmass
    values["linked_at"] = _now()
    return values


def _now() -> datetime:
    """Naive UTC now, as the database stores every timestamp."""
    return datetime.now(UTC).replace(tzinfo=None)


#: Frame types that never get conditions of their own (not exposures of the sky).
_NOT_EXPOSURES = (SPARTA, ACQUISITION, UNKNOWN)
#: Longest exposure considered when looking for frames overlapping a time range.
_LONGEST_EXPOSURE = timedelta(hours=2)


def stats_of(row: FrameConditions) -> dict[ConditionParameter, tuple[WindowStats, str]]:
    """Each known parameter of a stored row: its statistics and source."""
    found: dict[ConditionParameter, tuple[WindowStats, str]] = {}
    for parameter in ConditionParameter:
        mean = getattr(row, parameter.value)
        if mean is None:
            continue
        detail: Mapping[str, Any] = (row.details or {}).get(parameter.value, {})
        stats = WindowStats(
            mean=mean,
            std=getattr(row, f"{parameter.value}_std"),
            n=int(detail.get("n", 0)),
            minimum=float(detail.get("min", mean)),
            maximum=float(detail.get("max", mean)),
            interpolated=bool(detail.get("interpolated", False)),
        )
        found[parameter] = (stats, str(detail.get("source", "")))
    return found


class ConditionStore:
    """Reads and writes condition imports, samples and frame conditions."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # -- imports and samples ---------------------------------------------------------------

    def import_with_checksum(self, checksum: str) -> ConditionImport | None:
        return self._session.scalar(
            select(ConditionImport).where(ConditionImport.checksum == checksum)
        )

    def add_import(
        self,
        *,
        source: ConditionSource,
        name: str,
        checksum: str,
        data_file_id: int | None,
        series: Sequence[ConditionSeries],
        messages: Sequence[str],
    ) -> ConditionImport:
        """Store one file's series (one bulk insert) and its record."""
        times = [t for s in series for t in (s.times[:1], s.times[-1:]) if t.size]
        bounds = np.concatenate(times) if times else np.array([])
        row = ConditionImport(
            source=source.value,
            name=name[:512],
            checksum=checksum,
            data_file_id=data_file_id,
            time_start=unix_to_datetime(float(bounds.min())) if bounds.size else None,
            time_end=unix_to_datetime(float(bounds.max())) if bounds.size else None,
            n_samples=sum(len(s) for s in series),
            messages=list(messages),
            imported_at=_now(),
        )
        self._session.add(row)
        self._session.flush()
        rows = [
            {
                "import_id": row.id,
                "source": item.source.value,
                "parameter": item.parameter.value,
                "at": unix_to_datetime(float(t)),
                "value": float(v),
            }
            for item in series
            for t, v in zip(item.times, item.values, strict=True)
        ]
        if rows:
            self._session.execute(insert(ConditionSample), rows)
        return row

    def drop_overlapped(self, series: Iterable[ConditionSeries]) -> int:
        """Delete the samples of the same source and parameter inside each series' time span:
        a newer table of the site monitor replaces what an older one said of that time."""
        dropped = 0
        for item in series:
            if not len(item):
                continue
            result = self._session.execute(
                delete(ConditionSample).where(
                    ConditionSample.source == item.source.value,
                    ConditionSample.parameter == item.parameter.value,
                    ConditionSample.at >= unix_to_datetime(float(item.times[0])),
                    ConditionSample.at <= unix_to_datetime(float(item.times[-1])),
                )
            )
            dropped += int(getattr(result, "rowcount", 0) or 0)
        return dropped

    def series_between(self, start: datetime, end: datetime) -> list[ConditionSeries]:
        """Every stored series restricted to ``[start, end]``."""
        rows = self._session.execute(
            select(
                ConditionSample.source,
                ConditionSample.parameter,
                ConditionSample.at,
                ConditionSample.value,
            )
            .where(ConditionSample.at >= start, ConditionSample.at <= end)
            .order_by(ConditionSample.at)
        ).all()
        grouped: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
        for source, parameter, at, value in rows:
            times, values = grouped.setdefault((source, parameter), ([], []))
            times.append(datetime_to_unix(at))
            values.append(value)
        return [
            ConditionSeries.build(ConditionParameter(p), ConditionSource(s), times, values)
            for (s, p), (times, values) in grouped.items()
        ]

    def sparta_not_read(self) -> list[int]:
        """SPARTA data files whose telemetry was never read (stored before hcdc read them)."""
        read = select(ConditionImport.data_file_id).where(ConditionImport.data_file_id.is_not(None))
        return list(
            self._session.scalars(
                select(DataFile.id)
                .where(DataFile.frame_type == SPARTA, DataFile.id.not_in(read.scalar_subquery()))
                .order_by(DataFile.id)
            )
        )

    def exposures_not_linked(self, limit: int) -> list[int]:
        """Science exposures with no conditions row yet (first ``limit`` by id)."""
        linked = select(FrameConditions.data_file_id)
        statement = (
            self._exposures()
            .with_only_columns(DataFile.id)
            .where(DataFile.id.not_in(linked.scalar_subquery()))
            .order_by(DataFile.id)
            .limit(limit)
        )
        return list(self._session.scalars(statement))

    def uncovered_spans(self, margin: timedelta) -> list[tuple[datetime, datetime]]:
        """Per observing night whose exposures' starts no site-monitor import covers, their
        span widened by ``margin`` before and twice that after (room for the last one)."""
        nights = self._session.execute(
            self._exposures()
            .with_only_columns(
                DataFile.obs_night, func.min(DataFile.date_obs), func.max(DataFile.date_obs)
            )
            .group_by(DataFile.obs_night)
            .order_by(DataFile.obs_night)
        ).all()
        spans = []
        for _, first, last in nights:
            covered = self._session.scalar(
                select(ConditionImport.id)
                .where(
                    ConditionImport.source == ConditionSource.SITE.value,
                    ConditionImport.time_start <= first,
                    ConditionImport.time_end >= last,
                )
                .limit(1)
            )
            if covered is None:
                spans.append((first - margin, last + 2 * margin))
        return spans

    # -- frames ------------------------------------------------------------------------------

    def exposures_between(self, start: datetime, end: datetime) -> Sequence[Row[Any]]:
        """Raw science exposures that may overlap ``[start, end]``."""
        return self._rows(
            self._exposures().where(
                DataFile.date_obs >= start - _LONGEST_EXPOSURE, DataFile.date_obs <= end
            )
        )

    def exposures(self, ids: Iterable[int]) -> Sequence[Row[Any]]:
        """The raw science exposures among ``ids``."""
        return self._rows(self._exposures().where(DataFile.id.in_(sorted(set(ids)))))

    def _exposures(self) -> Any:
        return select(
            DataFile.id,
            DataFile.date_obs,
            DataFile.exptime,
            DataFile.dit,
            DataFile.ndit,
            DataFile.airmass,
        ).where(
            DataFile.is_raw.is_(True),
            DataFile.category == "SCIENCE",
            DataFile.frame_type.not_in(_NOT_EXPOSURES),
            DataFile.date_obs.is_not(None),
        )

    def _rows(self, statement: Any) -> Sequence[Row[Any]]:
        return self._session.execute(statement.order_by(DataFile.date_obs, DataFile.id)).all()

    def save(
        self,
        data_file_id: int,
        *,
        window: tuple[datetime, datetime] | None,
        found: Mapping[ConditionParameter, FrameCondition],
        airmass: float | None,
    ) -> FrameConditions:
        """Replace the conditions of one data file."""
        row = self._session.get(FrameConditions, data_file_id)
        if row is None:
            row = FrameConditions(data_file_id=data_file_id)
            self._session.add(row)
        for name, value in _condition_values(window, found, airmass).items():
            setattr(row, name, value)
        return row

    def save_many(
        self,
        items: Sequence[
            tuple[
                int,
                tuple[datetime, datetime] | None,
                Mapping[ConditionParameter, FrameCondition],
                float | None,
            ]
        ],
    ) -> None:
        """Replace the conditions of many data files (id, window, found, airmass) at once.

        One query finds the rows that exist and one multi-row insert adds the others: linking
        a batch of new exposures costs two statements, not a lookup and an insert per file.
        """
        existing = self.conditions_of(item[0] for item in items)
        new_rows: list[dict[str, Any]] = []
        for data_file_id, window, found, airmass in items:
            values = _condition_values(window, found, airmass)
            row = existing.get(data_file_id)
            if row is None:
                new_rows.append({"data_file_id": data_file_id, **values})
            else:
                for name, value in values.items():
                    setattr(row, name, value)
        if new_rows:
            # Core: one multi-row INSERT, no ORM objects for rows nobody reads here.
            self._session.connection().execute(insert(FrameConditions.__table__), new_rows)

    def conditions_of(self, ids: Iterable[int]) -> dict[int, FrameConditions]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = self._session.scalars(
            select(FrameConditions).where(FrameConditions.data_file_id.in_(wanted))
        )
        return {row.data_file_id: row for row in rows}

    # -- provenance ---------------------------------------------------------------------------

    def consumers(self, data_file_ids: Iterable[int]) -> list[int]:
        """Processes that took any of these files as input."""
        wanted = sorted(set(data_file_ids))
        if not wanted:
            return []
        return list(
            self._session.scalars(
                select(ProcessInput.process_id)
                .where(ProcessInput.data_file_id.in_(wanted))
                .distinct()
            )
        )

    def producers(self, data_file_ids: Iterable[int]) -> list[int]:
        """Processes that produced any of these files."""
        wanted = sorted(set(data_file_ids))
        if not wanted:
            return []
        return list(
            self._session.scalars(
                select(ProcessOutput.process_id)
                .where(ProcessOutput.data_file_id.in_(wanted))
                .distinct()
            )
        )

    def outputs(self, process_id: int) -> list[int]:
        return list(
            self._session.scalars(
                select(ProcessOutput.data_file_id).where(ProcessOutput.process_id == process_id)
            )
        )

    def inputs(self, process_id: int) -> list[DataFile]:
        """A process's input files (each once)."""
        ids = select(ProcessInput.data_file_id).where(ProcessInput.process_id == process_id)
        return list(
            self._session.scalars(
                select(DataFile).where(DataFile.id.in_(ids.scalar_subquery())).order_by(DataFile.id)
            )
        )
