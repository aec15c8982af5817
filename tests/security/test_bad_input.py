"""Bad input: broken files at ingest, broken requests at the API, traversal, wild parameters.

Each gets a clear per-file rejection or a 4xx naming the problem; the good files of the same run
are ingested; nothing else changes, nothing is read or written outside where it belongs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from hcdc_server.api.limits import MAX_BODY_BYTES
from hcdc_server.app import create_app
from hcdc_server.cli import EXIT_REJECTED, main
from hcdc_server.schema import tables as t
from hcdc_server.services.browse.vocabulary import vocabulary_for
from tests.api.client import api_client
from tests.security.live import Served
from tests.server.fits_factory import write_frame

# -- files ---------------------------------------------------------------------------------


def _card(keyword: str, value: str) -> bytes:
    if keyword.startswith("HIERARCH "):
        text = f"{keyword} = {value}"
    else:
        text = f"{keyword:<8}= {value:>20}"
    assert len(text) <= 80, text
    return text.ljust(80).encode("latin-1")


def _fits(path: Path, cards: list[tuple[str, str]], *, data: bytes = b"", end: bool = True) -> Path:
    """A FITS file written card by card, so that any keyword can be broken on purpose."""
    header = b"".join(_card(k, v) for k, v in cards) + (b"END".ljust(80) if end else b"")
    header += b" " * (-len(header) % 2880)
    path.write_bytes(header + data + b"\0" * (-len(data) % 2880))
    return path


_BASE = [("SIMPLE", "T"), ("BITPIX", "16"), ("NAXIS", "2"), ("NAXIS1", "4"), ("NAXIS2", "2")]
_DATA = b"\0" * 16
_SCIENCE = [
    ("INSTRUME", "'SPHERE  '"),
    ("DATE-OBS", "'2019-05-28T03:10:00'"),
    ("HIERARCH ESO SEQ ARM", "'IRDIS'"),
    ("HIERARCH ESO DPR CATG", "'SCIENCE'"),
    ("HIERARCH ESO DPR TYPE", "'OBJECT'"),
    ("HIERARCH ESO DPR TECH", "'IMAGE,DUAL'"),
]


def _bad_files(folder: Path) -> dict[str, str]:
    """Write every kind of bad file into ``folder``; file name -> expected words of the reason."""
    folder.mkdir(parents=True, exist_ok=True)
    good = write_frame(folder / "template.fits").read_bytes()
    (folder / "template.fits").unlink()
    (folder / "empty.fits").write_bytes(b"")
    (folder / "truncated_data.fits").write_bytes(good[: 2880 + 10])
    (folder / "truncated_header.fits").write_bytes(good[:1000])
    (folder / "corrupt.fits").write_bytes(
        b"SIMPLE  =                    T" + bytes(range(256)) * 11
    )
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 4000)
    (folder / "notes.txt").write_text("SELECT * FROM data_file; -- not FITS\n" * 100)
    _fits(folder / "no_end.fits", _BASE + [("COMMENT", "'x'")] * 80_000, end=False)
    _fits(folder / "no_bitpix.fits", [("SIMPLE", "T"), ("NAXIS", "0")])
    _fits(folder / "missing_naxis2.fits", _BASE[:4], data=_DATA)
    _fits(folder / "bad_bitpix.fits", [("SIMPLE", "T"), ("BITPIX", "12"), ("NAXIS", "0")])
    _fits(folder / "negative_naxis.fits", [*_BASE[:3], ("NAXIS1", "-4"), ("NAXIS2", "2")])
    _fits(folder / "naxis_text.fits", [*_BASE[:3], ("NAXIS1", "'four'"), ("NAXIS2", "2")])
    _fits(folder / "huge_naxis.fits", [*_BASE[:3], ("NAXIS1", "10000000"), ("NAXIS2", "99999")])
    _fits(
        folder / "dates_disagree.fits",
        [*_BASE, *_SCIENCE, ("MJD-OBS", "51544.0")],
        data=_DATA,
    )
    _fits(folder / "mjd_overflow.fits", [*_BASE, ("MJD-OBS", "1.0E+300")], data=_DATA)
    _fits(folder / "obs_id_overflow.fits", [*_BASE, ("HIERARCH ESO OBS ID", "1" * 30)], data=_DATA)
    _fits(folder / "ndit_overflow.fits", [*_BASE, ("HIERARCH ESO DET NDIT", "9" * 12)], data=_DATA)
    nul = _fits(folder / "nul_in_object.fits", [*_BASE, ("OBJECT", "'HD 95086'")], data=_DATA)
    nul.write_bytes(nul.read_bytes().replace(b"HD 95086", b"HD\x0095086"))
    long_object = [("OBJECT", "'" + "x" * 67 + "&'")] + [("CONTINUE", "'" + "y" * 60 + "&'")] * 4
    _fits(folder / "long_object.fits", [*_BASE, *long_object, ("CONTINUE", "'z'")], data=_DATA)
    return {
        "empty.fits": "empty file",
        "truncated_data.fits": "truncated FITS data",
        "truncated_header.fits": "truncated FITS header",
        "corrupt.fits": "",
        "image.png": "not a FITS file",
        "notes.txt": "not a FITS file",
        "no_end.fits": "without an END card",
        "no_bitpix.fits": "BITPIX",
        "missing_naxis2.fits": "NAXIS2",
        "bad_bitpix.fits": "BITPIX",
        "negative_naxis.fits": "NAXIS1",
        "naxis_text.fits": "NAXIS1",
        "huge_naxis.fits": "truncated FITS data",
        "dates_disagree.fits": "DATE-OBS",
        "mjd_overflow.fits": "MJD-OBS",
        "obs_id_overflow.fits": "ESO OBS ID",
        "ndit_overflow.fits": "ESO DET NDIT",
        "nul_in_object.fits": "control character",
        "long_object.fits": "OBJECT",
    }


def _counts(factory) -> dict[str, int]:
    tables = (t.DataFile, t.Observation, t.Target, t.WorkspaceData, t.Process, t.User)
    with factory.sessions() as session:
        return {
            table.__tablename__: session.scalar(select(func.count()).select_from(table))
            for table in tables
        }


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def test_bad_files_are_rejected_one_by_one_and_the_good_ones_ingested(factory, tmp_path) -> None:
    expected = _bad_files(tmp_path / "in")
    write_frame(tmp_path / "in" / "a_good.fits")
    write_frame(tmp_path / "in" / "z_good.fits", value=9, obj="beta Pic")
    # 10 000 cards is far beyond any real header, yet valid FITS: ingested, in bounded memory.
    _fits(
        tmp_path / "in" / "huge_header.fits",
        [*_BASE, *_SCIENCE, *[(f"HIERARCH X{i}", str(i)) for i in range(10_000)]],
        data=_DATA,
    )
    os.mkfifo(tmp_path / "in" / "pipe.fits")  # would block a reader for ever
    factory.workspaces().add_workspace("ws")
    before = _counts(factory)
    records = []
    summary = factory.ingest().ingest(
        [tmp_path / "in", tmp_path / "absent.fits"],
        copy=True,
        workspace="ws",
        on_record=records.append,
    )
    by_name = {Path(r.path).name: r for r in records}
    assert len(records) == len(by_name) == len(expected) + 5
    for name, words in expected.items():
        assert by_name[name].status == "rejected", (name, by_name[name])
        assert by_name[name].reason and words in by_name[name].reason, (name, by_name[name].reason)
    assert "not a regular file" in by_name["pipe.fits"].reason
    assert "cannot read" in by_name["absent.fits"].reason
    ingested = {n for n, r in by_name.items() if r.status == "ingested"}
    assert ingested == {"a_good.fits", "z_good.fits", "huge_header.fits"}
    assert (summary.ingested, summary.rejected) == (3, len(expected) + 2)
    after = _counts(factory)
    assert after["data_files"] == before["data_files"] + 3
    assert after["workspace_data"] == before["workspace_data"] + 3
    assert after["observations"] <= before["observations"] + 1
    assert {
        k: v
        for k, v in after.items()
        if k not in ("data_files", "workspace_data", "observations", "targets")
    } == {
        k: v
        for k, v in before.items()
        if k not in ("data_files", "workspace_data", "observations", "targets")
    }
    # Only the three good files were copied into the data dir.
    assert {p.name for p in _files_under(factory.settings.raw_dir)} == ingested
    # The rejected files are untouched and a second run judges them the same way.
    again = []
    factory.ingest().ingest([tmp_path / "in"], on_record=again.append)
    assert {Path(r.path).name: r.status for r in again} == {
        n: ("unchanged" if r.status == "ingested" else r.status)
        for n, r in by_name.items()
        if n != "absent.fits"
    }


def test_cli_ingest_reports_each_bad_file_and_exits_3(factory, tmp_path) -> None:
    expected = _bad_files(tmp_path / "in")
    write_frame(tmp_path / "in" / "good.fits")
    env = {
        "HCDC_DATABASE_URL": factory.settings.resolved_database_url,
        "HCDC_RESOLVE_TARGETS": "false",
    }
    result = CliRunner().invoke(
        main,
        [
            *("--data-dir", str(factory.settings.data_dir), "ingest", "--json", "--copy"),
            str(tmp_path / "in"),
            "../../etc/passwd",
            "/etc/passwd",
            str(tmp_path / "in" / ".." / "in" / "good.fits"),
        ],
        env=env,
    )
    assert result.exit_code == EXIT_REJECTED, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    status = {line["path"]: line["status"] for line in lines}
    assert status["../../etc/passwd"] == "rejected" and status["/etc/passwd"] == "rejected"
    assert sum(s == "ingested" for s in status.values()) == 1
    assert sum(s == "rejected" for s in status.values()) == len(expected) + 2
    assert all(line["reason"] for line in lines if line["status"] == "rejected")
    assert {p.name for p in _files_under(factory.settings.raw_dir)} == {"good.fits"}


# -- API requests --------------------------------------------------------------------------

_BODIES: list[tuple[str, str, bytes]] = [
    ("POST", "/api/process_list", b'{"limit": 10,'),
    ("POST", "/api/data_list", b"[1, 2, 3]"),
    ("POST", "/api/data_list", b'{"browse_filters": "OBJECT"}'),
    ("POST", "/api/process_list", b'{"limit": "ten"}'),
    ("POST", "/api/process_list", b'{"page": 1e400}'),
    ("POST", "/api/process_list", b'{"page": 99999999999999999999999}'),
    ("POST", "/api/download_script", b'{"data_ids": [1, "2"]}'),
    ("POST", "/api/download_script", b'{"data_ids": [99999999999999999999999]}'),
    ("POST", "/api/processes", b'{"recipe": 7}'),
    ("POST", "/api/processes", b'{"recipe": "hcdc_echo", "selection": [1.5]}'),
    ("POST", "/api/associate", b'{"recipe": "hcdc_echo", "selection": {"a": 1}}'),
    ("POST", "/api/workspaces", b'{"name": ["x"]}'),
    ("POST", "/api/workspaces", b'{"name": "../../etc"}'),
    ("PUT", "/api/workspaces/ws_a/members/bob", b'{"role": "god"}'),
    ("POST", "/api/processes/1/validation", b'{"status": 1}'),
    ("POST", "/api/process_list", b"\xff\xfe not utf-8"),
    ("POST", "/api/process_list", b'{"limit": 10, "limit": "x"}'),
    ("POST", "/api/process_list", b"{" * 100_000 + b"}" * 100_000),
]


@pytest.mark.parametrize(("method", "path", "body"), _BODIES, ids=range(len(_BODIES)))
def test_malformed_bodies_are_4xx_with_a_message(served: Served, method, path, body) -> None:
    response = httpx.request(
        method,
        served.url + path,
        content=body,
        headers={**served.headers(), "Content-Type": "application/json"},
        timeout=30,
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"] and response.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "body", "where"),
    [
        ("POST", "/api/workspaces", {"name": "nul_ws", "description": "a\x00b"}, "description"),
        ("POST", "/api/workspaces", {"name": "nul_ws2", "group_name": "\x00"}, "group_name"),
        ("POST", "/api/processes", {"recipe": "hcdc_echo", "reference": "r\x00"}, "reference"),
        ("POST", "/api/processes", {"recipe": "hcdc_echo", "params": {"m\x00": 1}}, "params"),
    ],
)
def test_nul_characters_in_any_body_text_are_400_naming_where(
    served: Served, method: str, path: str, body: dict, where: str
) -> None:
    """PostgreSQL stores NUL neither in text nor in JSONB: refused up front, nothing written."""
    before = _counts(served.factory)
    response = httpx.request(
        method, served.url + path, json=body, headers=served.headers(), timeout=30
    )
    assert response.status_code == 400, response.text
    assert where in response.json()["message"] and "NUL" in response.json()["message"]
    assert _counts(served.factory) == before


@pytest.mark.parametrize("path", ["/api/process_list", "/api/download_script", "/api/processes"])
def test_oversize_bodies_are_413(served: Served, path: str) -> None:
    body = b'{"browse_filters": {"OBJECT": "' + b"x" * MAX_BODY_BYTES + b'"}}'
    response = httpx.post(
        served.url + path,
        content=body,
        headers={**served.headers(), "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


_NASTY = [
    "'; DROP TABLE processes; --",
    "' OR '1'='1",
    "%",
    "_",
    "\\",
    "\\%",
    "*",
    "a\x00b",
    "🔭 HD 95086",
    "\u202eevil\u202c",
    "ه‎د 95086",
    "x" * 5000,
    "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
]


def _string_filters(resource: str) -> list[str]:
    vocabulary = vocabulary_for(resource)  # type: ignore[arg-type]
    return sorted(name for name, rule in vocabulary.filters.items() if rule.value_type == "str")


@pytest.mark.parametrize("resource", ["process", "data"])
def test_every_string_filter_survives_metacharacters(served: Served, resource: str) -> None:
    endpoint = f"/api/{resource}_list"
    before = _counts(served.factory)
    filters = _string_filters(resource)
    assert len(filters) >= 10
    answers: dict[int, int] = {}
    with httpx.Client(base_url=served.url, headers=served.headers(), timeout=30) as http:
        for name in filters:
            for value in _NASTY:
                for shape in (value, [value, "x"], {"min": value, "max": value + "z"}):
                    response = http.post(endpoint, json={"browse_filters": {name: shape}})
                    answers[response.status_code] = answers.get(response.status_code, 0) + 1
                    assert response.status_code in (200, 400), (name, shape, response.text)
                    if response.status_code == 400:
                        assert name in response.json()["message"], response.text
    assert answers.get(200, 0) > answers.get(400, 0)  # most are fine, a few (NUL) refused
    assert _counts(served.factory) == before
    # LIKE metacharacters are literal: "%" matches no name, "*" is the wildcard.
    name = {"process": "RECIPE_NAME", "data": "FILE_NAME"}[resource]
    with httpx.Client(base_url=served.url, headers=served.headers(), timeout=30) as http:

        def count(value: str | None) -> int:
            filters = {} if value is None else {name: value}
            body = {"count": True, "browse_filters": filters}
            return http.post(endpoint, json=body).json()["count"]

        assert count("%") == count("_") == count("\\") == 0
        assert 0 < count("*") == count(None)


# -- paths ---------------------------------------------------------------------------------

_TRAVERSALS = [
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2Fetc%2Fpasswd",
    "..%5C..%5Cetc%5Cpasswd",
    "....//....//etc/passwd",
]


@pytest.mark.parametrize(
    "template",
    [
        "/api/workspaces/{}",
        "/api/recipes/{}",
        "/api/data/{}",
        "/api/data/{}/file",
        "/api/data/{}/header",
        "/api/processes/{}/sof",
        "/api/workflows/{}/launch",
    ],
)
def test_traversal_in_path_parameters_reads_nothing(served: Served, template: str) -> None:
    for attempt in _TRAVERSALS:
        url = served.url + template.format(attempt)
        method = "POST" if template.endswith("launch") else "GET"
        response = httpx.request(
            method, url, headers=served.headers(), json={"selection": [1]}, timeout=60
        )
        assert response.status_code in (400, 404, 405), (url, response.status_code)
        assert "root:" not in response.text


def test_download_script_folder_cannot_leave_the_current_folder(served: Served) -> None:
    for folder in ("../../etc", "/etc", "a/b", "..", "-rf", "$(reboot)", "a b"):
        response = httpx.post(
            served.url + "/api/download_script",
            json={"data_ids": [1], "folder": folder},
            headers=served.headers(),
        )
        assert response.status_code == 400 and "folder" in response.json()["message"], folder


def test_a_data_file_replaced_by_a_link_is_not_served(factory, tmp_path) -> None:
    frame = write_frame(tmp_path / "in" / "frame.fits")
    factory.ingest().ingest([frame])
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0")
    frame.unlink()
    frame.symlink_to(secret)
    factory.users().add_user("ana", role="admin")
    token = factory.users().create_token("ana").token
    with api_client(create_app(factory)) as client:
        response = client.get(
            "/api/data/1/file", headers={"X-Auth-Ident": "ana", "X-Auth-Token": token}
        )
    assert response.status_code == 404 and "root:" not in response.text


# -- recipe parameters ----------------------------------------------------------------------

_OUT_OF_BOUNDS = [
    ("hcdc_sleep", "seconds", -1),
    ("hcdc_sleep", "seconds", 86_401),
    ("hcdc_sleep", "seconds", "ten"),
    ("hcdc_sleep", "seconds", [1]),
    ("hcdc_sleep", "seconds", 1e308 * 10),
    ("hcdc_sleep", "fail", "everything"),
    ("hci_adi_pca", "ncomp", 0),
    ("hci_adi_pca", "ncomp", 501),
    ("hci_adi_pca", "ncomp", 2.5),
    ("hci_adi_pca", "ncomp", True),
    ("hci_adi_pca", "ncomp", 10**30),
    ("hci_adi_pca", "delta_rot", -0.1),
    ("hci_adi_pca", "no_such_param", 1),
]


def test_launch_with_parameters_out_of_bounds_names_the_parameter(factory) -> None:
    factory.users().add_user("ana", role="admin")
    token = factory.users().create_token("ana").token
    headers = {"X-Auth-Ident": "ana", "X-Auth-Token": token, "Content-Type": "application/json"}
    with api_client(create_app(factory)) as client:
        for recipe, name, value in _OUT_OF_BOUNDS:
            # json.dumps writes inf/nan as the (non-standard) literals Python's parser accepts.
            body = json.dumps({"recipe": recipe, "params": {name: value}})
            response = client.post("/api/processes", content=body, headers=headers)
            assert response.status_code == 400, (recipe, name, value, response.text)
            assert name in response.json()["message"], response.text
        for literal in ("NaN", "Infinity", "-Infinity"):
            body = f'{{"recipe": "hcdc_sleep", "params": {{"seconds": {literal}}}}}'
            response = client.post("/api/processes", content=body, headers=headers)
            assert response.status_code == 400 and "seconds" in response.json()["message"]
    assert _counts(factory)["processes"] == 0
