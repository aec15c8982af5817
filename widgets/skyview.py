"""SkyView: the pointings of browsed frames on the sky (ipyaladin), working offline.

ipyaladin imports Aladin Lite from a CDN (esm.sh); hcdc pages must work without one. SkyView
ships the ``aladin-lite`` npm build (``static/aladin-lite/``, the version ipyaladin imports) and
its front end asks the kernel for it, which sends it as a binary buffer, imported from a blob
URL. ``$HCDC_ALADIN_LITE_JS`` overrides the build; ``aladin_source="cdn"`` uses the CDN instead.
Sky survey tiles come from the CDS: when the browser cannot reach them, the view says so in
plain words and still draws the pointings.
"""

from __future__ import annotations

import json
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
from typing import Any, cast

import numpy as np
import traitlets
from ipyaladin import Aladin, Marker

from hcdc_widgets.markup import escape

__all__ = ["SkyView", "aladin_lite_version", "find_aladin_lite", "install_aladin_lite"]

_WIDGET_JS = Path(sys.modules[Aladin.__module__].__file__ or "").parent / "static" / "widget.js"
_IMPORT = re.compile(r'import (\w+) ?from ?"(https://[^"]*aladin-lite@([^"/]+))";var (\w+)=\1;')
_INITIALIZE = re.compile(r"async function (\w+)\(\{model:(\w+)\}\)\{await (\w+)\.init\}")
# Minified names may hold "$".
_EXPORT = re.compile(
    r"var ([\w$]+)=\{initialize:([\w$]+),render:([\w$]+)\};export\{\1 as default\};"
)
_SHIPPED = Path(__file__).resolve().parent / "static" / "aladin-lite"
# A small file of the default survey (DSS colour, Aladin Lite's first image layer).
SURVEY_PROBE_URL = "https://alasky.cds.unistra.fr/DSS/DSSColor/properties"
OFFLINE_NOTICE = (
    "Sky survey images cannot be reached from this browser (offline or blocked): "
    "the background stays blank; the pointings are drawn."
)

