"""Hub log-in backed by hcdc's users: the username is an hcdc login, the password one of its tokens.

Hub users and hcdc users are the same people; hcdc administrators are hub administrators. A site
with its own identity provider sets its authenticator instead (see README) and lets hcdc create
users as their servers start (``HCDC_HUB_CREATE_USERS=true``).
"""

from __future__ import annotations

from typing import Any

from jupyterhub.auth import Authenticator
from traitlets import Unicode

from hcdc_hub.service_client import HcdcServiceClient


class HcdcAuthenticator(Authenticator):
    """Checks the login form against the hcdc service."""

    service_url = Unicode(
        help="Base URL of the hcdc service as the hub reaches it, e.g. http://127.0.0.1:8082."
    ).tag(config=True)
    service_token = Unicode(help="The hcdc service's hub token.").tag(config=True)

    def normalize_username(self, username: str) -> str:
        """hcdc logins are case-sensitive: keep them as typed (JupyterHub lower-cases them)."""
        return username.strip()

    async def authenticate(self, handler: Any, data: dict[str, str]) -> dict[str, Any] | None:
        """The hub user for a login and token, or ``None`` to refuse the log-in."""
        login = (data.get("username") or "").strip()
        token = (data.get("password") or "").strip()
        if not login or not token:
            return None
        client = HcdcServiceClient(self.service_url, self.service_token)
        identity = await client.identify(login, token)
        if identity is None:
            self.log.warning("hcdc refused the log-in of %r", login)
            return None
        return {"name": identity.login, "admin": identity.admin}
