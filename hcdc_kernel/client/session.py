"""``HcdcClient``: the notebook's handle on the hcdc service (astroquery/pyvo style).

Query methods take keyword-only filters named as the seed's browse filters (any case) and return
astropy Tables; actions return :class:`~hcdc_kernel.client.process.Process` objects; errors are
exceptions carrying the server's message.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from astropy.io import fits
from astropy.table import Table
from tqdm.auto import tqdm

from hcdc_kernel.client.cache import DownloadCache, default_cache_dir
from hcdc_kernel.client.errors import HcdcAuthError, HcdcError
from hcdc_kernel.client.filters import browse_filters
from hcdc_kernel.client.models import (
    AssociationPreview,
    Invitation,
    Recipe,
    Workflow,
    Workspace,
)
from hcdc_kernel.client.process import Batch, Process
from hcdc_kernel.client.tables import DATA_COLUMNS, PROCESS_COLUMNS, items_table
from hcdc_kernel.client.transport import Transport

__all__ = ["HcdcClient", "Resource", "connect"]

Resource = Literal["data", "processes"]
_ENDPOINTS: Mapping[str, str] = {"data": "/api/data_list", "processes": "/api/process_list"}
_FIRST_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "data": DATA_COLUMNS,
    "processes": PROCESS_COLUMNS,
}
#: Results larger than one page show a progress bar while the pages arrive.
DEFAULT_PAGE_SIZE = 500


def _ids(values: Iterable[Any] | Table) -> list[int]:
    """Data file ids from ids, or from a Table's ``id`` column."""
    if isinstance(values, Table):
        values = values["id"]
    return [int(v) for v in values]


