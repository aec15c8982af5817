"""`hcdc demo`: demo users, a workspace, the synthetic nights and NACO beta Pic, reduced.

The demo ingests the two synthetic SPHERE/IRDIS nights (and the NACO beta Pictoris sequence
where the shared data is present), then reduces them as a data center would: the ``irdis_dbi``
workflow per night (calibrations, star centre, PSF, a centred cube per field, ADI, S/N maps,
contrast curves, companions) and ``naco_adi`` on the NACO cube. The pre-processed cubes need a
validator's look before post-processing: the demo validates them (with a comment), as HC-DC's
validators would after viewing the derotated stacks, and then reprocesses one field of the
second night with its angles from the telescope pointing, which waits for validation. The NACO
PSF is normalised and its headers hold no DIT: the contrast and companion steps refuse to guess
the star's flux (an error, as on a real night) and are reprocessed with the flux published with
the data. So the process browser and both dashboards open on a night's work: finished
processes with their products, errors with their reasons, a validation queue and contrast
curves to review.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from hcdc_kernel.demo import write_demo_nights, write_naco_betapic
from hcdc_kernel.demo.plan import DEMO_NIGHTS
from hcdc_server.exceptions import NotFoundError
from hcdc_server.models.processes import WorkflowLaunchRequest
from hcdc_server.schema.tables import Process

if TYPE_CHECKING:
    from hcdc_server.factory import Factory

DEMO_LOGIN = "demo"
DEMO_WORKSPACE = "demo"
#: The reduction of each demo night is the batch with this reference (``<target> <night>``).
NACO_REFERENCE = "beta Pic NACO L' 2013-01-31"
VALIDATION_COMMENT = (
    "Derotated stack clean, star on the centre pixel, angles agree with the pointing."
)
REPROCESS_PARAMS = {"angle_source": "ephemeris"}
#: beta Pic's flux in the cube's units and a 1xFWHM aperture, published with the data set
#: (vip-hci's tutorials, from Absil et al. 2013): its PSF is normalised, its headers hold no
#: DIT, so the contrast steps refuse until they are given it.
NACO_STARPHOT = 764939.6
#: Longest wait for the demo's reductions (seconds).
REDUCTION_TIMEOUT_S = 3600.0


def night_reference(target: str, night: str) -> str:
    """Reference of the reduction of one demo night."""
    return f"{target} {night}"


def install_demo(
    factory: Factory,
    *,
    quick: bool = False,
    seed: int = 20190527,
    reduce: bool = True,
    wait: bool = True,
) -> dict[str, Any]:
    """Install the demo and, with ``reduce``, reduce it; return a summary.

    With ``wait`` the reductions run here to their end (validations and the reprocessing
    included); without, they are only launched, for a running worker (``hcdc up``) to take,
    and the pre-processed cubes wait in the validation queue. Idempotent: a second run ingests
    nothing new and launches nothing already launched.
    """
    factory.init_database()
    users = factory.users()
    workspaces = factory.workspaces()
    try:
        users.get_user(DEMO_LOGIN)
    except NotFoundError:
        users.add_user(DEMO_LOGIN, email="demo@hcdc.invalid", role="user", full_name="Demo User")
    try:
        workspaces.get(DEMO_WORKSPACE)
    except NotFoundError:
        workspaces.add_workspace(
            DEMO_WORKSPACE, description="Demo nights and NACO beta Pic", owner_login=DEMO_LOGIN
        )
    # The tutorial notebooks launch the test recipe hcdc_echo (one small product, no path
    # parameter): hidden recipes are for administrators, so the demo shows this one to all.
    factory.recipes().set_hidden("hcdc_echo", hidden=False)
    dest = factory.settings.data_dir / "demo"
    manifest = write_demo_nights(dest, seed=seed, quick=quick)
    naco = write_naco_betapic(factory.settings.resolved_shared_dir, dest)
    frame_types: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    ids: dict[Path, int] = {}

    def count(record: Any) -> None:
        statuses[record.status] += 1
        if record.frame_type:
            frame_types[record.frame_type] += 1
        if record.id is not None:
            ids[Path(record.path).resolve()] = record.id

    factory.ingest().ingest(
        [*manifest.files, *manifest.telemetry, *naco],
        workspace=DEMO_WORKSPACE,
        user_login=DEMO_LOGIN,
        on_record=count,
    )
    # The site monitor's tables after the frames: the import links them (SPARTA at ingest).
    site = factory.conditions().import_site_files(manifest.site_tables)
    token = users.create_token(DEMO_LOGIN, name="demo")
    summary: dict[str, Any] = {
        "data_dir": str(factory.settings.data_dir.resolve()),
        "files": dict(statuses),
        "frame_types": dict(sorted(frame_types.items())),
        "naco_betapic": [str(p) for p in naco],
        "companions": str(dest / "companions.json"),
        "site_monitor": {report.name: report.status for report in site},
        "login": DEMO_LOGIN,
        "token": token.token,
    }
    if reduce:
        nights = {
            night_reference(setup.target.object_name, setup.night): [
                ids[p.resolve()] for p in manifest.files if p.parent.name == setup.night
            ]
            for setup in DEMO_NIGHTS
        }
        naco_ids = [ids[p.resolve()] for p in naco if p.resolve() in ids]
        summary["reduction"] = reduce_demo(factory, nights=nights, naco=naco_ids, wait=wait)
    return summary


def _launched(factory: Factory, reference: str) -> bool:
    with factory.sessions() as session:
        return session.scalar(select(Process.id).where(Process.reference == reference)) is not None


def _steps(factory: Factory, reference: str) -> dict[str, int]:
    """Workflow step -> newest process of the reduction ``reference``."""
    with factory.sessions() as session:
        rows = session.execute(
            select(Process.workflow_step, Process.id)
            .where(Process.reference == reference)
            .order_by(Process.id)
        ).all()
    return {str(step): int(pid) for step, pid in rows if step}


def _work(factory: Factory, timeout_s: float) -> None:
    """Run the queue until nothing is left to do (the jobs on the configured executor)."""
    from hcdc_server.dispatch.worker import Worker, make_executor

    settings = factory.settings.worker.model_copy(update={"poll_interval_s": 0.2})
    worker = Worker(factory, executor=make_executor(factory, settings=settings), settings=settings)
    worker.run(until_idle=True, timeout_s=timeout_s)


def reduce_demo(
    factory: Factory,
    *,
    nights: Mapping[str, Sequence[int]],
    naco: Sequence[int] = (),
    wait: bool = True,
    timeout_s: float = REDUCTION_TIMEOUT_S,
) -> dict[str, Any]:
    """Launch the demo's reductions; with ``wait``, run them, validate, reprocess one field.

    ``nights`` maps each night's reference to its data file ids. Returns the number of
    processes per status and the wall time.
    """
    started = time.monotonic()
    user_id = factory.users().get_user(DEMO_LOGIN).id
    workflows = factory.workflows()
    launches = [(reference, "irdis_dbi", list(ids)) for reference, ids in nights.items()]
    if naco:
        launches.append((NACO_REFERENCE, "naco_adi", list(naco)))
    for reference, workflow, selection in launches:
        if _launched(factory, reference):
            continue
        workflows.launch(
            workflow,
            WorkflowLaunchRequest(
                selection=selection, workspace=DEMO_WORKSPACE, reference=reference
            ),
            user_id=user_id,
        )
    references = list(nights)
    if wait:
        _validate_and_reprocess(factory, references, user_id=user_id, timeout_s=timeout_s)
    with factory.sessions() as session:
        statuses = Counter(
            str(status)
            for status in session.scalars(
                select(Process.status).where(Process.reference.in_([*references, NACO_REFERENCE]))
            )
        )
    return {"processes": dict(sorted(statuses.items())), "seconds": time.monotonic() - started}


def _validate_and_reprocess(
    factory: Factory, references: Sequence[str], *, user_id: int, timeout_s: float
) -> None:
    """Run the launches; validate the cubes; reprocess one field; run that too."""
    _work(factory, timeout_s)
    processes = factory.processes()
    naco = _steps(factory, NACO_REFERENCE)
    for step in ("contrast", "companions"):
        process = processes.get(naco[step]) if step in naco else None
        if process is not None and process.status == "error" and process.reprocessed_by_id is None:
            processes.reprocess(process.id, user_id=user_id, params={"starphot": NACO_STARPHOT})
    for reference in references:
        steps = _steps(factory, reference)
        for side in ("left", "right"):
            pid = steps.get(f"preprocess_{side}")
            if pid is None:
                continue
            process = processes.get(pid)
            original = process.reprocess_of_id is None and process.reprocessed_by_id is None
            if original and process.validation_status == "to_validate":
                processes.set_validation(pid, "valid", user_id=user_id, comment=VALIDATION_COMMENT)
    _work(factory, timeout_s)
    # A second look at the last night's angles: waits in the validation queue.
    last = _steps(factory, references[-1]) if references else {}
    pid = last.get("preprocess_left")
    first = processes.get(pid) if pid is not None else None
    if first is not None and first.reprocess_of_id is None and first.reprocessed_by_id is None:
        processes.reprocess(first.id, user_id=user_id, params=REPROCESS_PARAMS)
        _work(factory, timeout_s)
