"""Client queries against a live server: tables, filters, paging, counts, files, errors."""

from __future__ import annotations

import hashlib

import astropy.units as u
import httpx
import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time

import hcdc_kernel as hk
from hcdc_kernel.client import Range

pytestmark = pytest.mark.slow


def _raw(live_server, endpoint: str, body: dict) -> dict:
    headers = {"X-Auth-Ident": live_server.login, "X-Auth-Token": live_server.token}
    reply = httpx.post(f"{live_server.url}/api/{endpoint}", json=body, headers=headers)
    reply.raise_for_status()
    return reply.json()


def test_connect_reads_the_environment_and_finds_the_login(live_server, monkeypatch):
    monkeypatch.setenv("HCDC_URL", live_server.url)
    monkeypatch.setenv("HCDC_TOKEN", live_server.token)
    monkeypatch.delenv("HCDC_USER", raising=False)
    with hk.connect(progress=False) as dc:
        assert dc.login == live_server.login
        assert dc.url == live_server.url
        me = dc.me()
    assert me["user"]["login"] == live_server.login
    assert "demo" in [w["name"] for w in me["workspaces"]]


def test_connect_errors(live_server, monkeypatch):
    monkeypatch.delenv("HCDC_URL", raising=False)
    monkeypatch.delenv("HCDC_TOKEN", raising=False)
    with pytest.raises(hk.HcdcError, match="HCDC_URL"):
        hk.connect()
    with pytest.raises(hk.HcdcAuthError, match="HCDC_TOKEN"):
        hk.connect(live_server.url)
    with pytest.raises(hk.HcdcAuthError) as bad:
        hk.connect(live_server.url, "nokey.nosecret")
    assert bad.value.status == 401
    with (
        hk.connect(live_server.url, "nokey.nosecret", login=live_server.login) as bad_token,
        pytest.raises(hk.HcdcAuthError),
    ):
        bad_token.me()
    with (
        hk.connect("http://127.0.0.1:9", "x.y", login="demo") as nowhere,
        pytest.raises(hk.HcdcConnectionError),
    ):
        nowhere.me()


def test_data_table_has_units_times_and_the_seed_columns_first(dc, live_server):
    table = dc.data(obs_night_date="2019-05-27")
    expected = _raw(
        live_server, "data_list", {"browse_filters": {"OBS_NIGHT_DATE": "2019-05-27"}, "limit": -1}
    )["items"]
    assert sorted(table["id"]) == sorted(item["id"] for item in expected)
    assert table.colnames[:4] == ["id", "file_name", "size", "data_frame_type"]
    assert table["coord_ra"].unit == u.deg and table["coord_dec"].unit == u.deg
    assert table["exp_time"].unit == u.s
    assert isinstance(table["observation_date"], Time)
    row = next(i for i, r in enumerate(table) if not np.ma.is_masked(r["coord_ra"]))
    first = next(i for i in expected if i["id"] == table["id"][row])
    assert table["observation_date"][row].isot[:19] == first["observation_date"][:19]
    assert np.isclose(table["coord_ra"][row], first["coord_ra"])
    assert table.meta["browse_filters"] == {"OBS_NIGHT_DATE": "2019-05-27"}


