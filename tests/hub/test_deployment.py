"""The JupyterHub configuration as JupyterHub loads it, from hcdc's settings."""

from __future__ import annotations

import stat

import pytest
from traitlets.config.loader import PyFileConfigLoader

from hcdc_hub.authenticator import HcdcAuthenticator
from hcdc_hub.deployment import HubDeployment, service_token
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
