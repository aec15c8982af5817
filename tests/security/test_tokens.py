"""API tokens: expiry, immediate revocation, constant-time checks, never logged, never in URLs."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from hcdc_server.exceptions import AuthenticationError, InvalidInputError
from hcdc_server.logconfig import REDACTED
from hcdc_server.schema.tables import Token
from hcdc_server.services import users as users_module
from hcdc_server.services.users import utcnow
from tests.client.live import _free_port, _wait_ready, hcdc_cli
from tests.security.live import uvicorn_thread
from tests.server.fits_factory import write_frame


def _forms(login: str, token: str) -> list[tuple[str, str, dict[str, str]]]:
    """The three ways to present a token: headers, bearer, and the seed's URL form."""
    return [
        ("POST", "/api/process_list", {"X-Auth-Ident": login, "X-Auth-Token": token}),
        ("GET", "/api/me", {"Authorization": f"Bearer {token}"}),
        ("POST", f"/api/data_list/{login}/{token}", {}),
    ]


def _statuses(url: str, login: str, token: str) -> list[int]:
    with httpx.Client(base_url=url, timeout=30) as http:
        return [
            http.request(
                method, path, headers=headers, json={} if method == "POST" else None
            ).status_code
            for method, path, headers in _forms(login, token)
        ]


