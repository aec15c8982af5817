"""SkyView: the pointings of browsed frames on the sky (ipyaladin), working offline.

ipyaladin imports Aladin Lite from a CDN (esm.sh). Where the browser cannot reach it, SkyView
serves the ``aladin-lite`` npm build from this machine instead: the widget's front end asks the
kernel for the bundle, which sends it as a binary buffer, and imports it from a blob URL. The
build is looked up in ``$HCDC_ALADIN_LITE_JS``, then ``<prefix>/share/hcdc/aladin-lite/<version>/``
and ``~/.cache/hcdc/aladin-lite/<version>/``; :func:`install_aladin_lite` fetches it with npm.
Sky survey tiles still come from the CDS: offline the background is blank, the pointings show.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import warnings
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import traitlets
from ipyaladin import Aladin, Marker

from hcdc_widgets.markup import escape

__all__ = ["SkyView", "aladin_lite_version", "find_aladin_lite", "install_aladin_lite"]

_WIDGET_JS = Path(sys.modules[Aladin.__module__].__file__ or "").parent / "static" / "widget.js"
_IMPORT = re.compile(r'import (\w+) ?from ?"(https://[^"]*aladin-lite@([^"/]+))";var (\w+)=\1;')
_INITIALIZE = re.compile(r"async function (\w+)\(\{model:(\w+)\}\)\{await (\w+)\.init\}")
_MESSAGE = "hcdc_aladin_lite"

_LOADER = """
const __hcdcCdn = %(cdn)s;
function __hcdcTimeout(ms) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error("CDN timeout")), ms));
}
async function __hcdcLoadAladin(model) {
  const source = model.get("aladin_source");
  if (source !== "local") {
    try {
      return (await Promise.race([import(__hcdcCdn), __hcdcTimeout(8000)])).default;
    } catch (error) {
      if (source === "cdn") throw error;
      console.warn("hcdc: Aladin Lite CDN unreachable, using the local build", error);
    }
  }
  const bytes = await new Promise((resolve, reject) => {
    const onMessage = (message, buffers) => {
      if (!message || message.event_name !== "%(message)s") return;
      model.off("msg:custom", onMessage);
      if (message.error) reject(new Error(message.error)); else resolve(buffers[0]);
    };
    model.on("msg:custom", onMessage);
    model.send({event_type: "%(message)s"});
  });
  console.info("hcdc: local Aladin Lite build received", bytes.byteLength, "bytes");
  const url = URL.createObjectURL(new Blob([bytes], {type: "text/javascript"}));
  try {
    const module = await import(url);
    model.set("aladin_loaded_from", "local");
    model.save_changes();
    return module.default;
  } finally {
    URL.revokeObjectURL(url);
  }
}
"""


@cache
def _patched_esm() -> tuple[str, str]:
    """ipyaladin's front end loading Aladin Lite through ``__hcdcLoadAladin``; its version."""
    source = _WIDGET_JS.read_text()
    found = _IMPORT.search(source)
    if found is None or _INITIALIZE.search(source) is None:
        raise RuntimeError(
            f"ipyaladin's front end ({_WIDGET_JS}) has an unexpected shape; SkyView cannot add "
            "its offline loader (a newer ipyaladin?)"
        )
    cdn, version, alias = found.group(2), found.group(3), found.group(4)
    source = source.replace(found.group(0), f"var {alias};")
    source = _INITIALIZE.sub(
        lambda m: (
            f"async function {m.group(1)}({{model:{m.group(2)}}})"
            f"{{{m.group(3)}=await __hcdcLoadAladin({m.group(2)});await {m.group(3)}.init}}"
        ),
        source,
    )
    loader = _LOADER % {"cdn": f'"{cdn}"', "message": _MESSAGE}
    return loader + source, version


def aladin_lite_version() -> str:
    """The Aladin Lite version the installed ipyaladin imports."""
    return _patched_esm()[1]


def _candidates(version: str) -> list[Path]:
    paths = []
    configured = os.environ.get("HCDC_ALADIN_LITE_JS")
    if configured:
        paths.append(Path(configured))
    paths.append(Path(sys.prefix) / "share" / "hcdc" / "aladin-lite" / version / "aladin.js")
    paths.append(_cache_dir(version) / "aladin.js")
    return paths


