"""Detail reads of processes and data files, each through the visibility rule."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session, sessionmaker

from hcdc_kernel.frames.header_io import FitsFormatError, parse_header, read_header_file
from hcdc_server.exceptions import NotFoundError
from hcdc_server.models.catalog import (
    DataDetail,
    DataHeader,
    LinkedFile,
    ProcessDetail,
    ValidationEntry,
)
from hcdc_server.schema import tables as t
from hcdc_server.services.permissions import ProcessRef, check_read_process
from hcdc_server.services.visibility import Viewer, visible

P = t.Process.__table__.c
D = t.DataFile.__table__.c
PI = t.ProcessInput.__table__.c
PO = t.ProcessOutput.__table__.c


class FileMissingError(NotFoundError):
    """A registered data file is no longer readable on storage."""

    code = "file_missing"


class CatalogService:
    """Process and data file details for one viewer."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def process(self, viewer: Viewer, process_id: int) -> ProcessDetail:
        """The Info panel of a process; 404 when absent or not readable (:mod:`permissions`)."""
        with self._sessions() as session:
            row = session.execute(
                select(t.Process, t.Recipe, t.User, t.Workspace, t.Batch, t.Workflow, t.Target)
                .join(t.Recipe, t.Recipe.id == t.Process.recipe_id)
                .join(t.User, t.User.id == t.Process.user_id)
                .outerjoin(t.Workspace, t.Workspace.id == t.Process.workspace_id)
                .outerjoin(t.Batch, t.Batch.id == t.Process.batch_id)
                .outerjoin(t.Workflow, t.Workflow.id == t.Process.workflow_id)
                .outerjoin(t.Target, t.Target.id == t.Process.target_id)
                .where(t.Process.id == process_id)
            ).first()
            if row is None:
                raise NotFoundError(f"no process {process_id}")
            process, recipe, user, workspace, batch, workflow, target = row
            check_read_process(
                viewer,
                ProcessRef(
                    id=process.id,
                    user_id=process.user_id,
                    workspace_id=process.workspace_id,
                    workspace=workspace.name if workspace else None,
                ),
            )
            inputs, hidden_inputs = _linked(session, viewer, PI, process_id, "sof_tag")
            outputs, hidden_outputs = _linked(session, viewer, PO, process_id, "category")
            attributes: dict[str, str | None] = dict(
                session.execute(
                    select(t.ProcessAttribute.key, t.ProcessAttribute.value)
                    .where(t.ProcessAttribute.process_id == process_id)
                    .order_by(t.ProcessAttribute.key)
                ).all()
            )
            history = [
                ValidationEntry(
                    at=event.at,
                    user=login,
                    from_status=event.from_status,
                    to_status=event.to_status,
                    comment=event.comment,
                )
                for event, login in session.execute(
                    select(t.ValidationEvent, t.User.login)
                    .outerjoin(t.User, t.User.id == t.ValidationEvent.user_id)
                    .where(t.ValidationEvent.process_id == process_id)
                    .order_by(t.ValidationEvent.at, t.ValidationEvent.id)
                ).all()
            ]
        duration = (
            (process.ended_at - process.started_at).total_seconds()
            if process.started_at and process.ended_at
            else None
        )
        estimate = process.estimated_duration_s
        return ProcessDetail(
            id=process.id,
            batch_id=process.batch_id,
            batch_name=batch.name if batch else None,
            reference=process.reference,
            status=process.status,
            validation_status=process.validation_status,
            created_at=process.created_at,
            start=process.started_at,
            end=process.ended_at,
            duration_s=duration,
            estimated_duration_s=estimate,
            faster_by_s=estimate - duration if estimate is not None and duration else None,
            progress=process.progress,
            server=process.server,
            obs_night=process.obs_night,
            obs_date=process.obs_date,
            obs_id=process.obs_id,
            prog_id=process.prog_id,
            instrument=process.instrument,
            recipe_id=recipe.id,
            recipe_name=recipe.name,
            pipeline_version=recipe.version,
            recipe_preset=process.recipe_preset,
            params=process.params or {},
            user=user.login,
            user_email=user.email,
            workspace=workspace.name if workspace else None,
            target_name=target.name if target else None,
            launcher_type=process.launcher_type,
            workflow=workflow.name if workflow else None,
            workflow_step=process.workflow_step,
            reprocess_of_id=process.reprocess_of_id,
            reprocessed_by_id=process.reprocessed_by_id,
            cache_of_id=process.cache_of_id,
            error=process.error,
            attributes=attributes,
            inputs=inputs,
            outputs=outputs,
            hidden_inputs=hidden_inputs,
            hidden_outputs=hidden_outputs,
            validation_history=history,
        )

    def data(self, viewer: Viewer, data_id: int) -> DataDetail:
        """A data file's detail; 404 when absent or not visible."""
        with self._sessions() as session:
            data, target = self._data_row(session, viewer, data_id)
            workspaces = select(t.Workspace.name).join(
                t.WorkspaceData, t.WorkspaceData.workspace_id == t.Workspace.id
            )
            workspaces = workspaces.where(t.WorkspaceData.data_file_id == data_id)
            if not viewer.is_admin:
                workspaces = workspaces.where(t.Workspace.id.in_(viewer.workspace_ids))
            names = sorted(session.scalars(workspaces))
            produced_by = _processes_linked(session, viewer, PO, data_id)
            consumed_by = _processes_linked(session, viewer, PI, data_id)
        return DataDetail(
            id=data.id,
            file_name=data.filename,
            size=data.size,
            frame_type=data.frame_type,
            date_obs=data.date_obs,
            ra=data.ra,
            dec=data.dec,
            instrument_filter=data.instrument_filter,
            exptime=data.exptime,
            prog_id=data.prog_id,
            extension_count=None if data.n_extensions is None else data.n_extensions + 1,
            category=data.category,
            is_raw=data.is_raw,
            is_standard=data.is_standard,
            status=data.status,
            instrument=data.instrument,
            arm=data.arm,
            dpr_type=data.dpr_type,
            dpr_tech=data.dpr_tech,
            object=data.object,
            target_name=target.name if target else None,
            target_identifier=target.main_id if target else None,
            obs_night=data.obs_night,
            mjd_obs=data.mjd_obs,
            dit=data.dit,
            ndit=data.ndit,
            obs_id=data.obs_id,
            readout_mode=data.readout_mode,
            derotator_mode=data.derotator_mode,
            coronagraph=data.coronagraph,
            airmass=data.airmass,
            seeing=data.seeing,
            tau0=data.tau0,
            naxis1=data.naxis1,
            naxis2=data.naxis2,
            naxis3=data.naxis3,
            is_public=data.is_public,
            pipeline_version=data.pipeline_version,
            checksum=data.checksum,
            ingested_at=data.ingested_at,
            workspaces=names,
            produced_by=produced_by,
            consumed_by=consumed_by,
        )

    def header(self, viewer: Viewer, data_id: int) -> DataHeader:
        """The full primary header of a visible data file."""
        path, name = self.data_path(viewer, data_id)
        try:
            raw = read_header_file(path)
        except (OSError, FitsFormatError) as exc:
            raise FileMissingError(f"data file {data_id} is not readable: {exc}") from exc
        return DataHeader(
            id=data_id,
            file_name=name,
            header={k: _jsonable(v) for k, v in parse_header(raw).items()},
        )

    def data_path(self, viewer: Viewer, data_id: int) -> tuple[Path, str]:
        """The registered path and name of a visible data file (never a client-given path)."""
        with self._sessions() as session:
            data, _ = self._data_row(session, viewer, data_id)
        path = Path(data.path)
        if not path.is_file():
            raise FileMissingError(f"data file {data_id} is missing on storage")
        if path.resolve() != path:
            # Paths are stored resolved at ingest: a link here was planted since, maybe to a
            # file outside the data the catalog knows, so it is not followed.
            raise FileMissingError(f"data file {data_id} was replaced by a link on storage")
        return path, data.filename

    @staticmethod
    def _data_row(
        session: Session, viewer: Viewer, data_id: int
    ) -> tuple[t.DataFile, t.Target | None]:
        row = session.execute(
            select(t.DataFile, t.Target)
            .outerjoin(t.Target, t.Target.id == t.DataFile.target_id)
            .where(t.DataFile.id == data_id, visible(viewer, "data"))
        ).first()
        if row is None:
            raise NotFoundError(f"no data file {data_id}")
        return row[0], row[1]


