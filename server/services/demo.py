"""`hcdc demo`: demo users, a workspace, the synthetic nights and NACO beta Pic, ingested."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from hcdc_kernel.demo import write_demo_nights, write_naco_betapic
from hcdc_server.exceptions import NotFoundError

if TYPE_CHECKING:
    from hcdc_server.factory import Factory

DEMO_LOGIN = "demo"
DEMO_WORKSPACE = "demo"


def install_demo(factory: Factory, *, quick: bool = False, seed: int = 20190527) -> dict[str, Any]:
    """Install the demo (idempotent: a second run ingests nothing new) and return a summary."""
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

    def count(record: Any) -> None:
        statuses[record.status] += 1
        if record.frame_type:
            frame_types[record.frame_type] += 1

    factory.ingest().ingest(
        [*manifest.files, *naco], workspace=DEMO_WORKSPACE, user_login=DEMO_LOGIN, on_record=count
    )
    token = users.create_token(DEMO_LOGIN, name="demo")
    return {
        "data_dir": str(factory.settings.data_dir.resolve()),
        "files": dict(statuses),
        "frame_types": dict(sorted(frame_types.items())),
        "naco_betapic": [str(p) for p in naco],
        "companions": str(dest / "companions.json"),
        "login": DEMO_LOGIN,
        "token": token.token,
    }
