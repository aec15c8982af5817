"""Downloads: registered files of visible data, and bash scripts fetching a selection.

A script carries the caller's token in an HTTP header (written to a private temporary file that
curl reads with ``-H @file``), never in a URL, so it does not end up in server logs or in the
process list; files already complete are skipped and partial ones resumed (HTTP Range).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hcdc_server.exceptions import InvalidInputError, NotFoundError
from hcdc_server.schema import tables as t
from hcdc_server.services.browse import BrowseService
from hcdc_server.services.catalog import CatalogService
from hcdc_server.services.visibility import Viewer, visible

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")
#: The service's URL as a script may embed it: http(s), a host name or IP address, a port, a
#: path of plain characters (it comes from the request's Host header, which the client chose).
_BASE_URL = re.compile(
    r"^https?://(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~/-]*)?$"
)
#: Most files one script fetches.
MAX_SCRIPT_FILES = 100_000


@dataclass(frozen=True)
class DownloadFile:
    path: Path
    filename: str


@dataclass(frozen=True)
class ScriptEntry:
    data_id: int
    filename: str
    size: int


def safe_filename(name: str, data_id: int) -> str:
    """A file name safe in any shell and folder: no path parts, no unusual characters."""
    base = _UNSAFE.sub("_", Path(name).name).lstrip(".")
    return base or f"data-{data_id}.fits"


class DownloadService:
    """Files and download scripts for one viewer."""

    def __init__(self, sessions: sessionmaker[Session], *, browse: BrowseService) -> None:
        self._sessions = sessions
        self._catalog = CatalogService(sessions)
        self._browse = browse

    def file(self, viewer: Viewer, data_id: int) -> DownloadFile:
        """The registered file of a visible data file (404 when absent, hidden or missing)."""
        path, name = self._catalog.data_path(viewer, data_id)
        return DownloadFile(path=path, filename=safe_filename(name, data_id))

    def selection(
        self,
        viewer: Viewer,
        *,
        data_ids: Sequence[int] | None,
        browse_filters: dict[str, Any] | None,
    ) -> list[ScriptEntry]:
        """The visible files chosen by ids and/or data_list filters, in id order."""
        if data_ids is None and browse_filters is None:
            raise InvalidInputError("give data_ids or browse_filters")
        ids: set[int] = set(data_ids or ())
        if browse_filters is not None:
            ids.update(self._browse.ids(viewer, "data", browse_filters))
        if len(ids) > MAX_SCRIPT_FILES:
            raise InvalidInputError(f"at most {MAX_SCRIPT_FILES} files per script")
        data = t.DataFile.__table__.c
        rows: list[Any] = []
        chosen = sorted(ids)
        with self._sessions() as session:
            for start in range(0, len(chosen), 5000):
                rows.extend(
                    session.execute(
                        select(data.id, data.filename, data.size)
                        .where(data.id.in_(chosen[start : start + 5000]))
                        .where(visible(viewer, "data"))
                    ).all()
                )
        found = {row.id for row in rows}
        missing = [i for i in chosen if i not in found]
        if missing:
            shown = ", ".join(map(str, missing[:10]))
            raise NotFoundError(f"no data file {shown}{' ...' if len(missing) > 10 else ''}")
        return [
            ScriptEntry(data_id=r.id, filename=safe_filename(r.filename, r.id), size=r.size)
            for r in sorted(rows, key=lambda r: r.id)
        ]

    def script(
        self,
        entries: Sequence[ScriptEntry],
        *,
        base_url: str,
        login: str,
        token: str,
        folder: str,
    ) -> str:
        """A bash script fetching ``entries`` into ``folder`` with curl.

        Raises
        ------
        InvalidInputError
            When ``base_url`` (from the request's Host header) is not a plain http(s) URL.
        """
        base_url = base_url.rstrip("/")
        if not _BASE_URL.match(base_url):
            raise InvalidInputError(
                f"the request's Host header gives no usable URL for a script: {base_url[:80]!r}"
            )
        names: set[str] = set()
        lines = []
        for entry in entries:
            name = entry.filename
            if name in names:
                name = f"{entry.data_id}_{name}"
            names.add(name)
            target = shlex.quote(f"{folder}/{name}")
            lines.append(f"fetch {entry.data_id} {target} {entry.size}")
        total = sum(e.size for e in entries)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return _TEMPLATE.format(
            count=len(entries),
            total=total,
            stamp=stamp,
            base_url=shlex.quote(base_url),
            login=shlex.quote(login),
            token=shlex.quote(token),
            folder=shlex.quote(folder),
            fetches="\n".join(lines),
        )


_TEMPLATE = """#!/usr/bin/env bash
# hcdc download script: {count} files, {total} bytes, generated {stamp}.
# It holds your API token: keep it private. Set HCDC_URL / HCDC_TOKEN to override.
set -euo pipefail
# Single-quoted values, expanded once: nothing in them is run by the shell.
hcdc_default_url={base_url}
hcdc_default_token={token}
HCDC_URL="${{HCDC_URL:-$hcdc_default_url}}"
HCDC_LOGIN={login}
HCDC_TOKEN="${{HCDC_TOKEN:-$hcdc_default_token}}"
headers="$(mktemp)"
trap 'rm -f "$headers"' EXIT
chmod 600 "$headers"
printf 'X-Auth-Ident: %s\\nX-Auth-Token: %s\\n' "$HCDC_LOGIN" "$HCDC_TOKEN" > "$headers"
mkdir -p {folder}

fetch() {{
    local id="$1" target="$2" size="$3"
    if [ -f "$target" ] && [ "$(wc -c < "$target" | tr -d ' ')" = "$size" ]; then
        return 0
    fi
    # -H @file keeps the token out of the URL and of the process list; -C - resumes.
    curl --fail --silent --show-error --location --continue-at - \\
        -H "@$headers" -o "$target" "$HCDC_URL/api/data/$id/file"
}}

{fetches}
echo "hcdc: {count} files in {folder}"
"""
