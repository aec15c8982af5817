"""JupyterHub configuration of hcdc: ``jupyterhub -f hub_config/jupyterhub_config.py``.

Traits only; values come from hcdc's settings (``HCDC_*``) through
:class:`hcdc_hub.deployment.HubDeployment`, and ``hcdc up`` runs the hub with this file. A site
keeps these defaults and overrides traits in its own file, named by ``HCDC_HUB_CONFIG``, that
starts with ``load_subconfig(<this file>)``: authenticator, spawner
(``batchspawner.SlurmSpawner``, ``kubespawner.KubeSpawner``), TLS.
"""

import sys

from hcdc_hub.authenticator import HcdcAuthenticator
from hcdc_hub.deployment import (
    HubDeployment,
    check_exposure,
    closed_ancestor,
    executable,
    secure_state,
    trust_statement,
    trusts_every_user,
)
from hcdc_hub.service_client import HcdcServiceClient
from hcdc_hub.spawn_hooks import HcdcServerHooks
from hcdc_hub.system_users import HcdcSystemUserSpawner

c = get_config()  # type: ignore[name-defined]  # noqa: F821 (provided by JupyterHub)
deployment = HubDeployment.from_settings()
settings = deployment.settings
# Who is trusted: the single-account default listens on the loopback only (or refuses to start).
check_exposure(settings)
secure_state(settings)
print(f"hcdc: {trust_statement(settings)}", file=sys.stderr)

# Network: the proxy is public; the hub and the proxy's API stay on the loopback.
c.JupyterHub.ip = settings.hub_ip
c.JupyterHub.port = settings.hub_port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings.hub_api_port
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
c.ConfigurableHTTPProxy.command = [executable("configurable-http-proxy")]

# State under <data dir>/hub.
c.JupyterHub.db_url = deployment.hub_db_url
c.JupyterHub.cookie_secret_file = str(deployment.cookie_secret_file)

# Log-in: hcdc logins with an hcdc token as password; every hcdc user may use the hub.
c.JupyterHub.authenticator_class = HcdcAuthenticator
c.HcdcAuthenticator.service_url = deployment.service_url
c.HcdcAuthenticator.service_token = deployment.service_token
c.Authenticator.allow_all = True
trust = " This hcdc trusts every user with every other's files." * trusts_every_user(settings)
c.JupyterHub.template_vars = {
    "announcement_login": "Log in with your hcdc login; the password is an hcdc token "
    f"(<code>hcdc token create LOGIN</code>).{trust}"
}

# User servers: JupyterLab with Voila, homes under the data dir (workspaces under workspaces/,
# the dashboards, the example notebooks), an hcdc token in the environment.
hooks = HcdcServerHooks(
    client=HcdcServiceClient(deployment.service_url, deployment.service_token),
    hcdc_url=deployment.hcdc_url_for_servers,
    home_root=deployment.home_root,
    workspaces_root=settings.workspaces_dir.resolve(),
    dashboards=settings.resolved_dashboards_dir,
    notebooks=settings.resolved_notebooks_dir,
    account_prefix=settings.hub_account_prefix if settings.hub_system_users else None,
)
if settings.hub_system_users:
    # One OS account per user, created by the pre-spawn hook; the hub runs as root.
    c.JupyterHub.spawner_class = HcdcSystemUserSpawner
    c.HcdcSystemUserSpawner.account_prefix = settings.hub_account_prefix
    c.HcdcSystemUserSpawner.home_root = str(deployment.home_root)
    closed = closed_ancestor(deployment.home_root)
    if closed is not None:
        print(f"hcdc: users' accounts cannot reach their homes through {closed}", file=sys.stderr)
else:
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = str(deployment.home_root / "{username}")
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.args = deployment.server_args()
c.Spawner.default_url = "/lab"
c.Spawner.pre_spawn_hook = hooks.pre_spawn
c.Spawner.post_stop_hook = hooks.post_stop
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

# The hcdc service (/services/hcdc/), the idle culler and the recipe worker, run by the hub.
c.JupyterHub.services = deployment.services()
c.JupyterHub.load_roles = deployment.roles()
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
