"""Workflow edges between processes: feeding children with products, stopping descendants.

Functions here work inside a caller's transaction (they take a Session and never commit);
status changes go through :mod:`~hcdc_server.services.transitions`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from hcdc_kernel.enums import ProcessStatus
from hcdc_kernel.recipes.registry import accepts
from hcdc_kernel.recipes.spec import RecipeSpec
from hcdc_server.schema.tables import (
    DataFile,
    Process,
    ProcessDependency,
    ProcessInput,
    ProcessOutput,
    Recipe,
)
from hcdc_server.services import transitions
from hcdc_server.services.users import utcnow


def stop_descendants(session: Session, process_id: int, reason: str) -> list[int]:
    """Cancel every queued descendant of a process, each with ``reason``; return their ids."""
    stopped: list[int] = []
    frontier = [process_id]
    now = utcnow()
    while frontier:
        children = session.scalars(
            select(Process)
            .join(ProcessDependency, ProcessDependency.process_id == Process.id)
            .where(ProcessDependency.parent_id.in_(frontier))
        ).all()
        frontier = []
        for child in children:
            if child.status != ProcessStatus.QUEUED or child.id in stopped:
                continue
            transitions.move(child, ProcessStatus.CANCELLED, ended_at=now)
            child.error = reason
            stopped.append(child.id)
            frontier.append(child.id)
    return stopped


def release_children(
    session: Session, parent: Process, spec_of: Mapping[int, RecipeSpec] | None = None
) -> list[int]:
    """Feed the children of a parent that counts (:func:`transitions.accepted`).

    Called wherever a parent comes to count: the worker's end of a run, a reviewer's
    ``valid``, a launch answered from the processing cache. Returns the children whose inputs
    cannot be filled (they end in ``error``); nothing when the parent does not count.
    """
    if not transitions.accepted(parent):
        return []
    return feed_children(session, parent, spec_of or {})


def feed_children(
    session: Session, parent: Process, spec_of: Mapping[int, RecipeSpec]
) -> list[int]:
    """Give each child of a finished parent the parent's products for the tags it takes.

    A parent answered from the processing cache gives the products of the run it reuses.
    Returns the children whose inputs cannot be filled (they are set to ``error``).
    """
    failed: list[int] = []
    outputs = session.execute(
        select(DataFile.id, DataFile.frame_type)
        .join(ProcessOutput, ProcessOutput.data_file_id == DataFile.id)
        .where(ProcessOutput.process_id == (parent.cache_of_id or parent.id))
        .order_by(DataFile.id)
    ).all()
    edges = session.scalars(
        select(ProcessDependency).where(ProcessDependency.parent_id == parent.id)
    ).all()
    for edge in edges:
        child = session.get_one(Process, edge.process_id)
        if child.status != ProcessStatus.QUEUED or not edge.tags:
            continue
        spec = spec_of.get(child.recipe_id) or _spec(session, child.recipe_id)
        slots = {slot.tag: slot for slot in spec.inputs}
        present = set(
            session.execute(
                select(ProcessInput.data_file_id, ProcessInput.sof_tag).where(
                    ProcessInput.process_id == child.id
                )
            ).all()
        )
        for tag in edge.tags:
            slot = slots.get(tag)
            matching = [o.id for o in outputs if slot is not None and accepts(slot, o.frame_type)]
            if slot is not None and slot.max_count is not None:
                matching = matching[: slot.max_count]
            if slot is not None and len(matching) < slot.min_count:
                transitions.move(child, ProcessStatus.ERROR)
                child.failure_class = "usage"
                child.error = (
                    f"input {tag}: step {parent.workflow_step or parent.id!s} (process "
                    f"{parent.id}) produced no {'/'.join(slot.frame_types)}"
                )
                failed.append(child.id)
                break
            for data_file_id in matching:
                if (data_file_id, tag) in present:
                    continue
                session.add(
                    ProcessInput(
                        process_id=child.id,
                        data_file_id=data_file_id,
                        sof_tag=tag,
                        association_reason=f"product of step {parent.workflow_step or ''} "
                        f"(process {parent.id})".replace("step  ", "step "),
                    )
                )
    for child_id in failed:
        stop_descendants(session, child_id, f"not run: its parent process {child_id} failed")
    return failed


def _spec(session: Session, recipe_id: int) -> RecipeSpec:
    row = session.get_one(Recipe, recipe_id)
    return RecipeSpec.from_dict(row.spec)


def repoint_children(session: Session, old_id: int, new_id: int) -> int:
    """Make queued children of ``old_id`` wait for ``new_id`` instead (after a reprocess)."""
    moved = 0
    for edge in session.scalars(
        select(ProcessDependency).where(ProcessDependency.parent_id == old_id)
    ).all():
        child = session.get_one(Process, edge.process_id)
        if child.status == ProcessStatus.QUEUED:
            session.add(
                ProcessDependency(process_id=child.id, parent_id=new_id, tags=list(edge.tags))
            )
            session.delete(edge)
            moved += 1
    return moved


def add_edges(session: Session, child_id: int, parents: Iterable[tuple[int, list[str]]]) -> None:
    for parent_id, tags in parents:
        session.add(ProcessDependency(process_id=child_id, parent_id=parent_id, tags=tags))