def _cache_dir(version: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hcdc" / "aladin-lite" / version


def find_aladin_lite() -> Path | None:
    """The local Aladin Lite build (``aladin.js``), or ``None`` when none is installed."""
    return next((p for p in _candidates(aladin_lite_version()) if p.is_file()), None)


def install_aladin_lite(*, dest: Path | None = None, npm: str = "npm") -> Path:
    """Fetch the ``aladin-lite`` npm package (ipyaladin's version) and keep ``aladin.js``.

    Parameters
    ----------
    dest : path, optional
        Folder for ``aladin.js``; default ``~/.cache/hcdc/aladin-lite/<version>``.
    npm : str
        The npm executable.
    """
    version = aladin_lite_version()
    target_dir = dest or _cache_dir(version)
    executable = shutil.which(npm)
    if executable is None:
        raise FileNotFoundError(f"{npm} not found: install Node.js to fetch aladin-lite")
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(
            [executable, "pack", f"aladin-lite@{version}", "--pack-destination", work],
            check=True,
            capture_output=True,
            timeout=300,
        )
        archive = next(Path(work).glob("aladin-lite-*.tgz"))
        with tarfile.open(archive) as tar:
            member = tar.extractfile("package/dist/aladin.js")
            if member is None:
                raise FileNotFoundError(f"{archive.name} has no package/dist/aladin.js")
            target_dir.mkdir(parents=True, exist_ok=True)
            target = target_dir / "aladin.js"
            target.write_bytes(member.read())
    return target


class SkyView(Aladin):
    """An Aladin Lite view of the pointings of data files.

    Attributes (traitlets)
    ----------------------
    aladin_source : str
        ``"auto"`` (CDN, else the local build), ``"cdn"`` or ``"local"``.
    aladin_loaded_from : str
        ``"local"`` once the front end has loaded the local build.
    pointings : list of dict
        ``{"id", "ra", "dec", "title", "description"}`` of the frames shown (plain text;
        Aladin Lite's marker popups, which are HTML, get it escaped).
    """

    _esm = _patched_esm()[0]
    aladin_source = traitlets.Unicode("auto").tag(sync=True)
    aladin_loaded_from = traitlets.Unicode("").tag(sync=True)
    pointings = traitlets.List(traitlets.Dict())

    def __init__(self, *, aladin_source: str = "auto", **kwargs: Any) -> None:
        kwargs.setdefault("height", 400)
        kwargs.setdefault("fov", 1.0)
        super().__init__(**kwargs)
        self.aladin_source = aladin_source
        self.on_msg(self._on_bundle_request)

    def _on_bundle_request(self, _: Any, message: Mapping[str, Any], buffers: Any) -> None:
        if message.get("event_type") != _MESSAGE:
            return
        found = find_aladin_lite()
        if found is None:
            error = "no local Aladin Lite build: run hcdc_widgets.skyview.install_aladin_lite()"
            warnings.warn(error, RuntimeWarning, stacklevel=1)
            self.send({"event_name": _MESSAGE, "error": error})
            return
        self.send({"event_name": _MESSAGE}, buffers=[found.read_bytes()])

    def show_pointings(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Mark the pointing of each row (``coord_ra``/``coord_dec`` or ``ra``/``dec``, deg).

        Returns the number of pointings shown; the view centres on them.
        """
        pointings = []
        for row in rows:
            ra = row.get("coord_ra", row.get("ra"))
            dec = row.get("coord_dec", row.get("dec"))
            if ra is None or dec is None or _is_masked(ra) or _is_masked(dec):
                continue
            title = str(row.get("file_name") or row.get("id"))
            pointings.append(
                {
                    "id": row.get("id"),
                    "ra": float(ra),
                    "dec": float(dec),
                    "title": title,
                    "description": str(row.get("data_frame_type") or ""),
                }
            )
        self.pointings = pointings
        if not pointings:
            return 0
        self.add_markers(
            [
                Marker(f"{p['ra']} {p['dec']}", escape(p["title"]), escape(p["description"]))
                for p in pointings
            ],
            name="hcdc pointings",
            color="#ff7f0e",
        )
        self.target = _centre(pointings)
        return len(pointings)

    def follow(self, browser: Any) -> None:
        """Show the pointings of ``browser``'s current page (a DataBrowser) as it changes."""
        browser.table.observe(lambda c: self.show_pointings(c["new"]), "items")
        self.show_pointings(browser.table.items)


def _is_masked(value: Any) -> bool:
    return value is np.ma.masked


def _centre(pointings: list[dict[str, Any]]) -> str:
    """The mean direction of the pointings as ``"ra dec"`` (deg)."""
    x = y = z = 0.0
    for p in pointings:
        ra, dec = math.radians(p["ra"]), math.radians(p["dec"])
        x += math.cos(dec) * math.cos(ra)
        y += math.cos(dec) * math.sin(ra)
        z += math.sin(dec)
    ra = math.degrees(math.atan2(y, x)) % 360.0
    dec = math.degrees(math.atan2(z, math.hypot(x, y)))
    return f"{ra} {dec}"
