"""Per-user homes and the read-only workspaces of viewers, through a real Jupyter contents manager."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tornado.web import HTTPError

from hcdc_hub.contents import WorkspaceContentsManager
from hcdc_hub.homes import DASHBOARDS_LINK, prepare_home
from hcdc_server.models.hub import WorkspaceGrant


def _grant(root: Path, name: str, role: str) -> WorkspaceGrant:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    return WorkspaceGrant(name=name, role=role, path=str(folder))


def test_home_links_workspaces_and_lists_viewer_ones_read_only(tmp_path):
    root = tmp_path / "workspaces"
    dashboards = tmp_path / "dashboards"
    dashboards.mkdir()
    grants = [_grant(root, "survey", "viewer"), _grant(root, "mine", "editor")]
    layout = prepare_home(
        tmp_path / "home" / "bob", grants, workspaces_root=root, dashboards=dashboards
    )
    assert layout.home.is_dir()
    assert (layout.home / "survey").resolve() == root / "survey"
    assert (layout.home / "mine").resolve() == root / "mine"
    assert (layout.home / DASHBOARDS_LINK).resolve() == dashboards
    assert set(layout.read_only) == {"survey", DASHBOARDS_LINK}
    assert set(layout.workspaces) == {"survey", "mine"}


def test_home_drops_workspaces_the_user_left_and_keeps_own_folders(tmp_path):
    root = tmp_path / "workspaces"
    home = tmp_path / "home" / "bob"
    prepare_home(home, [_grant(root, "old", "owner")], workspaces_root=root)
    (home / "notes").mkdir()  # the user's own folder
    (home / "elsewhere").symlink_to(tmp_path)  # the user's own link, not a workspace
    layout = prepare_home(home, [_grant(root, "new", "viewer")], workspaces_root=root)
    assert not (home / "old").exists()
    assert (home / "new").is_symlink()
    assert (home / "notes").is_dir()
    assert (home / "elsewhere").is_symlink()
    assert layout.read_only == ("new",)


def test_a_real_folder_named_like_a_workspace_is_left_alone(tmp_path):
    root = tmp_path / "workspaces"
    home = tmp_path / "home" / "bob"
    (home / "survey").mkdir(parents=True)
    layout = prepare_home(home, [_grant(root, "survey", "viewer")], workspaces_root=root)
    assert not (home / "survey").is_symlink()
    assert layout.workspaces == ()
    assert layout.read_only == ()


@pytest.fixture
def contents(tmp_path) -> WorkspaceContentsManager:
    root = tmp_path / "workspaces"
    home = tmp_path / "home"
    prepare_home(
        home,
        [_grant(root, "survey", "viewer"), _grant(root, "mine", "owner")],
        workspaces_root=root,
    )
    (root / "survey" / "night.txt").write_text("shared\n")
    return WorkspaceContentsManager(root_dir=str(home), read_only_dirs=["survey"])


def _run(coro):
    return asyncio.run(coro)


def test_viewer_workspace_reads_but_refuses_writes(contents):
    model = _run(contents.get("survey/night.txt"))
    assert model["content"] == "shared\n"
    assert model["writable"] is False
    assert _run(contents.get("survey", content=False))["writable"] is False
    text = {"type": "file", "format": "text", "content": "changed"}
    for attempt in (
        contents.save(text, "survey/night.txt"),
        contents.save(text, "survey/new.txt"),
        contents.delete_file("survey/night.txt"),
        contents.rename_file("survey/night.txt", "mine/night.txt"),
        contents.rename_file("mine", "survey/mine"),
    ):
        with pytest.raises(HTTPError) as refused:
            _run(attempt)
        assert refused.value.status_code == 403
    assert _run(contents.get("survey/night.txt"))["content"] == "shared\n"


def test_editor_workspace_is_writable(contents, tmp_path):
    saved = _run(contents.save({"type": "file", "format": "text", "content": "x"}, "mine/a.txt"))
    assert saved["writable"] is True
    assert (tmp_path / "workspaces" / "mine" / "a.txt").read_text() == "x"
    _run(contents.rename_file("mine/a.txt", "mine/b.txt"))
    _run(contents.delete_file("mine/b.txt"))
    assert not (tmp_path / "workspaces" / "mine" / "b.txt").exists()


def test_read_only_folders_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HCDC_READONLY_DIRS", "survey:dashboards/")
    manager = WorkspaceContentsManager(root_dir=str(tmp_path))
    assert manager.read_only_dirs == ["survey", "dashboards"]
    assert manager.is_read_only("dashboards/validation.ipynb")
    assert not manager.is_read_only("surveys/x")
