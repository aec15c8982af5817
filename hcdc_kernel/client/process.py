"""A process on the service: its Info panel, inputs, outputs, actions and products."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from astropy.table import Table
from tqdm.auto import tqdm

from hcdc_kernel.client.errors import HcdcProcessError, HcdcTimeoutError
from hcdc_kernel.client.products import load_product
from hcdc_kernel.client.tables import items_table
from hcdc_kernel.enums import (
    COMPLETED_STATUSES,
    FAILED_STATUSES,
    FINISHED_STATUSES,
    ProcessStatus,
    ValidationStatus,
)

if TYPE_CHECKING:
    from hcdc_kernel.client.session import HcdcClient

__all__ = ["FINISHED_STATUSES", "Batch", "Process"]

_FILE_COLUMNS = ("data_file_id", "file_name", "frame_type", "sof_tag", "category", "ra", "dec")


class Process:
    """One run of a recipe, as the service knows it (refreshed on demand).

    Obtain it with ``dc.process(id)``; ``info`` is the seed's Info panel as a dict.
    """

    def __init__(
        self, client: HcdcClient, process_id: int, info: Mapping[str, Any] | None = None
    ) -> None:
        self._client = client
        self.id = int(process_id)
        self._info: dict[str, Any] = dict(info) if info is not None else {}

    def __repr__(self) -> str:
        info = self.info
        return (
            f"<Process {self.id} {info.get('recipe_name')} status={info.get('status')} "
            f"validation={info.get('validation_status')} progress={info.get('progress')}>"
        )

    # -- state ---------------------------------------------------------------------------------

    def refresh(self) -> Process:
        """Read the process again from the service."""
        self._info = dict(self._client.transport.json("GET", f"/api/processes/{self.id}"))
        return self

    @property
    def info(self) -> dict[str, Any]:
        """Every field of the Info panel (status, validation, times, recipe, user...)."""
        if not self._info:
            self.refresh()
        return self._info

    @property
    def status(self) -> ProcessStatus:
        """``queued``, ``running``, ``waiting_validation``, ``done``, ``error`` or ``cancelled``."""
        return ProcessStatus(self.info["status"])

    @property
    def validation_status(self) -> ValidationStatus | None:
        """``to_validate``, ``valid``, ``rejected``, ``to_reprocess`` or ``None``."""
        value = self.info.get("validation_status")
        return None if value is None else ValidationStatus(value)

    @property
    def progress(self) -> float:
        """Progress in percent."""
        return float(self.info.get("progress") or 0.0)

    @property
    def finished(self) -> bool:
        """Whether the run is over (whatever its outcome)."""
        return self.status in FINISHED_STATUSES

    @property
    def labellable(self) -> bool:
        """Whether a reviewer may label the run (any run that went to its end)."""
        return self.status in COMPLETED_STATUSES

    def _files(self, key: str) -> Table:
        entries = self.info.get(key) or []
        rows = []
        for entry in entries:
            if isinstance(entry, int):
                detail = self._client.data_info(entry)
                rows.append(
                    {
                        "data_file_id": entry,
                        "file_name": detail.get("file_name"),
                        "frame_type": detail.get("frame_type"),
                        "ra": detail.get("ra"),
                        "dec": detail.get("dec"),
                        "size": detail.get("size"),
                    }
                )
            else:
                rows.append(dict(entry))
        return items_table(rows, first=_FILE_COLUMNS, meta={"process_id": self.id})

    @property
    def inputs(self) -> Table:
        """The input files (the Info panel's Raw Inputs) with their SOF tags."""
        return self._files("inputs")

    @property
    def outputs(self) -> Table:
        """The product files with their categories."""
        return self._files("outputs")

    # -- documents -----------------------------------------------------------------------------

    def sof(self) -> str:
        """The set-of-frames file (``<path> <TAG>`` per line)."""
        return self._client.transport.request("GET", f"/api/processes/{self.id}/sof").text

    def log(self) -> str:
        """The log of the run."""
        path = "/api/processes/{process_id}/log"
        self._client.transport.require("GET", path, purpose="Process.log()")
        return self._client.transport.request("GET", f"/api/processes/{self.id}/log").text

    def validation_history(self) -> list[dict[str, Any]]:
        """Every validation change: who, when, from, to, comment."""
        events: list[dict[str, Any]] = self._client.transport.json(
            "GET", f"/api/processes/{self.id}/validation"
        )
        return events

    # -- actions -------------------------------------------------------------------------------

    def _validate(self, status: ValidationStatus, comment: str | None) -> Process:
        self._client.transport.json(
            "POST",
            f"/api/processes/{self.id}/validation",
            json={"status": status, "comment": comment},
        )
        return self.refresh()

    def accept(self, comment: str | None = None) -> Process:
        """Mark the result valid."""
        return self._validate(ValidationStatus.VALID, comment)

    def reject(self, comment: str) -> Process:
        """Mark the result rejected, saying why."""
        return self._validate(ValidationStatus.REJECTED, comment)

    def to_reprocess(self, comment: str) -> Process:
        """Mark the result as needing a new run, saying why."""
        return self._validate(ValidationStatus.TO_REPROCESS, comment)

    def reprocess(
        self, *, params: Mapping[str, Any] | None = None, version: str | None = None
    ) -> Process:
        """Run again on the same inputs (optionally with other parameters); the new process."""
        body = {"params": dict(params) if params is not None else None, "version": version}
        created = self._client.transport.json(
            "POST", f"/api/processes/{self.id}/reprocess", json=body
        )
        self.refresh()
        return Process(self._client, int(created["id"]))

    def cancel(self) -> Process:
        """Cancel a queued or running process."""
        self._client.transport.json("POST", f"/api/processes/{self.id}/cancel")
        return self.refresh()

    def wait(
        self,
        *,
        timeout_s: float | None = None,
        poll_s: float = 1.0,
        progress: bool = True,
        raise_on_error: bool = True,
    ) -> Process:
        """Block until the run is over, showing a progress bar.

        Raises
        ------
        HcdcTimeoutError
            ``timeout_s`` passed first.
        HcdcProcessError
            The process ended in ``error`` or ``cancelled`` (unless ``raise_on_error`` is off).
        """
        wait_all([self], timeout_s=timeout_s, poll_s=poll_s, progress=progress)
        if raise_on_error and self.status in FAILED_STATUSES:
            reason = self.info.get("error") or self.status
            raise HcdcProcessError(
                f"process {self.id} ({self.info.get('recipe_name')}) ended {self.status}: {reason}",
                process_id=self.id,
                status=self.status,
            )
        return self

    # -- products ------------------------------------------------------------------------------

    def products(self) -> dict[str, Any]:
        """Each output loaded as an object, by file name (see :mod:`.products`)."""
        loaded: dict[str, Any] = {}
        for row in self.outputs:
            data_id = int(row["data_file_id"])
            loaded[str(row["file_name"])] = load_product(self._client.download(data_id))
        return loaded

    def product(self, category: str) -> Any:
        """The output of ``category`` (e.g. ``HCI_CONTRAST_CURVE``) loaded as an object."""
        for row in self.outputs:
            names = {str(row[c]) for c in ("category", "frame_type") if c in row.colnames}
            if category in names:
                return load_product(self._client.download(int(row["data_file_id"])))
        raise KeyError(f"process {self.id} has no {category} output")


def wait_all(
    processes: Sequence[Process],
    *,
    timeout_s: float | None = None,
    poll_s: float = 1.0,
    progress: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll ``processes`` until all have finished, with one progress bar (mean percent)."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    label = f"process {processes[0].id}" if len(processes) == 1 else f"{len(processes)} processes"
    with tqdm(total=100.0, desc=label, disable=not progress, unit="%") as bar:
        while True:
            for process in processes:
                if not (process._info and process.finished):
                    process.refresh()
            mean = sum(100.0 if p.finished else p.progress for p in processes) / len(processes)
            bar.update(max(0.0, mean - bar.n))
            statuses = sorted({p.status for p in processes})
            bar.set_postfix_str(",".join(statuses), refresh=False)
            if all(p.finished for p in processes):
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise HcdcTimeoutError(
                    f"{label} not finished after {timeout_s} s (status {','.join(statuses)})"
                )
            sleep(poll_s)


class Batch:
    """Processes launched together (``dc.launch`` returns one)."""

    def __init__(self, client: HcdcClient, batch_id: int, processes: Sequence[Process]) -> None:
        self._client = client
        self.id = int(batch_id)
        self.processes = list(processes)

    def __repr__(self) -> str:
        return f"<Batch {self.id}: processes {[p.id for p in self.processes]}>"

    def __iter__(self) -> Any:
        return iter(self.processes)

    def __len__(self) -> int:
        return len(self.processes)

    def __getitem__(self, index: int) -> Process:
        return self.processes[index]

    def wait(
        self,
        *,
        timeout_s: float | None = None,
        poll_s: float = 1.0,
        progress: bool = True,
        raise_on_error: bool = True,
    ) -> Batch:
        """Block until every process is over (one progress bar); see :meth:`Process.wait`."""
        if self.processes:
            wait_all(self.processes, timeout_s=timeout_s, poll_s=poll_s, progress=progress)
        failed = [p for p in self.processes if p.status in FAILED_STATUSES]
        if raise_on_error and failed:
            first = failed[0]
            raise HcdcProcessError(
                f"{len(failed)} of {len(self)} processes failed; process {first.id} ended "
                f"{first.status}: {first.info.get('error') or first.status}",
                process_id=first.id,
                status=first.status,
            )
        return self
