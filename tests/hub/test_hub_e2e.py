"""End to end: `hcdc up` on free ports, log in as the demo user, run a cell calling hcdc, stop.

One real JupyterHub with its proxy, the hcdc service behind it, the worker, the idle culler and
the demo user's server, all driven over HTTP and the kernel websocket as a browser would.
"""

from __future__ import annotations

import json

import pytest

from tests.hub.hubtools import HubUser, port_is_free, prepare_demo, seed_processes, start_hub

pytestmark = pytest.mark.slow

CELL = """
import json, os
import hcdc_kernel
table = hcdc_kernel.connect().processes()
print(json.dumps({
    "ids": sorted(int(i) for i in table["id"]),
    "url": os.environ["HCDC_URL"],
    "user": os.environ["HCDC_USER"],
    "cwd": os.getcwd(),
}))
"""


def test_hcdc_up_serves_the_demo_user_a_server_that_reaches_hcdc(tmp_path):
    data_dir = tmp_path / "data"
    factory = prepare_demo(data_dir)
    seeded = seed_processes(factory, count=3)
    factory.close()
    hub = start_hub(data_dir)
    stopped = False
    try:
        login, password = hub.info["login"], hub.info["password"]
        with HubUser(hub.url, login, "0123.not-a-token") as intruder:
            assert intruder.log_in().status_code == 403
        user = HubUser(hub.url, login, password)
        assert user.log_in().status_code == 200
        user.wait_server()

        printed = json.loads(user.run_code(CELL).strip().splitlines()[-1])
        assert set(seeded) <= set(printed["ids"])
        assert printed["url"] == f"{hub.url}/services/hcdc"
        assert printed["user"] == login
        assert printed["cwd"] == str((data_dir / "home" / login).resolve())

        # the home shows the dashboards (read-only), the example notebooks, and the demo
        # workspace (owner: writable) under workspaces/, never at the home's root
        contents = f"{hub.url}/user/{login}/api/contents"
        listing = user.http.get(f"{contents}/", headers=user.auth)
        rights = {item["name"]: item["writable"] for item in listing.json()["content"]}
        assert rights["dashboards"] is False
        assert "demo" not in rights and "workspaces" in rights
        notebooks = user.http.get(f"{contents}/notebooks", headers=user.auth).json()["content"]
        assert "04_shared_workspace.ipynb" in {item["name"] for item in notebooks}
        spaces = user.http.get(f"{contents}/workspaces", headers=user.auth).json()["content"]
        assert {item["name"]: item["writable"] for item in spaces} == {"demo": True}

        # the hcdc service in a browser: the hub's OAuth, then a session on its pages
        docs = user.http.get(f"{hub.url}/services/hcdc/docs", headers={"Accept": "text/html"})
        assert docs.status_code == 200
        assert "/services/hcdc/openapi.json" in docs.text
        me = user.http.get(f"{hub.url}/services/hcdc/api/me")
        assert me.json()["user"]["login"] == login

        user.close()
        pids = hub.descendants()
        assert len(pids) >= 5  # proxy, service, culler, worker, user server (and its kernel)
        status, left = hub.stop()
        stopped = True
        assert status == 0, "".join(hub.output)
        assert left == []
        assert all(port_is_free(port) for port in hub.ports())
    finally:
        if not stopped:
            hub.kill_everything()
