"""A small catalog written straight into the database, with every fact also kept in Python.

Tests compute the answer of each browse request from these Python records (their own code,
with astropy for coordinates and MJD), then compare with what the API returns.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from sqlalchemy import insert

from hcdc_kernel.recipes.registry import builtin_recipes
from hcdc_server.config import Settings
from hcdc_server.factory import Factory
from hcdc_server.schema import tables as t

USERS = {
    "root": "admin",
    "alice": "user",
    "bob": "user",
    "carol": "user",
    "rita": "restricted",
    "rex": "restricted",
}
WORKSPACES = {"ws_a": "g1", "ws_b": "g2", "ws_c": "g1"}
MEMBERS = {
    ("ws_a", "alice"): "owner",
    ("ws_a", "rita"): "viewer",
    ("ws_b", "bob"): "owner",
    ("ws_b", "alice"): "editor",
    ("ws_c", "bob"): "owner",
    ("ws_c", "rita"): "viewer",
}
TARGETS = [
    # name, main_id, ra, dec, sp_type, simplified, luminosity, G, H, K, parallax
    ("HD 95086", "HD  95086", 164.597, -68.668, "A8III", "A", "III", 7.3, 6.9, 6.8, 11.6),
    ("beta Pic", "* bet Pic", 86.821, -51.066, "A6V", "A", "V", 3.8, 3.5, 3.5, 50.9),
    ("HR 8799", "* V342 Peg", 346.870, 21.134, "F0+VkA5mA5", "F", "V", 5.9, 5.3, 5.2, 24.5),
    ("51 Eri", "* 51 Eri", 69.401, -2.473, "F0IV", "F", "IV", 5.1, 4.8, 4.5, 33.4),
    ("HD 109573", "HD 109573", 189.003, -39.869, "A0V", "A", "V", 5.8, 5.8, 5.8, 13.9),
    ("NGC 0000", None, 359.95, 0.02, None, None, None, None, None, None, None),
]
FRAME_TYPES = [
    "IRD_SCIENCE_DBI_RAW",
    "IRD_DARK_RAW",
    "IRD_FLAT_FIELD_RAW",
    "IRD_STAR_CENTER_RAW",
    "ZPL_SCIENCE_P1_RAW",
]
FILTERS = ["DB_H23", "DB_K12", "I_PRIM", None]
RECIPES = [
    # name, version, hidden, current, needs validation
    ("ird_sci_dbi", "production", False, True, True),
    ("ird_sci_dbi", "test", False, False, False),
    ("zpl_science_p1", "production", False, True, False),
    ("ird_hidden_tool", "production", True, True, False),
]
WORKFLOWS = [("ird_full", "v2", True), ("ird_full", "v1", False)]
STATUSES = ["queued", "running", "waiting_validation", "done", "error", "cancelled"]
VALIDATIONS = ["to_validate", "valid", "rejected", "to_reprocess", None]


@dataclass
class Catalog:
    """Every row written, as plain dicts keyed by column name, plus derived Python facts."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    workspaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)
    observations: list[dict[str, Any]] = field(default_factory=list)
    data: list[dict[str, Any]] = field(default_factory=list)
    workspace_data: list[tuple[int, int]] = field(default_factory=list)
    recipes: list[dict[str, Any]] = field(default_factory=list)
    workflows: list[dict[str, Any]] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)
    processes: list[dict[str, Any]] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    attributes: list[dict[str, Any]] = field(default_factory=list)
    frame_conditions: dict[int, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    files: dict[int, Path] = field(default_factory=dict)

    def user_id(self, login: str) -> int:
        return int(self.users[login]["id"])

    def member_workspaces(self, login: str) -> set[int]:
        uid = self.user_id(login)
        return {ws for ws, user in self.memberships if user == uid}

    memberships: set[tuple[int, int]] = field(default_factory=set)

    def by_id(self, rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
        return {row["id"]: row for row in rows}


def write_fits(path: Path, *, seed: int, frame_type: str) -> None:
    """A small real FITS file: a primary image plus one extension."""
    header = fits.Header()
    header["OBJECT"] = "HD 95086"
    header["EXPTIME"] = 16.0
    header["HIERARCH ESO DPR CATG"] = "SCIENCE"
    header["HIERARCH ESO DPR TYPE"] = frame_type
    header["HIERARCH ESO OBS ID"] = 100 + seed
    data = np.arange(64 * 64, dtype=np.int16).reshape(64, 64) + seed
    fits.HDUList(
        [fits.PrimaryHDU(data, header=header), fits.ImageHDU(np.zeros((4, 4), np.float32))]
    ).writeto(path, overwrite=True)


_ECHO_SPEC = next(s for s in builtin_recipes(include_hci=False) if s.name == "hcdc_echo").to_dict()


def seeded_factory(database_url: str, folder: Path) -> tuple[Factory, Catalog]:
    """A factory on a fresh, migrated database holding the catalog (files under ``folder``)."""
    settings = Settings(data_dir=folder / "data", database_url=database_url, resolve_targets=False)
    factory = Factory(settings)
    factory.migrate_database()
    files = folder / "files"
    files.mkdir()
    catalog = build_catalog(factory, folder=files)
    # The built-in recipes and workflows after the catalog's own rows (explicit ids).
    factory.seed_builtin()
    return factory, catalog


def build_catalog(
    factory: Factory, *, folder: Path, seed: int = 7, processes: int = 60, files: int = 80
) -> Catalog:
    """Write the catalog into ``factory``'s (migrated, empty) database."""
    rng = random.Random(seed)
    cat = Catalog()
    now = datetime(2026, 2, 19, 12, 0, 0)
    for login, role in USERS.items():
        cat.users[login] = {
            "id": len(cat.users) + 1,
            "login": login,
            "email": f"{login}@example.org",
            "role": role,
            "is_active": True,
            "created_at": now,
        }
    for name, group in WORKSPACES.items():
        cat.workspaces[name] = {
            "id": len(cat.workspaces) + 1,
            "name": name,
            "group_name": group,
            "created_at": now,
        }
    members = []
    for (ws, login), role in MEMBERS.items():
        wid, uid = cat.workspaces[ws]["id"], cat.user_id(login)
        cat.memberships.add((wid, uid))
        members.append({"workspace_id": wid, "user_id": uid, "role": role, "added_at": now})
    for i, row in enumerate(TARGETS, start=1):
        name, main_id, ra, dec, sp, simple, lum, g, h, k, plx = row
        cat.targets.append(
            {
                "id": i,
                "name": name,
                "main_id": main_id,
                "ra": ra,
                "dec": dec,
                "sp_type": sp,
                "simplified_sp_type": simple,
                "luminosity_class": lum,
                "mag_g": g,
                "mag_h": h,
                "mag_k": k,
                "parallax_mas": plx,
                "source": "simbad",
            }
        )
    for i in range(1, 9):
        target = cat.targets[(i - 1) % len(cat.targets)]
        night = date(2019, 5, 27) + timedelta(days=rng.choice([0, 1, 300, 301, 600, 700]))
        cat.observations.append(
            {
                "id": i,
                "key": f"obs-{i}",
                "instrument": "SPHERE",
                "obs_id": 2528150 + i,
                "prog_id": rng.choice(["0104.C-0436(A)", "103.200G.002", "60.A-9801(S)"]),
                "pi_coi": rng.choice(["Milli/Boccaletti", "Chauvin", "Lagrange"]),
                "target_id": target["id"],
                "obs_night": night,
                "date_start": datetime.combine(night, datetime.min.time()) + timedelta(hours=26),
            }
        )
    for i in range(1, files + 1):
        obs = rng.choice(cat.observations)
        target = cat.targets[obs["target_id"] - 1]
        when = obs["date_start"] + timedelta(minutes=rng.randrange(0, 300), seconds=rng.random())
        frame_type = rng.choice(FRAME_TYPES)
        name = f"SPHER.{when:%Y-%m-%dT%H:%M:%S}.{i:03d}{frame_type}.fits"
        path = folder / name
        if i <= 6:
            write_fits(path, seed=i, frame_type=frame_type)
            cat.files[i] = path
        cat.data.append(
            {
                "id": i,
                "path": str(path),
                "filename": name,
                "checksum": f"{i:064x}",
                "size": path.stat().st_size if i <= 6 else rng.randrange(10**6, 2 * 10**7),
                "n_extensions": 1 if i <= 6 else 0,  # as ingest counts them
                "storage": "reference",
                "frame_type": frame_type,
                "instrument": "SPHERE" if rng.random() < 0.85 else "NACO",
                "arm": "IRDIS",
                "category": "CALIB" if "DARK" in frame_type or "FLAT" in frame_type else "SCIENCE",
                "object": target["name"] if rng.random() < 0.9 else "STD-1",
                "target_id": target["id"] if rng.random() < 0.9 else None,
                "observation_id": obs["id"],
                "date_obs": when,
                "mjd_obs": None,
                "obs_night": obs["obs_night"],
                "ra": None if i % 17 == 0 else (target["ra"] + rng.uniform(-0.05, 0.05)) % 360,
                "dec": None if i % 17 == 0 else target["dec"] + rng.uniform(-0.05, 0.05),
                "instrument_filter": rng.choice(FILTERS),
                "dit": rng.choice([0.84, 4.0, 16.0, 64.0]),
                "ndit": rng.choice([1, 4, 10]),
                "exptime": rng.choice([0.84, 4.0, 16.0, 64.0, 128.0]),
                "prog_id": obs["prog_id"],
                "obs_id": obs["obs_id"],
                "derotator_mode": rng.choice(["PUPIL", "FIELD", None]),
                "coronagraph": rng.choice(["N_ALC_YJH_S", None]),
                "airmass": round(rng.uniform(1.0, 2.0), 3),
                "seeing": round(rng.uniform(0.4, 1.6), 3),
                "tau0": round(rng.uniform(0.001, 0.01), 5),
                "is_raw": True,
                "is_standard": rng.random() < 0.2,
                "is_public": rng.random() < 0.6,
                "status": rng.choice(["ok", "ok", "ok", "bad"]),
                "pipeline_version": None,
                "ingested_at": now,
            }
        )
        cat.data[-1]["mjd_obs"] = _mjd(when)
        for ws in cat.workspaces.values():
            if rng.random() < 0.25:
                cat.workspace_data.append((ws["id"], i))
    for i, (name, version, hidden, current, needs) in enumerate(RECIPES, start=1):
        cat.recipes.append(
            {
                "id": i,
                "name": name,
                "version": version,
                "kind": "python",
                "is_hidden": hidden,
                "is_current": current,
                "needs_validation": needs,
                # A runnable spec (hcdc_echo's under this name), as every stored recipe has.
                "spec": {**_ECHO_SPEC, "name": name, "version": version},
                "created_at": now,
            }
        )
    for i, (name, version, current) in enumerate(WORKFLOWS, start=1):
        cat.workflows.append(
            {
                "id": i,
                "name": name,
                "version": version,
                "is_current": current,
                "spec": {},
                "created_at": now,
            }
        )
    for i in range(1, 7):
        cat.batches.append(
            {
                "id": i,
                "name": f"batch {rng.choice(['night', 'full_public', 'test'])} {i}",
                "user_id": cat.user_id(rng.choice(["alice", "bob", "root"])),
                "workflow_id": rng.choice([None, 1, 2]),
                "workflow_preset": rng.choice([None, "deep", "fast"]),
                "created_at": now,
            }
        )
    next_data = files + 1
    for i in range(1, processes + 1):
        obs = rng.choice(cat.observations)
        recipe = rng.choice(cat.recipes)
        workflow_id = rng.choice([None, None, 1, 2])
        owner = rng.choice(["alice", "bob", "carol", "root", "rita"])
        created = now - timedelta(days=rng.randrange(0, 800), minutes=rng.randrange(0, 1000))
        started = created + timedelta(seconds=rng.randrange(0, 60))
        status = rng.choice(STATUSES)
        cat.processes.append(
            {
                "id": i,
                "batch_id": rng.choice([None, *[b["id"] for b in cat.batches]]),
                "recipe_id": recipe["id"],
                "recipe_preset": rng.choice([None, "default", "deep"]),
                "user_id": cat.user_id(owner),
                "workspace_id": rng.choice([None, 1, 2, 3]),
                "target_id": rng.choice([obs["target_id"], obs["target_id"], None]),
                "reference": f"ref {i}",
                "params": {},
                "status": status,
                "validation_status": rng.choice(VALIDATIONS),
                "progress": 1.0 if status == "done" else 0.5,
                "priority": 0,
                "server": rng.choice(["sphere-dc", "luke54", None]),
                "created_at": created,
                "started_at": started if status != "queued" else None,
                "ended_at": started + timedelta(seconds=253) if status == "done" else None,
                "estimated_duration_s": 1142.0,
                "instrument": "SPHERE",
                "obs_night": obs["obs_night"] if rng.random() < 0.95 else None,
                "obs_date": obs["date_start"] + timedelta(seconds=rng.randrange(0, 9999)),
                "obs_id": obs["obs_id"],
                "prog_id": obs["prog_id"],
                "launcher_type": "workflow" if workflow_id else rng.choice(["user", "auto"]),
                "workflow_id": workflow_id,
                "workflow_step": rng.choice(["convert", "science"]) if workflow_id else None,
                "reprocess_of_id": None,
                "reprocessed_by_id": None,
                "attempt": 0,
            }
        )
        chosen = rng.sample(range(1, files + 1), rng.randrange(1, 5))
        # Products of earlier processes feed later ones (DATA_IN_OUT has chains to follow).
        earlier_products = [o["data_file_id"] for o in cat.outputs]
        if earlier_products and rng.random() < 0.4:
            chosen.append(rng.choice(earlier_products))
        for data_id in dict.fromkeys(chosen):
            cat.inputs.append(
                {"process_id": i, "data_file_id": data_id, "sof_tag": "IRD_SCIENCE_RAW"}
            )
        for _ in range(rng.randrange(0, 3)):
            parent = cat.data[rng.randrange(0, files)]
            product = dict(parent)
            product.update(
                id=next_data,
                path=str(folder / f"product-{next_data}.fits"),
                filename=f"product-{next_data}.fits",
                checksum=f"{next_data:064x}",
                is_raw=False,
                category="PRODUCT",
                pipeline_version=rng.choice(["1.0", "2.0"]),
                is_public=rng.random() < 0.3,
            )
            cat.data.append(product)
            cat.outputs.append({"process_id": i, "data_file_id": next_data, "category": "X"})
            if cat.processes[-1]["workspace_id"] is not None:
                cat.workspace_data.append((cat.processes[-1]["workspace_id"], next_data))
            next_data += 1
        if rng.random() < 0.4:
            cat.attributes.append(
                {"process_id": i, "key": "quality", "value": rng.choice(["good", "bad"])}
            )
        if rng.random() < 0.3:
            cat.attributes.append({"process_id": i, "key": "frames", "value": str(i % 7)})
    for old, new in ((3, 10), (5, 20), (7, 30)):
        cat.processes[old - 1]["reprocessed_by_id"] = new
        cat.processes[new - 1]["reprocess_of_id"] = old
    cat.workspace_data = sorted(set(cat.workspace_data))
    _frame_conditions(cat, random.Random(seed + 1), now)
    with factory.sessions.begin() as session:
        rows = [
            (t.User, list(cat.users.values())),
            (t.Workspace, list(cat.workspaces.values())),
            (t.WorkspaceMember, members),
            (t.Target, cat.targets),
            (t.Observation, cat.observations),
            (t.DataFile, cat.data),
            (t.FrameConditions, list(cat.frame_conditions.values())),
            (
                t.WorkspaceData,
                [{"workspace_id": w, "data_file_id": d} for w, d in cat.workspace_data],
            ),
            (t.Recipe, cat.recipes),
            (t.Workflow, cat.workflows),
            (t.Batch, cat.batches),
        ]
        for table, values in rows:
            session.execute(insert(table), values)
        plain = [{k: v for k, v in p.items() if k != "reprocessed_by_id"} for p in cat.processes]
        session.execute(insert(t.Process), plain)
        for p in cat.processes:
            if p["reprocessed_by_id"]:
                session.execute(
                    t.Process.__table__.update()
                    .where(t.Process.__table__.c.id == p["id"])
                    .values(reprocessed_by_id=p["reprocessed_by_id"])
                )
        session.execute(insert(t.ProcessInput), cat.inputs)
        if cat.outputs:
            session.execute(insert(t.ProcessOutput), cat.outputs)
        if cat.attributes:
            session.execute(insert(t.ProcessAttribute), cat.attributes)
        session.execute(
            insert(t.ValidationEvent),
            [
                {
                    "process_id": 1,
                    "user_id": cat.user_id("alice"),
                    "at": now,
                    "from_status": "to_validate",
                    "to_status": "valid",
                    "comment": "fine",
                }
            ],
        )
    _fix_sequences(factory)
    users = factory.users()
    for login in cat.users:
        cat.tokens[login] = users.create_token(login).token
    return cat


def _frame_conditions(cat: Catalog, rng: random.Random, now: datetime) -> None:
    """Linked conditions of every exposure and product; none for calibrations.

    Values are multiples of powers of two, so that the mean over a process's inputs is exact
    whatever order a database sums them in (process filters compare means for equality).
    """
    for d in cat.data:
        if d["category"] == "CALIB":
            continue
        cat.frame_conditions[d["id"]] = {
            "data_file_id": d["id"],
            "seeing": rng.randint(26, 100) / 64,
            "tau0": rng.randint(4, 41) / 4096,
            "airmass": 1 + rng.randint(0, 64) / 64,
            "strehl": None if rng.random() < 0.2 else rng.randint(38, 115) / 128,
            "wind_speed": None if rng.random() < 0.2 else rng.randint(8, 80) / 4,
            "details": {},
            "linked_at": now,
        }


def _mjd(when: datetime) -> float:
    return (when - datetime(1858, 11, 17)).total_seconds() / 86400.0


def _fix_sequences(factory: Factory) -> None:
    """Explicit ids leave PostgreSQL's sequences behind: move them past the rows."""
    if factory.engine.dialect.name != "postgresql":
        return
    from sqlalchemy import text

    with factory.engine.begin() as conn:
        for table in (
            "users",
            "workspaces",
            "targets",
            "observations",
            "data_files",
            "recipes",
            "workflows",
            "batches",
            "processes",
            "validation_events",
            "tokens",
        ):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                )
            )
