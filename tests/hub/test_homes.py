"""Per-user homes and the read-only workspaces of viewers, through a real Jupyter contents manager."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from tornado.web import HTTPError

from hcdc_hub.contents import WorkspaceContentsManager, decode_read_only, encode_read_only
from hcdc_hub.homes import DASHBOARDS_LINK, copy_notebooks, prepare_home
from hcdc_hub.spawn_hooks import home_folder
from hcdc_server.app import create_app
from hcdc_server.exceptions import InvalidInputError
from hcdc_server.factory import Factory
from hcdc_server.models.hub import WorkspaceGrant


def _grant(root: Path, name: str, role: str) -> WorkspaceGrant:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    return WorkspaceGrant(name=name, role=role, path=str(folder))


def test_home_links_workspaces_under_one_folder_and_lists_viewer_ones_read_only(tmp_path):
    root = tmp_path / "workspaces"
    dashboards = tmp_path / "dashboards"
    dashboards.mkdir()
    grants = [_grant(root, "survey", "viewer"), _grant(root, "mine", "editor")]
    layout = prepare_home(
        tmp_path / "home" / "bob", grants, workspaces_root=root, dashboards=dashboards
    )
    assert layout.home.is_dir()
    assert (layout.home / "workspaces" / "survey").resolve() == root / "survey"
    assert (layout.home / "workspaces" / "mine").resolve() == root / "mine"
    assert not (layout.home / "survey").exists() and not (layout.home / "mine").exists()
    assert (layout.home / DASHBOARDS_LINK).resolve() == dashboards
    assert set(layout.read_only) == {"workspaces/survey", DASHBOARDS_LINK}
    assert set(layout.workspaces) == {"survey", "mine"}


def test_no_workspace_reaches_the_home_root_whatever_its_name(tmp_path):
    """A workspace named like a configuration folder plants nothing the user's kernels run."""
    root = tmp_path / "workspaces"
    home = tmp_path / "home" / "bob"
    names = [".ipython", ".jupyter", ".local", ".", "..", "a:b", "x\ny"]
    grants = [
        WorkspaceGrant(name=name, role="owner", path=str(root / name.replace("/", "_")))
        for name in names
    ]
    layout = prepare_home(home, [*grants, _grant(root, "fine", "owner")], workspaces_root=root)
    assert layout.workspaces == ("fine",)
    assert sorted(p.name for p in home.iterdir()) == ["workspaces"]
    assert sorted(p.name for p in (home / "workspaces").iterdir()) == ["fine"]


def test_links_left_at_the_root_by_older_homes_are_removed(tmp_path):
    root = tmp_path / "workspaces"
    home = tmp_path / "home" / "bob"
    home.mkdir(parents=True)
    (home / ".ipython").symlink_to(_grant(root, "ipython", "owner").path)
    (home / "survey").symlink_to(_grant(root, "survey", "owner").path)
    prepare_home(home, [_grant(root, "survey", "viewer")], workspaces_root=root)
    assert not (home / ".ipython").is_symlink() and not (home / "survey").is_symlink()
    assert (home / "workspaces" / "survey").is_symlink()


def test_home_drops_workspaces_the_user_left_and_keeps_own_folders(tmp_path):
    root = tmp_path / "workspaces"
    home = tmp_path / "home" / "bob"
    prepare_home(home, [_grant(root, "old", "owner")], workspaces_root=root)
    (home / "notes").mkdir()  # the user's own folder
    (home / "elsewhere").symlink_to(tmp_path)  # the user's own link, not a workspace
    (home / "workspaces" / "mylink").symlink_to(tmp_path)  # also the user's
    layout = prepare_home(home, [_grant(root, "new", "viewer")], workspaces_root=root)
    assert not (home / "workspaces" / "old").exists()
    assert (home / "workspaces" / "new").is_symlink()
    assert (home / "workspaces" / "mylink").is_symlink()
    assert (home / "notes").is_dir()
    assert (home / "elsewhere").is_symlink()
    assert layout.read_only == ("workspaces/new",)


def test_a_real_folder_named_like_a_workspace_is_left_alone(tmp_path):
    root = tmp_path / "workspaces"
    home = tmp_path / "home" / "bob"
    (home / "workspaces" / "survey").mkdir(parents=True)
    layout = prepare_home(home, [_grant(root, "survey", "viewer")], workspaces_root=root)
    assert not (home / "workspaces" / "survey").is_symlink()
    assert layout.workspaces == ()
    assert layout.read_only == ()


def test_a_link_in_place_of_the_workspaces_folder_is_replaced(tmp_path):
    root = tmp_path / "workspaces"
    home = tmp_path / "home" / "bob"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    home.mkdir(parents=True)
    (home / "workspaces").symlink_to(elsewhere)
    prepare_home(home, [_grant(root, "survey", "owner")], workspaces_root=root)
    assert not (home / "workspaces").is_symlink()
    assert (home / "workspaces" / "survey").is_symlink()
    assert list(elsewhere.iterdir()) == []


def test_notebooks_are_copied_once_and_never_over_the_users_edits(tmp_path):
    source = tmp_path / "examples"
    source.mkdir()
    (source / "01_explore.ipynb").write_text("original 1")
    (source / "02_launch.ipynb").write_text("original 2")
    (source / "README.txt").write_text("not a notebook")
    home = tmp_path / "home" / "bob"
    prepare_home(home, [], workspaces_root=tmp_path / "workspaces", notebooks=source)
    copied = home / "notebooks"
    assert sorted(p.name for p in copied.iterdir()) == ["01_explore.ipynb", "02_launch.ipynb"]
    (copied / "01_explore.ipynb").write_text("my edits")
    (source / "03_new.ipynb").write_text("original 3")
    assert copy_notebooks(source, copied) == ["03_new.ipynb"]
    assert (copied / "01_explore.ipynb").read_text() == "my edits"
    assert (copied / "03_new.ipynb").read_text() == "original 3"