_LOADER = """
const __hcdcCdn = %(cdn)s;
const __hcdcSurveyProbe = %(probe)s;
function __hcdcTimeout(ms) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error("CDN timeout")), ms));
}
async function __hcdcProbeSurvey(model, notice) {
  // The default survey's tiles come from the CDS; a browser that cannot reach them draws a
  // blank background, which users mistake for "no data" unless told.
  try {
    await Promise.race([
      fetch(__hcdcSurveyProbe, {mode: "no-cors", cache: "no-store"}),
      __hcdcTimeout(6000),
    ]);
    model.set("survey_status", "reachable");
  } catch (error) {
    notice.textContent = %(offline)s;
    notice.style.display = "block";
    model.set("survey_status", "unreachable");
  }
  model.save_changes();
}
function __hcdcRender(render) {
  return (args) => {
    const cleanup = render(args);
    const notice = document.createElement("div");
    notice.className = "hcdc-sky-notice";
    notice.setAttribute("role", "status");
    notice.style.cssText = "display:none;padding:4px 8px;font:13px sans-serif;" +
      "background:#fff3cd;color:#664d03;border:1px solid #ffecb5";
    args.el.appendChild(notice);
    __hcdcProbeSurvey(args.model, notice);
    return cleanup;
  };
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
  // The build comes with the widget's state (a binary trait): a custom message sent back by
  // the kernel while the model initialises never reaches it in Voila.
  const bundle = model.get("_aladin_bundle");
  if (!bundle || bundle.byteLength === 0) {
    throw new Error(model.get("_aladin_bundle_error") || "no local Aladin Lite build");
  }
  const bytes = bundle.buffer
    ? bundle.buffer.slice(bundle.byteOffset, bundle.byteOffset + bundle.byteLength)
    : bundle;
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
    if found is None or _INITIALIZE.search(source) is None or _EXPORT.search(source) is None:
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
    source = _EXPORT.sub(
        lambda m: (
            f"var {m.group(1)}={{initialize:{m.group(2)},render:__hcdcRender({m.group(3)})}};"
            f"export{{{m.group(1)} as default}};"
        ),
        source,
    )
    loader = _LOADER % {
        "cdn": json.dumps(cdn),
        "probe": json.dumps(SURVEY_PROBE_URL),
        "offline": json.dumps(OFFLINE_NOTICE),
    }
    return loader + source, version


def aladin_lite_version() -> str:
    """The Aladin Lite version the installed ipyaladin imports."""
    return _patched_esm()[1]


def _candidates(version: str) -> list[Path]:
    paths = []
    configured = os.environ.get("HCDC_ALADIN_LITE_JS")
    if configured:
        paths.append(Path(configured))
    if shipped_aladin_lite_version() == version:
        paths.append(_SHIPPED / "aladin.js")
    paths.append(Path(sys.prefix) / "share" / "hcdc" / "aladin-lite" / version / "aladin.js")
    paths.append(_cache_dir(version) / "aladin.js")
    return paths


def shipped_aladin_lite_version() -> str | None:
    """The version of the Aladin Lite build shipped with hcdc, or ``None`` if absent."""
    version_file = _SHIPPED / "VERSION"
    if not (version_file.is_file() and (_SHIPPED / "aladin.js").is_file()):
        return None
    return version_file.read_text().strip()


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
        ``"local"`` (default: the build shipped with hcdc, sent by the kernel), ``"auto"``
        (CDN, else the local build) or ``"cdn"``.
    aladin_loaded_from : str
        ``"local"`` once the front end has loaded the local build.
    survey_status : str
        ``"reachable"`` or ``"unreachable"`` once the browser has tried the survey server
        (``""`` before); unreachable also shows a notice over the view.
    pointings : list of dict
        ``{"id", "ra", "dec", "title", "description"}`` of the frames shown (plain text;
        Aladin Lite's marker popups, which are HTML, get it escaped).
    """

    _esm = _patched_esm()[0]
    aladin_source = traitlets.Unicode("local").tag(sync=True)
    aladin_loaded_from = traitlets.Unicode("").tag(sync=True)
    survey_status = traitlets.Unicode("").tag(sync=True)
    _aladin_bundle = traitlets.Bytes(b"").tag(sync=True)
    _aladin_bundle_error = traitlets.Unicode("").tag(sync=True)
    pointings = traitlets.List(traitlets.Dict())

    def __init__(self, *, aladin_source: str = "local", **kwargs: Any) -> None:
        kwargs.setdefault("height", 400)
        kwargs.setdefault("fov", 1.0)
        super().__init__(**kwargs)
        self.aladin_source = aladin_source
        if aladin_source == "local":  # the default does not fire the observer
            self._attach_bundle({"new": aladin_source})

    @traitlets.observe("aladin_source")
    def _attach_bundle(self, change: Mapping[str, Any]) -> None:
        if change["new"] == "cdn":
            self._aladin_bundle = b""
            return
        found = find_aladin_lite()
        if found is None:
            error = (
                "no local Aladin Lite build: reinstall hcdc, or run "
                "hcdc_widgets.skyview.install_aladin_lite()"
            )
            warnings.warn(error, RuntimeWarning, stacklevel=2)
            self._aladin_bundle_error = error
            self._aladin_bundle = b""
            return
        self._aladin_bundle = found.read_bytes()

    def show_pointings(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Mark the pointing of each row (``coord_ra``/``coord_dec`` or ``ra``/``dec``, deg).

        Returns the number of pointings shown; the view centres on them.
        """
        pointings: list[dict[str, Any]] = []
        for row in rows:
            ra = row.get("coord_ra", row.get("ra", row.get("s_ra")))
            dec = row.get("coord_dec", row.get("dec", row.get("s_dec")))
            if ra is None or dec is None or _is_masked(ra) or _is_masked(dec):
                continue
            title = str(row.get("file_name") or row.get("obs_publisher_did") or row.get("id"))
            pointings.append(
                {
                    "id": row.get("id"),
                    "ra": float(ra),
                    "dec": float(dec),
                    "title": title,
                    "description": str(
                        row.get("data_frame_type") or row.get("dataproduct_type") or ""
                    ),
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
        centre = _centre(pointings)
        self.target = f"{centre[0]} {centre[1]}"
        # Zoom out far enough to show every pointing (Aladin Lite caps the field at 180 deg).
        spread = max(_separation(centre, (p["ra"], p["dec"])) for p in pointings)
        field = cast(Any, self).fov  # an astropy Angle (ipyaladin's property is untyped)
        if 2.5 * spread > field.deg:
            self.fov = min(180.0, 2.5 * spread)
        return len(pointings)

    def show_vo(self, tap_url: str, *, where: str = "calib_level = 1", limit: int = 2000) -> int:
        """Mark the positions published in a VO archive's ObsCore table (``ivoa.obscore``).

        ``where`` is an ADQL condition (default: raw frames); at most ``limit`` rows. Returns
        the number of positions shown.
        """
        import pyvo

        adql = (
            f"SELECT TOP {int(limit)} obs_publisher_did, dataproduct_type, s_ra, s_dec "
            f"FROM ivoa.obscore WHERE s_ra IS NOT NULL AND ({where})"
        )
        table = pyvo.dal.TAPService(tap_url).run_sync(adql).to_table()
        rows = [{name: row[name] for name in table.colnames} for row in table]
        return self.show_pointings(rows)

    def follow(self, browser: Any) -> None:
        """Show the pointings of ``browser``'s current page (a DataBrowser) as it changes."""
        browser.table.observe(lambda c: self.show_pointings(c["new"]), "items")
        self.show_pointings(browser.table.items)


def _is_masked(value: Any) -> bool:
    return value is np.ma.masked


def _separation(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Angular distance (deg) between two (ra, dec) directions in degrees."""
    ra1, dec1, ra2, dec2 = map(math.radians, (*a, *b))
    cos = math.sin(dec1) * math.sin(dec2) + math.cos(dec1) * math.cos(dec2) * math.cos(ra1 - ra2)
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def _centre(pointings: list[dict[str, Any]]) -> tuple[float, float]:
    """The mean direction of the pointings, (ra, dec) in degrees."""
    x = y = z = 0.0
    for p in pointings:
        ra, dec = math.radians(p["ra"]), math.radians(p["dec"])
        x += math.cos(dec) * math.cos(ra)
        y += math.cos(dec) * math.sin(ra)
        z += math.sin(dec)
    ra = math.degrees(math.atan2(y, x)) % 360.0
    dec = math.degrees(math.atan2(z, math.hypot(x, y)))
    return ra, dec


def _ship() -> None:
    """Refresh the build shipped in ``static/aladin-lite`` from the npm registry."""
    target = install_aladin_lite(dest=_SHIPPED)
    (_SHIPPED / "VERSION").write_text(aladin_lite_version() + "\n")
    print(f"{target} ({target.stat().st_size} bytes), aladin-lite {aladin_lite_version()}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--ship"]:
        raise SystemExit("usage: python -m hcdc_widgets.skyview --ship")
    _ship()