def test_expired_token_is_401_in_every_form(factory) -> None:
    factory.users().add_user("ana")
    new = factory.users().create_token("ana", days=1)
    with uvicorn_thread(factory) as url:
        assert _statuses(url, "ana", new.token) == [200, 200, 200]
        with factory.sessions.begin() as session:
            session.execute(
                update(Token)
                .where(Token.key == new.info.key)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        assert _statuses(url, "ana", new.token) == [401, 401, 401]
        response = httpx.get(f"{url}/api/me", headers={"Authorization": f"Bearer {new.token}"})
        assert response.json() == {"error": "unauthenticated", "message": "token expired"}


def test_token_lifetime_must_be_sane(factory) -> None:
    factory.users().add_user("ana")
    for days in (-1, 10**9):
        with pytest.raises(InvalidInputError, match="lifetime"):
            factory.users().create_token("ana", days=days)
    assert factory.users().create_token("ana", days=0).info.expires_at is None


def test_revocation_takes_effect_on_the_next_request(factory) -> None:
    factory.users().add_user("ana")
    token = factory.users().create_token("ana").token
    other = factory.users().create_token("ana").token
    with uvicorn_thread(factory) as url, httpx.Client(base_url=url) as http:
        headers = {"X-Auth-Ident": "ana", "X-Auth-Token": token}
        # One kept-alive connection: nothing cached on it survives the revocation.
        assert http.get("/api/me", headers=headers).status_code == 200
        factory.users().revoke_token(token.split(".")[0])
        revoked = http.get("/api/me", headers=headers)
        assert revoked.status_code == 401 and revoked.json()["message"] == "token revoked"
        assert _statuses(url, "ana", token) == [401, 401, 401]
        assert _statuses(url, "ana", other) == [200, 200, 200]


def test_token_checks_compare_hashes_in_constant_time(factory, monkeypatch) -> None:
    users = factory.users()
    users.add_user("ana")
    users.add_user("ben")
    token = users.create_token("ana").token
    key, secret = token.split(".")
    with factory.sessions() as session:
        row = session.scalars(select(Token)).one()
        # Only a salted hash is stored: the secret is in no column.
        assert secret not in repr([getattr(row, c.key) for c in Token.__table__.columns])
    compared: list[tuple[object, object]] = []
    real = users_module.hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(users_module.hmac, "compare_digest", spy)
    assert users.authenticate("ana", token).login == "ana"
    attempts = [
        ("ana", f"{key}.{'x' * len(secret)}"),  # wrong secret
        ("ben", token),  # someone else's token
        ("ana", f"{'0' * 16}.{secret}"),  # unknown key: still hashed and compared
        ("ana", f"{key}.{secret[:-1]}"),  # one character short
    ]
    for login, attempt in attempts:
        with pytest.raises(AuthenticationError, match="invalid login or token"):
            users.authenticate(login, attempt)
    # Every attempt compared a 64-hex-digit hash with compare_digest (never `==` on secrets).
    hashes = [pair for pair in compared if all(isinstance(x, str) for x in pair)]
    assert len(hashes) == 1 + len(attempts)
    assert all(re.fullmatch(r"[0-9a-f]{64}", a) and len(a) == len(b) for a, b in hashes)
    assert all(secret not in (a, b) for a, b in hashes)


@pytest.mark.slow
def test_tokens_never_reach_the_server_log(tmp_path: Path) -> None:
    """A live ``hcdc serve`` at DEBUG, used with every credential form and a download script."""
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "HCDC_RESOLVE_TARGETS": "false",
        "HCDC_DATA_DIR": str(data_dir),
        "HCDC_DATABASE_URL": f"sqlite:///{tmp_path / 'hcdc.sqlite'}",
    }
    hcdc_cli(data_dir, "init", env=env)
    hcdc_cli(data_dir, "user", "add", "ana", env=env)
    token = hcdc_cli(data_dir, "token", "create", "ana", env=env).strip().split()[-1]
    stranger = hcdc_cli(data_dir, "token", "create", "ana", env=env).strip().split()[-1]
    hcdc_cli(data_dir, "token", "revoke", stranger.split(".")[0], env=env)
    write_frame(tmp_path / "in" / "frame.fits")
    hcdc_cli(data_dir, "ingest", str(tmp_path / "in"), env=env)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    serve = ["hcdc", "--data-dir", str(data_dir), "serve", "--port", str(port)]
    serve += ["--log-level", "debug"]
    with log.open("wb") as out:
        server = subprocess.Popen(
            serve,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(url, server, log)
            with httpx.Client(base_url=url, timeout=30) as http:
                for secret in (token, stranger):  # a valid one, and a revoked one (401)
                    for method, path, headers in _forms("ana", secret):
                        http.request(method, path, headers=headers, json={})
                    http.post(f"/api/process_list/ana/{secret}", content=b"{bad json")
                    http.get(f"/api/process_list/ana/{secret}")  # 405
                    http.get("/api/me", params={"token": secret})  # pasted into a query: 401
                    http.post(f"/api/data_list/nobody/{secret}/extra", json={})  # 404
                headers = {"X-Auth-Ident": "ana", "X-Auth-Token": token}
                script = http.post("/api/download_script", json={"data_ids": [1]}, headers=headers)
                assert script.status_code == 200, script.text
            (tmp_path / "get.sh").write_text(script.text)
            fetched = subprocess.run(
                ["bash", str(tmp_path / "get.sh")],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert fetched.returncode == 0, fetched.stderr
            assert (tmp_path / "hcdc-download" / "frame.fits").read_bytes() == (
                tmp_path / "in" / "frame.fits"
            ).read_bytes()
        finally:
            server.terminate()
            server.wait(timeout=20)
    text = log.read_text()
    for secret in (token, stranger):
        assert secret.split(".")[1] not in text
    # The requests were logged (access log and DEBUG records), with the credentials redacted.
    assert f'"POST /api/data_list/ana/{REDACTED} HTTP/1.1" 200' in text
    assert f'"POST /api/data_list/ana/{REDACTED} HTTP/1.1" 401' in text
    assert '"GET /api/data/1/file HTTP/1.1" 200' in text
    assert "DEBUG" in text


def test_download_script_sends_the_token_in_headers_only(factory, tmp_path) -> None:
    factory.users().add_user("ana")
    token = factory.users().create_token("ana").token
    factory.ingest().ingest(
        [write_frame(tmp_path / "a.fits"), write_frame(tmp_path / "b.fits", value=3)]
    )
    downloads = factory.downloads()
    viewer = factory.auth().viewer("ana", token)
    entries = downloads.selection(viewer, data_ids=None, browse_filters={})
    assert len(entries) == 2
    script = downloads.script(
        entries, base_url="http://hcdc.test/", login="ana", token=token, folder="here"
    )
    lines = [line for line in script.splitlines() if token in line]
    # The token appears once, single-quoted, as the overridable default of a shell variable...
    assert lines == [f"hcdc_default_token={shlex.quote(token)}"]
    assert 'HCDC_TOKEN="${HCDC_TOKEN:-$hcdc_default_token}"' in script.splitlines()
    # ...which only ever goes into a header file that curl reads with -H @file.
    uses = [line.strip() for line in script.splitlines() if "$HCDC_TOKEN" in line]
    assert uses == [
        'printf \'X-Auth-Ident: %s\\nX-Auth-Token: %s\\n\' "$HCDC_LOGIN" "$HCDC_TOKEN" > "$headers"'
    ]
    urls = re.findall(r"\S*://\S*|\$HCDC_URL\S*", script)
    assert urls and all("TOKEN" not in u and token not in u for u in urls)
    curl = [line for line in script.splitlines() if "curl " in line or '-H "@$headers"' in line]
    assert curl and all("X-Auth-Token:" not in line for line in curl)
