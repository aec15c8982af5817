"""The upload, share/unshare and process-log routes: what they store, where, and their 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from sqlalchemy import select, update

from hcdc_kernel.jobs.spec import LOG_FILE
from hcdc_server.app import create_app
from hcdc_server.config import Settings
from hcdc_server.factory import Factory
from hcdc_server.models.processes import LaunchRequest
from hcdc_server.schema.tables import DataFile, Process
from tests.api.client import ApiClient, api_client
from tests.dispatch.helpers import write_naco_dark

LIMIT = 20_000


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        resolve_targets=False,
        max_upload_bytes=LIMIT,
    )


@pytest.fixture
def http(factory: Factory) -> Iterator[tuple[ApiClient, dict[str, dict[str, str]]]]:
    users = factory.users()
    headers = {}
    for login, role in (("ed", "user"), ("vi", "user"), ("out", "user"), ("root", "admin")):
        users.add_user(login, role=role)  # type: ignore[arg-type]
        headers[login] = {"X-Auth-Ident": login, "X-Auth-Token": users.create_token(login).token}
    workspaces = factory.workspaces()
    workspaces.add_workspace("w", owner_login="root")
    workspaces.add_workspace("v", owner_login="ed")
    workspaces.set_member("w", "ed", "editor")
    workspaces.set_member("w", "vi", "viewer")
    with api_client(create_app(factory)) as client:
        yield client, headers


def fits_bytes(value: float = 0.0, shape: tuple[int, ...] = (4, 4)) -> bytes:
    buffer = BytesIO()
    fits.PrimaryHDU(np.full(shape, value, dtype=np.float32)).writeto(buffer)
    return buffer.getvalue()


def post_file(
    client: ApiClient, headers: dict[str, str], name: str, content: bytes, workspace: str = "w"
) -> Any:
    return client.post(
        "/api/data",
        files={"file": (name, content, "application/fits")},
        data={"workspace": workspace},
        headers=headers,
    )


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_upload_stores_a_private_file_in_the_uploads_folder(factory, http, tmp_path):
    client, headers = http
    response = post_file(client, headers["ed"], "../../../outside/evil name.fits", fits_bytes(1))
    assert response.status_code == 201, response.text
    detail = response.json()
    assert detail["file_name"] == "evil_name.fits"
    assert detail["is_public"] is False and detail["workspaces"] == ["w"]
    uploads = factory.settings.uploads_dir.resolve()
    stored = files_under(uploads)
    assert [p.name for p in stored] == ["evil_name.fits"]
    assert not (tmp_path / "outside").exists() and not (tmp_path / "data" / "outside").exists()
    with factory.sessions() as session:
        path = session.scalar(select(DataFile.path).where(DataFile.id == detail["id"]))
    assert Path(path) == stored[0]
    # members of w see it, others do not (it is not public)
    assert client.get(f"/api/data/{detail['id']}", headers=headers["vi"]).status_code == 200
    assert client.get(f"/api/data/{detail['id']}", headers=headers["out"]).status_code == 404


def test_known_content_is_shared_not_stored_twice(factory, http):
    client, headers = http
    content = fits_bytes(2)
    first = post_file(client, headers["ed"], "a.fits", content).json()
    again = post_file(client, headers["ed"], "b.fits", content, workspace="v")
    assert again.status_code == 201
    assert again.json()["id"] == first["id"]
    assert sorted(again.json()["workspaces"]) == ["v", "w"]
    assert [p.name for p in files_under(factory.settings.uploads_dir)] == ["a.fits"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "not a valid FITS file"),
        (b"SIMPLE  = nonsense, this is plain text" * 100, "not a valid FITS file"),
        (fits_bytes(3, (32, 32))[:4000], "truncated"),
    ],
    ids=["empty", "not-fits", "truncated"],
)
def test_non_fits_content_is_refused_with_422_and_nothing_is_kept(factory, http, content, words):
    client, headers = http
    response = post_file(client, headers["ed"], "bad.fits", content)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_file"
    assert words in response.json()["message"] and "bad.fits" in response.json()["message"]
    assert files_under(factory.settings.uploads_dir) == []


def test_upload_size_limit_is_413(factory, http):
    client, headers = http
    big = fits_bytes(4, (80, 80))
    assert len(big) > LIMIT
    response = post_file(client, headers["ed"], "big.fits", big)
    assert response.status_code == 413
    assert str(LIMIT) in response.json()["message"]
    huge = post_file(client, headers["ed"], "huge.fits", b"\0" * (LIMIT + (2 << 20)))
    assert huge.status_code == 413
    assert files_under(factory.settings.uploads_dir) == []


def test_upload_needs_a_file_and_a_workspace_it_may_write(http):
    client, headers = http
    no_workspace = client.post(
        "/api/data", files={"file": ("a.fits", fits_bytes(5))}, headers=headers["ed"]
    )
    assert no_workspace.status_code == 400 and "workspace" in no_workspace.json()["message"]
    no_file = client.post("/api/data", data={"workspace": "w"}, headers=headers["ed"])
    assert no_file.status_code == 400 and "file" in no_file.json()["message"]
    viewer = post_file(client, headers["vi"], "a.fits", fits_bytes(5))
    assert viewer.status_code == 403 and "editor or owner" in viewer.json()["message"]
    missing = post_file(client, headers["root"], "a.fits", fits_bytes(5), workspace="nope")
    assert missing.status_code == 404 and "no workspace 'nope'" in missing.json()["message"]


def _ingest(factory: Factory, folder: Path, n: int, **kwargs: Any) -> int:
    records: list[Any] = []
    path = write_naco_dark(folder / f"d{n}.fits", seed=n)
    factory.ingest().ingest([path], on_record=records.append, **kwargs)
    return int(records[0].id)


def test_share_and_unshare(factory, http, tmp_path):
    client, headers = http
    public = _ingest(factory, tmp_path, 1)
    private_v = _ingest(factory, tmp_path, 2, workspace="v", public=False)
    hidden = _ingest(factory, tmp_path, 3, public=False)

    url = "/api/workspaces/w/data"
    refused = client.post(url, json={"data_ids": [public, hidden, 10**6]}, headers=headers["ed"])
    assert refused.status_code == 404
    assert f"{hidden}, {10**6}" in refused.json()["message"]
    ok = client.post(url, json={"data_ids": [public, private_v]}, headers=headers["ed"])
    assert ok.status_code == 200 and ok.json()["name"] == "w"
    count = client.post(
        "/api/data_list",
        json={"browse_filters": {"WORKSPACE": "w"}, "count": True},
        headers=headers["vi"],
    )
    assert count.json() == {"count": 2}
    twice = client.post(url, json={"data_ids": [public]}, headers=headers["ed"])
    assert twice.status_code == 200
    removed = client.request("DELETE", url, json={"data_ids": [private_v]}, headers=headers["ed"])
    assert removed.status_code == 200
    count = client.post(
        "/api/data_list",
        json={"browse_filters": {"WORKSPACE": "w"}, "count": True},
        headers=headers["vi"],
    )
    assert count.json() == {"count": 1}
    # the file itself stays, in v
    assert client.get(f"/api/data/{private_v}", headers=headers["ed"]).status_code == 200
    empty = client.post(url, json={"data_ids": []}, headers=headers["ed"])
    assert empty.status_code == 400 and "data_ids" in empty.json()["message"]


def test_process_log(factory, http, tmp_path):
    client, headers = http
    data_id = _ingest(factory, tmp_path, 7, workspace="w", public=False)
    uid = factory.users().get_user("ed").id
    request = LaunchRequest(recipe="hcdc_echo", inputs=[{"data_file_id": data_id}], workspace="w")
    pid = factory.processes().launch(request, user_id=uid).processes[0].id
    url = f"/api/processes/{pid}/log"
    waiting = client.get(url, headers=headers["vi"])
    assert waiting.status_code == 404 and "no log yet" in waiting.json()["message"]
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / LOG_FILE).write_bytes("step 1 \u2713\nstep 2 \xff\n".encode("latin-1", "replace"))
    cached = factory.processes().launch(request, user_id=uid).processes[0].id
    with factory.sessions.begin() as session:
        session.execute(update(Process).where(Process.id == pid).values(job_dir=str(job_dir)))
        session.execute(
            update(Process).where(Process.id == cached).values(cache_of_id=pid, status="done")
        )
    log = client.get(url, headers=headers["vi"])
    assert log.status_code == 200
    assert log.headers["content-type"].startswith("text/plain")
    assert log.text.startswith("step 1 ?\nstep 2 ")
    assert client.get(f"/api/processes/{cached}/log", headers=headers["vi"]).text == log.text
    assert client.get(url, headers=headers["out"]).status_code == 404
