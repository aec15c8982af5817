"""The JupyterHub configuration as JupyterHub loads it, from hcdc's settings."""

from __future__ import annotations

import stat

import pytest
from click.testing import CliRunner
from traitlets.config.loader import PyFileConfigLoader

from hcdc_hub.authenticator import HcdcAuthenticator
from hcdc_hub.deployment import (
    DeploymentError,
    HubDeployment,
    check_exposure,
    secure_state,
    service_token,
    trust_statement,
    trusts_every_user,
)
from hcdc_server.cli import main
from hcdc_server.config import Settings
from hcdc_server.up import hub_config_file


@pytest.fixture
def hub_env(tmp_path, monkeypatch):
    monkeypatch.setenv("HCDC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HCDC_HUB_PORT", "18123")
    monkeypatch.setenv("HCDC_HUB_API_PORT", "18124")
    monkeypatch.setenv("HCDC_PROXY_API_PORT", "18125")
    monkeypatch.setenv("HCDC_HUB_SERVICE_PORT", "18126")
    monkeypatch.setenv("HCDC_HUB_IDLE_TIMEOUT_S", "600")
    return tmp_path / "data"


def _load():
    path = hub_config_file()
    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()


def test_config_sets_ports_state_and_authenticator_from_settings(hub_env):
    c = _load()
    assert c.JupyterHub.port == 18123
    assert c.JupyterHub.hub_port == 18124
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:18125"
    assert c.JupyterHub.db_url == f"sqlite:///{hub_env.resolve() / 'hub' / 'jupyterhub.sqlite'}"
    assert c.JupyterHub.authenticator_class is HcdcAuthenticator
    assert c.HcdcAuthenticator.service_url == "http://127.0.0.1:18126"
    assert c.SimpleLocalProcessSpawner.home_dir_template.endswith("/home/{username}")
    assert "--ServerApp.contents_manager_class=hcdc_hub.contents.WorkspaceContentsManager" in (
        c.Spawner.args
    )
    assert callable(c.Spawner.pre_spawn_hook)
    assert callable(c.Spawner.post_stop_hook)


def test_services_share_the_token_and_the_culler_has_its_scopes(hub_env):
    c = _load()
    services = {s["name"]: s for s in c.JupyterHub.services}
    hcdc = services["hcdc"]
    assert hcdc["url"] == "http://127.0.0.1:18126"
    assert hcdc["environment"]["HCDC_HUB_API_TOKEN"] == hcdc["api_token"]
    assert hcdc["api_token"] == c.HcdcAuthenticator.service_token
    assert hcdc["environment"]["HCDC_ROOT_PATH"] == "/services/hcdc/"
    assert hcdc["environment"]["HCDC_DATA_DIR"] == str(hub_env.resolve())
    assert hcdc["command"][-4:] == ["--host", "127.0.0.1", "--port", "18126"]
    assert "--timeout=600" in services["idle-culler"]["command"]
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert roles["hcdc-idle-culler"]["services"] == ["idle-culler"]
    assert "delete:servers" in roles["hcdc-idle-culler"]["scopes"]
    assert "access:services!service=hcdc" in roles["user"]["scopes"]


def test_service_token_is_created_once_and_private(tmp_path):
    settings = Settings(data_dir=tmp_path)
    token = service_token(settings)
    path = settings.hub_dir / "service-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert service_token(settings) == token
    assert len(token) == 64
    other = Settings(data_dir=tmp_path / "other")
    assert service_token(other) != token


def test_user_servers_reach_the_service_through_the_hub(tmp_path):
    settings = Settings(
        data_dir=tmp_path, hub_port=9000, hub_public_url="https://hcdc.example.org/"
    )
    deployment = HubDeployment.from_settings(settings)
    assert deployment.hcdc_url_for_servers == "https://hcdc.example.org/services/hcdc"
    local = HubDeployment.from_settings(
        Settings(data_dir=tmp_path, hub_ip="0.0.0.0", hub_port=9000)
    )
    assert local.hcdc_url_for_servers == "http://127.0.0.1:9000/services/hcdc"


def test_secret_files_are_made_private_even_when_they_were_not(tmp_path):
    settings = Settings(data_dir=tmp_path)
    token = service_token(settings)
    path = settings.hub_dir / "service-token"
    path.chmod(0o644)
    cookie = settings.hub_dir / "jupyterhub_cookie_secret"
    cookie.write_text("secret")
    cookie.chmod(0o644)
    settings.hub_dir.chmod(0o755)
    assert service_token(settings) == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secure_state(settings)
    assert stat.S_IMODE(settings.hub_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(cookie.stat().st_mode) == 0o600


def test_the_single_account_default_says_it_trusts_every_user():
    statement = trust_statement(Settings())
    assert "trusts every user" in statement
    assert "HCDC_HUB_SYSTEM_USERS=true" in statement
    assert trusts_every_user(Settings())
    assert not trusts_every_user(Settings(hub_system_users=True))
    assert "own OS account" in trust_statement(Settings(hub_system_users=True))


@pytest.mark.parametrize("ip", ["0.0.0.0", "", "192.168.1.10", "::", "hcdc.example.org"])
def test_the_single_account_default_refuses_to_listen_beyond_the_loopback(ip):
    with pytest.raises(DeploymentError) as refused:
        check_exposure(Settings(hub_ip=ip))
    assert "HCDC_HUB_SYSTEM_USERS=true" in refused.value.message
    assert "HCDC_HUB_IP" in refused.value.message


@pytest.mark.parametrize("ip", ["127.0.0.1", "127.0.1.1", "::1", "localhost"])
def test_the_single_account_default_listens_on_the_loopback(ip):
    check_exposure(Settings(hub_ip=ip))


def test_a_site_spawner_that_isolates_users_may_listen_anywhere():
    check_exposure(Settings(hub_ip="0.0.0.0", hub_isolated_spawner=True))


def test_the_hub_configuration_refuses_too(hub_env, monkeypatch):
    monkeypatch.setenv("HCDC_HUB_IP", "0.0.0.0")
    with pytest.raises(DeploymentError, match="HCDC_HUB_SYSTEM_USERS"):
        _load()


def test_hcdc_up_refuses_before_starting_anything(tmp_path):
    result = CliRunner().invoke(
        main, ["--data-dir", str(tmp_path / "data"), "up", "--ip", "0.0.0.0", "--no-demo"]
    )
    assert result.exit_code == 1
    assert "HCDC_HUB_SYSTEM_USERS=true" in result.output
    assert not (tmp_path / "data" / "hub").exists()


def test_user_servers_get_the_workspaces_folder_and_notebooks(hub_env):
    c = _load()
    hooks = c.Spawner.pre_spawn_hook.__self__
    assert hooks.workspaces_root == hub_env.resolve() / "workspaces"
    assert hooks.notebooks is not None and (hooks.notebooks / "04_shared_workspace.ipynb").exists()
    assert hooks.account_prefix is None
    assert c.JupyterHub.spawner_class == "simple"