def _linked(
    session: Session, viewer: Viewer, link: Any, process_id: int, extra: str
) -> tuple[list[LinkedFile], int]:
    """Visible files linked to a process through ``link`` and how many are hidden.

    One statement: every link with whether the caller sees its file (hidden ones are only
    counted, nothing of them leaves this function).
    """
    shown = visible(viewer, "data")
    rows = session.execute(
        select(
            D.id,
            D.filename,
            D.frame_type,
            D.ra,
            D.dec,
            D.size,
            D.obs_night,
            link[extra],
            case((shown, 1), else_=0).label("shown"),
        )
        .where(link.process_id == process_id, link.data_file_id == D.id)
        .order_by(D.date_obs, D.id)
    ).all()
    files = [
        LinkedFile(
            data_file_id=r[0],
            file_name=r[1],
            frame_type=r[2],
            ra=r[3],
            dec=r[4],
            size=r[5],
            obs_night=r[6],
            **{extra: r[7]},
        )
        for r in rows
        if r.shown
    ]
    return files, len(rows) - len(files)


def _processes_linked(session: Session, viewer: Viewer, link: Any, data_id: int) -> list[int]:
    return list(
        session.scalars(
            select(P.id)
            .where(link.data_file_id == data_id, link.process_id == P.id)
            .where(visible(viewer, "process"))
            .distinct()
            .order_by(P.id)
        )
    )


def _jsonable(value: Any) -> Any:
    """Header values as JSON: booleans, numbers, strings; undefined and NaN as null."""
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, complex):
        return [value.real, value.imag]
    return None if type(value).__name__ == "Undefined" else str(value)