def test_every_shipped_notebook_reaches_a_new_home(tmp_path):
    shipped = Path(__file__).resolve().parents[2] / "notebooks"
    home = tmp_path / "home" / "bob"
    prepare_home(home, [], workspaces_root=tmp_path / "workspaces", notebooks=shipped)
    names = sorted(p.name for p in (home / "notebooks").iterdir())
    assert names == sorted(p.name for p in shipped.glob("*.ipynb"))
    assert "05_conditions_and_contrast.ipynb" in names


@pytest.mark.parametrize("login", ["..", ".", ".ipython", "a/b", ""])
def test_a_login_that_is_no_folder_name_gets_no_home(login):
    with pytest.raises(InvalidInputError):
        home_folder(login)


@pytest.fixture
def contents(tmp_path) -> WorkspaceContentsManager:
    root = tmp_path / "workspaces"
    home = tmp_path / "home"
    layout = prepare_home(
        home,
        [_grant(root, "survey", "viewer"), _grant(root, "mine", "owner")],
        workspaces_root=root,
    )
    (root / "survey" / "night.txt").write_text("shared\n")
    return WorkspaceContentsManager(root_dir=str(home), read_only_dirs=list(layout.read_only))


def _run(coro):
    return asyncio.run(coro)


def test_viewer_workspace_reads_but_refuses_writes(contents):
    model = _run(contents.get("workspaces/survey/night.txt"))
    assert model["content"] == "shared\n"
    assert model["writable"] is False
    assert _run(contents.get("workspaces/survey", content=False))["writable"] is False
    text = {"type": "file", "format": "text", "content": "changed"}
    for attempt in (
        contents.save(text, "workspaces/survey/night.txt"),
        contents.save(text, "workspaces/survey/new.txt"),
        contents.save(text, "workspaces/mine/../survey/night.txt"),
        contents.save(text, "/workspaces//survey/./new.txt"),
        contents.delete_file("workspaces/survey/night.txt"),
        contents.rename_file("workspaces/survey/night.txt", "workspaces/mine/night.txt"),
        contents.rename_file("workspaces/mine", "workspaces/survey/mine"),
    ):
        with pytest.raises(HTTPError) as refused:
            _run(attempt)
        assert refused.value.status_code == 403
    assert _run(contents.get("workspaces/survey/night.txt"))["content"] == "shared\n"


def test_editor_workspace_is_writable(contents, tmp_path):
    saved = _run(
        contents.save({"type": "file", "format": "text", "content": "x"}, "workspaces/mine/a.txt")
    )
    assert saved["writable"] is True
    assert (tmp_path / "workspaces" / "mine" / "a.txt").read_text() == "x"
    _run(contents.rename_file("workspaces/mine/a.txt", "workspaces/mine/b.txt"))
    _run(contents.delete_file("workspaces/mine/b.txt"))
    assert not (tmp_path / "workspaces" / "mine" / "b.txt").exists()


def test_read_only_folders_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HCDC_READONLY_DIRS", encode_read_only(["workspaces/a:b", "dashboards/"]))
    manager = WorkspaceContentsManager(root_dir=str(tmp_path))
    assert manager.read_only_dirs == ["workspaces/a:b", "dashboards"]
    assert manager.is_read_only("workspaces/a:b/x.ipynb")
    assert manager.is_read_only("dashboards/validation.ipynb")
    assert not manager.is_read_only("workspaces/a")
    # the older form, separated by os.pathsep, still reads
    assert decode_read_only("survey:dashboards/") == ["survey", "dashboards"]


def test_workspaces_joined_while_the_server_runs_appear_in_the_home(
    factory: Factory, tmp_path, monkeypatch
):
    """Listing the home asks the service for the user's workspaces and links new ones."""
    users = factory.users()
    users.add_user("alice")
    users.add_user("bob")
    token = users.create_token("bob").token
    workspaces = factory.workspaces()
    workspaces.add_workspace("survey", owner_login="alice")
    workspaces.add_workspace("gone", owner_login="alice")
    workspaces.set_member("gone", "bob", "editor")
    root = factory.settings.workspaces_dir
    home = tmp_path / "home" / "bob"
    layout = prepare_home(home, [_grant(root, "gone", "editor")], workspaces_root=root.resolve())
    monkeypatch.setenv("HCDC_URL", "http://hcdc.test")
    monkeypatch.setenv("HCDC_TOKEN", token)
    monkeypatch.setenv("HCDC_WORKSPACES_DIR", str(root.resolve()))
    manager = WorkspaceContentsManager(
        root_dir=str(home), read_only_dirs=[*layout.read_only, "dashboards"]
    )
    manager.transport = httpx.ASGITransport(app=create_app(factory))

    workspaces.invite("survey", "bob", "viewer", invited_by="alice")
    workspaces.accept("survey", "bob")
    workspaces.remove_member("gone", "bob")
    listing = _run(manager.get("workspaces"))
    assert [item["name"] for item in listing["content"]] == ["survey"]
    assert manager.read_only_dirs == ["dashboards", "workspaces/survey"]
    assert _run(manager.get("workspaces/survey", content=False))["writable"] is False

    # at most one request per workspace_refresh_s: a role change shows at the next one
    workspaces.set_member("survey", "bob", "editor")
    _run(manager.get(""))
    assert manager.is_read_only("workspaces/survey")
    assert _run(manager.refresh_workspaces(force=True))
    assert not manager.is_read_only("workspaces/survey")
