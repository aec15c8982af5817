"""A recipe row whose stored spec cannot be read: listed as unavailable, never a crash."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from hcdc_server.exceptions import ConflictError
from hcdc_server.models.processes import LaunchRequest
from hcdc_server.schema.tables import Recipe
from tests.dispatch.helpers import run_worker, user_id


def _break(factory, name: str) -> None:
    with factory.sessions.begin() as session:
        session.execute(update(Recipe).where(Recipe.name == name).values(spec={"kind": "python"}))


def test_a_broken_spec_is_listed_unavailable_and_refused_at_launch(factory) -> None:
    factory.recipes().list_recipes()
    _break(factory, "hcdc_echo")
    listed = {r.name: r for r in factory.recipes().list_recipes(include_hidden=True)}
    assert listed["hcdc_echo"].available is False
    assert "lacks the field 'name'" in (listed["hcdc_echo"].unavailable_reason or "")
    assert listed["hcdc_sleep"].available is True  # one broken row spoils nothing else
    with pytest.raises(ConflictError, match=r"hcdc_echo version .* cannot be used"):
        factory.processes().launch(
            LaunchRequest(recipe="hcdc_echo", force=True), user_id=user_id(factory)
        )


def test_the_worker_ends_a_queued_process_whose_recipe_broke(factory) -> None:
    uid = user_id(factory)
    launched = factory.processes().launch(
        LaunchRequest(recipe="hcdc_echo", force=True), user_id=uid
    )
    healthy = factory.processes().launch(
        LaunchRequest(recipe="hcdc_sleep", force=True), user_id=uid
    )
    _break(factory, "hcdc_echo")
    run_worker(factory)
    broken = factory.processes().get(launched.processes[0].id)
    assert broken.status == "error"
    assert "cannot be read" in (broken.error or "")
    assert factory.processes().get(healthy.processes[0].id).status in ("done", "waiting_validation")