class HcdcClient:
    """A connection to the hcdc service.

    Parameters
    ----------
    url : str, optional
        The service's root URL; default ``$HCDC_URL``.
    token : str, optional
        An API token; default ``$HCDC_TOKEN``.
    login : str, optional
        The token's login; default ``$HCDC_USER``, else asked of the service.
    cache_dir : path, optional
        Download cache; default ``$HCDC_CACHE_DIR`` or ``~/.cache/hcdc/files``.
    progress : bool
        Show progress bars for long downloads, queries and waits.
    timeout_s : float
        Seconds to wait for each HTTP response.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        login: str | None = None,
        cache_dir: str | Path | None = None,
        progress: bool = True,
        timeout_s: float = 60.0,
    ) -> None:
        url = url or os.environ.get("HCDC_URL")
        token = token or os.environ.get("HCDC_TOKEN")
        if not url:
            raise HcdcError("no hcdc URL: pass url= or set HCDC_URL")
        if not token:
            raise HcdcAuthError("no hcdc token: pass token= or set HCDC_TOKEN")
        login = login or os.environ.get("HCDC_USER") or self._login_of(url, token, timeout_s)
        self.transport = Transport(url, login=login, token=token, timeout=timeout_s)
        self.progress = progress
        self.cache = DownloadCache(
            self.transport, Path(cache_dir) if cache_dir else default_cache_dir()
        )

    @staticmethod
    def _login_of(url: str, token: str, timeout_s: float) -> str:
        """The login owning ``token`` (the bearer form needs no login)."""
        import httpx

        from hcdc_kernel.client.errors import HcdcConnectionError, error_from_response

        try:
            reply = httpx.get(
                url.rstrip("/") + "/api/me",
                headers={"Authorization": f"Bearer {token}"},
                timeout=timeout_s,
            )
        except httpx.TransportError as exc:
            raise HcdcConnectionError(f"cannot reach {url}: {exc}") from exc
        if reply.is_error:
            raise error_from_response(reply)
        return str(reply.json()["user"]["login"])

    def __repr__(self) -> str:
        return f"<HcdcClient {self.transport.login}@{self.transport.base_url}>"

    def __enter__(self) -> HcdcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections."""
        self.transport.close()

    @property
    def login(self) -> str:
        """The caller's login."""
        return self.transport.login

    @property
    def url(self) -> str:
        """The service's root URL."""
        return self.transport.base_url

    def supports(self, method: str, template: str) -> bool:
        """Whether the service offers a route (``dc.supports("GET", "/api/recipes")``)."""
        return self.transport.supports(method, template)

    def me(self) -> dict[str, Any]:
        """The caller (login, email, role) and their workspaces with roles."""
        body: dict[str, Any] = self.transport.json("GET", "/api/me")
        return body

    # -- browse --------------------------------------------------------------------------------

    def browse(self, resource: Resource, **body: Any) -> dict[str, Any]:
        """One raw browse request (the seed's settings: ``browse_filters``, ``count``...)."""
        reply: dict[str, Any] = self.transport.json("POST", _ENDPOINTS[resource], json=body)
        return reply

    def _table(
        self,
        resource: Resource,
        filters: Mapping[str, Any],
        *,
        sort: str,
        max_rows: int | None,
        page_size: int,
        progress: bool | None,
    ) -> Table:
        converted = browse_filters(filters)
        total = self.count(resource, **filters)
        wanted = total if max_rows is None else min(total, max_rows)
        pages = max(1, math.ceil(wanted / page_size))
        show = (self.progress if progress is None else progress) and pages > 1
        items: list[dict[str, Any]] = []
        with tqdm(total=wanted, desc=f"{resource} rows", disable=not show, unit="row") as bar:
            for page in range(1, pages + 1):
                reply = self.browse(
                    resource, browse_filters=converted, limit=page_size, page=page, sort=sort
                )
                chunk = reply["items"][: wanted - len(items)]
                items.extend(chunk)
                bar.update(len(chunk))
                if len(chunk) < page_size:
                    break
        meta = {"browse_filters": converted, "sort": sort, "total": total}
        return items_table(items, first=_FIRST_COLUMNS[resource], meta=meta)

    def data(
        self,
        *,
        sort: str = "id DESC",
        max_rows: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        progress: bool | None = None,
        **filters: Any,
    ) -> Table:
        """Data files matching ``filters`` (the seed's data filter names, any case).

        Parameters
        ----------
        sort : str
            ``"<key> ASC|DESC"``.
        max_rows : int, optional
            Stop after this many rows.
        page_size : int
            Rows per request; larger results arrive page by page behind a progress bar.
        **filters
            ``obs_night_date="2019-05-27"``, ``data_frame_type=["IRD_DARK_RAW", ...]`` (any of),
            ``exp_time=(1, 10)`` (inclusive range), ``object="PDS*"`` (wildcard)...

        Returns
        -------
        astropy.table.Table
            The seed's data columns first; RA/DEC in deg, EXP_TIME in s, dates as Time.
        """
        return self._table(
            "data", filters, sort=sort, max_rows=max_rows, page_size=page_size, progress=progress
        )

    def processes(
        self,
        *,
        sort: str = "id DESC",
        max_rows: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        progress: bool | None = None,
        **filters: Any,
    ) -> Table:
        """Processes matching ``filters`` (the seed's process filter names, any case).

        Switches are filters set to ``True`` (``filter_process_need_validation=True``). The
        seed's Process Browse columns come first. See :meth:`data` for the options.
        """
        return self._table(
            "processes",
            filters,
            sort=sort,
            max_rows=max_rows,
            page_size=page_size,
            progress=progress,
        )

    def count(self, resource: Resource = "data", /, **filters: Any) -> int:
        """How many data files (or ``"processes"``) match ``filters``."""
        reply = self.browse(resource, browse_filters=browse_filters(filters), count=True)
        return int(reply["count"])

    def distinct(self, resource: Resource, key: str, /, **filters: Any) -> dict[str, int]:
        """Each value of item ``key`` among the matches, with how many items have it."""
        reply = self.browse(
            resource,
            browse_filters=browse_filters(filters),
            group=key.lower(),
            extract="count()",
            limit=-1,
        )
        return {str(k): int(v) for k, v in reply["groups"].items()}

    # -- data files ----------------------------------------------------------------------------

    def data_info(self, data_id: int) -> dict[str, Any]:
        """One data file: the seed's detail columns and every stored column."""
        body: dict[str, Any] = self.transport.json("GET", f"/api/data/{int(data_id)}")
        return body

    def header(self, data_id: int) -> fits.Header:
        """The primary FITS header of a data file (as the service read it)."""
        body = self.transport.json("GET", f"/api/data/{int(data_id)}/header")
        header = fits.Header()
        for keyword, value in body["header"].items():
            name = keyword if len(keyword) <= 8 and " " not in keyword else f"HIERARCH {keyword}"
            if isinstance(value, str | int | float | bool) or value is None:
                header[name] = value
            else:
                header[name] = str(value)
        return header

    def download(self, data_id: int, *, dest: str | Path | None = None) -> Path:
        """The file of a data file, through the local cache (copied to ``dest`` if given)."""
        info = self.data_info(data_id)
        size = int(info.get("size") or 0)
        show = self.progress and size > 32 * (1 << 20)
        with tqdm(total=size, unit="B", unit_scale=True, disable=not show) as bar:
            cached = self.cache.fetch(
                int(data_id),
                checksum=str(info.get("checksum") or ""),
                file_name=str(info["file_name"]),
                on_bytes=bar.update,
            )
        if dest is None:
            return cached
        target = Path(dest)
        if target.is_dir():
            target = target / cached.name
        target.write_bytes(cached.read_bytes())
        return target

    def open(self, data_id: int, **fits_options: Any) -> fits.HDUList:
        """The data file opened with :func:`astropy.io.fits.open` (downloaded once, cached)."""
        return fits.open(self.download(data_id), **fits_options)

    def download_script(
        self,
        data_ids: Iterable[int] | Table | None = None,
        *,
        folder: str = "hcdc-download",
        **filters: Any,
    ) -> str:
        """A bash script (curl) downloading the chosen files, or every file matching filters."""
        body: dict[str, Any] = {"folder": folder}
        if data_ids is not None:
            body["data_ids"] = _ids(data_ids)
        if filters:
            body["browse_filters"] = browse_filters(filters)
        return self.transport.request("POST", "/api/download_script", json=body).text

    def upload(self, path: str | Path, *, workspace: str) -> dict[str, Any]:
        """Import one of your FITS files into ``workspace``; the new data file's detail."""
        self.transport.require("POST", "/api/data", purpose="upload()")
        source = Path(path)
        with source.open("rb") as stream:
            body: dict[str, Any] = self.transport.json(
                "POST",
                "/api/data",
                files={"file": (source.name, stream, "application/fits")},
                data={"workspace": workspace},
            )
        return body

    # -- processes -----------------------------------------------------------------------------

    def process(self, process_id: int) -> Process:
        """One process (its Info panel read now)."""
        return Process(self, process_id).refresh()

    def conditions(self, process_id: int) -> dict[str, Any]:
        """The observing conditions of a process: ``aggregate`` (per parameter: mean, std,
        n, source), ``exposures`` (the science frames it comes from, with their windows) and
        ``series`` (seeing, tau0, Strehl over them: times and values)."""
        template = "/api/processes/{process_id}/conditions"
        self.transport.require("GET", template, purpose="conditions()")
        body: dict[str, Any] = self.transport.json(
            "GET", f"/api/processes/{int(process_id)}/conditions"
        )
        return body

    def recipes(self, *, include_hidden: bool = False) -> list[Recipe]:
        """Every recipe version with the JSON Schema of its parameters."""
        self.transport.require("GET", "/api/recipes", purpose="recipes()")
        body = self.transport.json(
            "GET", "/api/recipes", params={"include_hidden": str(include_hidden).lower()}
        )
        return [Recipe.from_json(item) for item in body]

    def recipe(self, name: str, *, version: str | None = None) -> Recipe:
        """One recipe (the current version unless ``version``)."""
        self.transport.require("GET", "/api/recipes/{name}", purpose="recipe()")
        params = {"version": version} if version else None
        return Recipe.from_json(self.transport.json("GET", f"/api/recipes/{name}", params=params))

    def workflows(self) -> list[Workflow]:
        """Every workflow (a DAG of recipe steps)."""
        self.transport.require("GET", "/api/workflows", purpose="workflows()")
        return [Workflow.from_json(w) for w in self.transport.json("GET", "/api/workflows")]

    def associate(
        self,
        recipe: str,
        selection: Iterable[int] | Table,
        *,
        version: str | None = None,
        overrides: Mapping[str, Sequence[int]] | None = None,
    ) -> list[AssociationPreview]:
        """The processes a launch on ``selection`` would make, with each calibration's match."""
        self.transport.require("POST", "/api/associate", purpose="associate()")
        body = {
            "recipe": recipe,
            "version": version,
            "selection": _ids(selection),
            "overrides": {k: list(v) for k, v in (overrides or {}).items()},
        }
        return [
            AssociationPreview.from_json(p)
            for p in self.transport.json("POST", "/api/associate", json=body)
        ]

    def launch(
        self,
        recipe: str,
        inputs: Iterable[int] | Table | Mapping[str, Sequence[int]],
        *,
        params: Mapping[str, Any] | None = None,
        associate: bool = False,
        preset: str | None = None,
        version: str | None = None,
        workspace: str | None = None,
        reference: str | None = None,
        batch_name: str | None = None,
        overrides: Mapping[str, Sequence[int]] | None = None,
        force: bool = False,
        **param_values: Any,
    ) -> Batch:
        """Queue ``recipe`` on ``inputs``; the new batch of processes.

        Parameters
        ----------
        recipe : str
            Recipe name.
        inputs : ids, Table or {tag: ids}
            Data files. With ``associate=False`` they are the inputs of one process (the SOF tag
            from each frame type, or given per tag as a mapping); with ``associate=True`` they are
            a selection that the service groups into runs, adding calibrations by its rules.
        params, **param_values
            Recipe parameters (``param_values`` override ``params``).
        """
        self.transport.require("POST", "/api/processes", purpose="launch()")
        body: dict[str, Any] = {
            "recipe": recipe,
            "version": version,
            "preset": preset,
            "params": {**(params or {}), **param_values},
            "workspace": workspace,
            "reference": reference,
            "batch_name": batch_name,
            "overrides": {k: list(v) for k, v in (overrides or {}).items()},
            "force": force,
        }
        if isinstance(inputs, Mapping):
            if associate:
                raise ValueError("associate=True takes a selection of ids, not a {tag: ids} map")
            body["inputs"] = [
                {"data_file_id": int(i), "tag": tag} for tag, ids in inputs.items() for i in ids
            ]
        elif associate:
            body["selection"] = _ids(inputs)
        else:
            body["inputs"] = [{"data_file_id": i} for i in _ids(inputs)]
        return self._batch(self.transport.json("POST", "/api/processes", json=body))

    def launch_workflow(
        self,
        workflow: str,
        selection: Iterable[int] | Table,
        *,
        version: str | None = None,
        preset: str | None = None,
        workspace: str | None = None,
        reference: str | None = None,
        force: bool = False,
    ) -> Batch:
        """Queue every step of ``workflow`` on a selection; steps wait for their parents.

        ``preset`` names a workflow preset: the steps whose recipe has a preset of that name
        run with it (the batch records it: ``WORKFLOW_PRESET`` browses it).
        """
        self.transport.require("POST", "/api/workflows/{name}/launch", purpose="launch_workflow()")
        body: dict[str, Any] = {
            "selection": _ids(selection),
            "version": version,
            "workspace": workspace,
            "reference": reference,
            "force": force,
        }
        if preset is not None:
            body["preset"] = preset
        return self._batch(
            self.transport.json("POST", f"/api/workflows/{workflow}/launch", json=body)
        )

    def set_attribute(self, process_id: int, key: str, value: str | None) -> dict[str, str | None]:
        """Set the extended attribute ``key`` of a process (what ``EXTENDED_ATTRIBUTE`` browses);
        for its launcher and the editors and owners of its workspace. Returns every attribute."""
        path = "/api/processes/{process_id}/attributes/{key}"
        self.transport.require("PUT", path, purpose="set_attribute()")
        reply = self.transport.json(
            "PUT", f"/api/processes/{int(process_id)}/attributes/{key}", json={"value": value}
        )
        return dict(reply["attributes"])

    def delete_attribute(self, process_id: int, key: str) -> None:
        """Remove the extended attribute ``key`` of a process."""
        path = "/api/processes/{process_id}/attributes/{key}"
        self.transport.require("DELETE", path, purpose="delete_attribute()")
        self.transport.request("DELETE", f"/api/processes/{int(process_id)}/attributes/{key}")

    def _batch(self, reply: Mapping[str, Any]) -> Batch:
        processes = [Process(self, int(p["id"])) for p in reply["processes"]]
        return Batch(self, int(reply["batch_id"]), processes)

    # -- workspaces ----------------------------------------------------------------------------

    def workspaces(self) -> list[Workspace]:
        """Workspaces you belong to (every workspace for admins)."""
        return [Workspace.from_json(w) for w in self.transport.json("GET", "/api/workspaces")]

    def workspace(self, name: str) -> Workspace:
        """One workspace with its members."""
        return Workspace.from_json(self.transport.json("GET", f"/api/workspaces/{name}"))

    def create_workspace(
        self, name: str, *, description: str | None = None, group: str | None = None
    ) -> Workspace:
        """A new workspace, owned by you."""
        body = {"name": name, "description": description, "group_name": group}
        return Workspace.from_json(self.transport.json("POST", "/api/workspaces", json=body))

    def set_member(self, workspace: str, login: str, role: str = "viewer") -> Workspace:
        """Invite ``login`` to ``workspace`` with ``role``, or change a member's role; owners only.

        An invitee is listed in ``Workspace.invited`` until they accept
        (:meth:`accept_invitation`); the last owner cannot be demoted.
        """
        return Workspace.from_json(
            self.transport.json(
                "PUT", f"/api/workspaces/{workspace}/members/{login}", json={"role": role}
            )
        )

    invite = set_member

    def remove_member(self, workspace: str, login: str) -> Workspace:
        """Remove ``login`` from ``workspace`` or withdraw their invitation (owners, or the
        member leaving; never the last owner)."""
        return Workspace.from_json(
            self.transport.json("DELETE", f"/api/workspaces/{workspace}/members/{login}")
        )

    def invitations(self) -> list[Invitation]:
        """Invitations to workspaces waiting for you."""
        self.transport.require("GET", "/api/invitations", purpose="invitations()")
        return [Invitation.from_json(i) for i in self.transport.json("GET", "/api/invitations")]

    def accept_invitation(self, workspace: str) -> Workspace:
        """Accept your invitation to ``workspace``: you become a member with the role offered."""
        path = "/api/invitations/{workspace}/accept"
        self.transport.require("POST", path, purpose="accept_invitation()")
        return Workspace.from_json(
            self.transport.json("POST", f"/api/invitations/{workspace}/accept")
        )

    def decline_invitation(self, workspace: str) -> None:
        """Decline your invitation to ``workspace``."""
        path = "/api/invitations/{workspace}"
        self.transport.require("DELETE", path, purpose="decline_invitation()")
        self.transport.request("DELETE", f"/api/invitations/{workspace}")

    def share(self, data_ids: Iterable[int] | Table, *, workspace: str) -> Workspace:
        """Add data files (products, say) to ``workspace`` so its members see them."""
        path = "/api/workspaces/{name}/data"
        self.transport.require("POST", path, purpose="share()")
        body = {"data_ids": _ids(data_ids)}
        return Workspace.from_json(
            self.transport.json("POST", f"/api/workspaces/{workspace}/data", json=body)
        )

    def unshare(self, data_ids: Iterable[int] | Table, *, workspace: str) -> Workspace:
        """Remove data files from ``workspace`` (the files themselves stay)."""
        path = "/api/workspaces/{name}/data"
        self.transport.require("DELETE", path, purpose="unshare()")
        body = {"data_ids": _ids(data_ids)}
        return Workspace.from_json(
            self.transport.json("DELETE", f"/api/workspaces/{workspace}/data", json=body)
        )

    def move(self, data_ids: Iterable[int] | Table, *, source: str, destination: str) -> Workspace:
        """Share data files with ``destination``, then remove them from ``source``."""
        ids = _ids(data_ids)
        moved = self.share(ids, workspace=destination)
        self.unshare(ids, workspace=source)
        return moved


def connect(
    url: str | None = None,
    token: str | None = None,
    *,
    login: str | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> HcdcClient:
    """Connect to the hcdc service (``$HCDC_URL`` and ``$HCDC_TOKEN`` unless given).

    Examples
    --------
    >>> import hcdc_kernel as hk  # doctest: +SKIP
    >>> dc = hk.connect()  # doctest: +SKIP
    >>> dc.data(obs_night_date="2019-05-27", data_frame_type="IRD_*")  # doctest: +SKIP
    """
    return HcdcClient(url, token, login=login, cache_dir=cache_dir, progress=progress)