def test_filters_case_ranges_lists_wildcards_and_quantities(dc):
    darks = dc.data(DATA_FRAME_TYPE="IRD_DARK_RAW")
    assert len(darks) > 0 and set(darks["data_frame_type"]) == {"IRD_DARK_RAW"}
    both = dc.data(data_frame_type=["IRD_DARK_RAW", "IRD_FLAT_FIELD_RAW"])
    assert set(both["data_frame_type"]) == {"IRD_DARK_RAW", "IRD_FLAT_FIELD_RAW"}
    wild = dc.data(data_frame_type="IRD_*_RAW")
    assert all(t.startswith("IRD_") for t in wild["data_frame_type"])
    assert len(wild) > len(both)
    times = sorted(float(t) for t in dc.data()["exp_time"].filled(np.nan) if np.isfinite(t))
    low = times[len(times) // 2]
    ranged = dc.data(exp_time=Range(low * u.s, None))
    assert len(ranged) > 0 and all(t >= low for t in ranged["exp_time"])
    assert len(dc.data(exp_time=(None, low))) == dc.count(exp_time=(None, low))


def test_paging_is_transparent(dc):
    total = dc.count()
    assert total > 12
    paged = dc.data(page_size=5, sort="id ASC")
    assert list(paged["id"]) == sorted(paged["id"])
    assert len(paged) == total and len(set(paged["id"])) == total
    assert len(dc.data(page_size=5, max_rows=7)) == 7
    assert paged.meta["total"] == total


def test_count_and_distinct(dc, live_server):
    counts = dc.distinct("data", "DATA_FRAME_TYPE")
    assert sum(counts.values()) == dc.count()
    assert counts["IRD_DARK_RAW"] == dc.count(data_frame_type="IRD_DARK_RAW")
    assert dc.count("processes") == _raw(live_server, "process_list", {"count": True})["count"]


def test_unknown_filter_is_a_request_error_naming_it(dc):
    with pytest.raises(hk.HcdcRequestError) as error:
        dc.data(not_a_filter=1)
    assert "NOT_A_FILTER" in error.value.message
    assert error.value.status == 400 and error.value.code
    with pytest.raises(hk.HcdcRequestError):
        dc.data(sort="nope DESC")
    with pytest.raises(ValueError, match="range"):
        dc.data(exp_time=(1, 2, 3))


def test_data_info_header_and_not_found(dc):
    data_id = int(dc.data(data_frame_type="IRD_DARK_RAW")["id"][0])
    info = dc.data_info(data_id)
    assert info["id"] == data_id and info["frame_type"] == "IRD_DARK_RAW"
    header = dc.header(data_id)
    assert isinstance(header, fits.Header)
    assert header["HIERARCH ESO DPR TYPE"] == "DARK"
    with pytest.raises(hk.HcdcNotFoundError) as missing:
        dc.data_info(10**8)
    assert missing.value.status == 404


def test_download_open_and_cache_with_resume(dc):
    data_id = int(dc.data(data_frame_type="IRD_DARK_RAW")["id"][0])
    info = dc.data_info(data_id)
    path = dc.download(data_id)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == info["checksum"]
    mtime = path.stat().st_mtime_ns
    assert dc.download(data_id) == path and path.stat().st_mtime_ns == mtime
    with dc.open(data_id) as hdul:
        assert hdul[0].header["HIERARCH ESO DPR TYPE"] == "DARK"
    # An interrupted download resumes from the partial file (HTTP Range).
    content = path.read_bytes()
    path.unlink()
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(content[:1000])
    assert dc.download(data_id).read_bytes() == content
    assert not partial.exists()


def test_download_script_lists_the_files(dc):
    ids = [int(i) for i in dc.data(data_frame_type="IRD_DARK_RAW")["id"]]
    script = dc.download_script(ids, folder="darks")
    assert script.startswith("#!")
    fetched = {int(line.split()[1]) for line in script.splitlines() if line.startswith("fetch ")}
    assert fetched == set(ids)
    assert "mkdir -p darks" in script
    by_filter = dc.download_script(data_frame_type="IRD_DARK_RAW")
    assert f"{len(ids)} files" in by_filter


def test_processes_table(dc):
    batch = dc.launch("hcdc_echo", dc.data(data_frame_type="IRD_DARK_RAW")[:1], reference="ptable")
    batch.wait(timeout_s=120, progress=False)
    table = dc.processes(batch_id=batch.id)
    assert list(table["id"]) == [batch[0].id]
    assert table.colnames[:3] == ["id", "batch_id", "process_date"]
    assert isinstance(table["process_date"], Time)
    assert table["progress"].unit == u.percent
    assert table["reference"][0] == "ptable"
    assert dc.count("processes", batch_id=batch.id) == 1
    pending = dc.processes(filter_process_need_validation=True, batch_id=batch.id)
    assert list(pending["id"]) == [batch[0].id]


def test_upload_imports_a_file(dc, tmp_path):
    path = tmp_path / "mine.fits"
    fits.PrimaryHDU(np.zeros((4, 4), dtype=np.float32)).writeto(path)
    created = dc.upload(path, workspace="demo")
    assert dc.data_info(created["id"])["file_name"] == "mine.fits"


def test_routes_an_older_service_lacks_raise_unsupported(dc, live_server, tmp_path):
    """Against a service without a route, the client names it instead of failing with a 404."""
    for route in (
        ("POST", "/api/data"),
        ("POST", "/api/workspaces/{name}/data"),
        ("GET", "/api/processes/{process_id}/log"),
    ):
        assert dc.supports(*route), route
    lacking = ("/api/data", "/api/workspaces/{name}/data")
    with hk.connect(
        live_server.url, live_server.token, login=live_server.login, progress=False
    ) as older:
        # ``routes`` is read once from /openapi.json: pretend that document lacked these two.
        older.transport.__dict__["routes"] = frozenset(
            r for r in older.transport.routes if r[1] not in lacking
        )
        with pytest.raises(hk.HcdcUnsupportedError, match="POST /api/data"):
            older.upload(tmp_path / "x.fits", workspace="demo")
        with pytest.raises(hk.HcdcUnsupportedError, match="share"):
            older.share([1], workspace="demo")
