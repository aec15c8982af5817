"""Target identification: header names to SIMBAD identities, coordinates, types and magnitudes.

Observers type target names freely (``HD_109573``, ``BETA PIC``, ``PDS70_CEN``). hcdc first
normalises the name to SIMBAD's spelling (:func:`normalize_object_name`), then asks SIMBAD's
TAP service (Wenger et al. 2000, A&AS 143, 9) for the main identifier, ICRS position,
spectral type, parallax and Gaia G / 2MASS H, K magnitudes. Answers are cached; when SIMBAD
cannot be reached the header's own name and coordinates are used, with a
:class:`TargetResolutionWarning`, so that ingest never fails for want of the network.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import requests
from astropy.io.votable import parse_single_table
from astropy.table import Table
from pyvo.dal import DALAccessError, TAPService

SIMBAD_TAP_URL = "https://simbad.cds.unistra.fr/simbad/sim-tap"
#: Radius of the cone searched around the header coordinates when the name is unknown.
CONE_RADIUS_ARCSEC = 10.0

TargetSource = Literal["simbad", "cache", "header"]


class TargetResolutionWarning(UserWarning):
    """SIMBAD could not identify a target; header values are used instead."""


@dataclass(frozen=True)
class TargetInfo:
    """What hcdc knows about an observed star.

    ``name`` is the normalised name that was asked for; ``main_id`` SIMBAD's main identifier.
    ``simplified_sp_type`` is the temperature class letter (``'A'`` for ``'A6V'``) and
    ``luminosity_class`` the Roman numeral part (``'V'``), as HC-DC's browse filters use.
    Magnitudes: Gaia G, 2MASS H and K. ``source`` says where the values came from.
    """

    name: str
    main_id: str | None = None
    ra_deg: float | None = None
    dec_deg: float | None = None
    sp_type: str | None = None
    simplified_sp_type: str | None = None
    luminosity_class: str | None = None
    mag_g: float | None = None
    mag_h: float | None = None
    mag_k: float | None = None
    parallax_mas: float | None = None
    source: TargetSource = "header"

    @property
    def distance_pc(self) -> float | None:
        """Distance from the parallax (1000 / ϖ[mas]), None without a positive parallax."""
        if self.parallax_mas is None or self.parallax_mas <= 0:
            return None
        return 1000.0 / self.parallax_mas


class TargetCache(Protocol):
    """Where resolved targets are kept between runs (a dict, a database table...)."""

    def get(self, key: str) -> TargetInfo | None:
        """The cached answer for a normalised name, or None."""
        ...

    def put(self, key: str, info: TargetInfo) -> None:
        """Remember a SIMBAD answer under a normalised name."""
        ...


class MemoryTargetCache:
    """A :class:`TargetCache` in a dictionary (one process, e.g. a notebook session)."""

    def __init__(self) -> None:
        self._entries: dict[str, TargetInfo] = {}

    def get(self, key: str) -> TargetInfo | None:
        """The cached answer for ``key``, or None."""
        return self._entries.get(key)

    def put(self, key: str, info: TargetInfo) -> None:
        """Store ``info`` under ``key``."""
        self._entries[key] = info


# --------------------------------------------------------------------------------------------
# Name normalisation
# --------------------------------------------------------------------------------------------

#: Greek letters, SIMBAD's Bayer abbreviation first, then the spellings observers use.
_GREEK_GROUPS: tuple[tuple[str, ...], ...] = (
    ("alf", "alpha", "alp"),
    ("bet", "beta"),
    ("gam", "gamma"),
    ("del", "delta"),
    ("eps", "epsilon"),
    ("zet", "zeta"),
    ("eta",),
    ("tet", "theta", "the"),
    ("iot", "iota"),
    ("kap", "kappa"),
    ("lam", "lambda"),
    ("mu.", "mu"),
    ("nu.", "nu"),
    ("ksi", "xi"),
    ("omi", "omicron"),
    ("pi.", "pi"),
    ("rho",),
    ("sig", "sigma"),
    ("tau",),
    ("ups", "upsilon"),
    ("phi",),
    ("khi", "chi"),
    ("psi",),
    ("ome", "omega"),
)
#: Greek letters (full or abbreviated, lower case) to SIMBAD's Bayer abbreviation.
_GREEK: dict[str, str] = {alias: group[0] for group in _GREEK_GROUPS for alias in group}

# fmt: off
#: The 88 IAU constellation abbreviations, keyed by lower case.
_CONSTELLATIONS: dict[str, str] = {
    c.lower(): c
    for c in (
        "And", "Ant", "Aps", "Aqr", "Aql", "Ara", "Ari", "Aur", "Boo", "Cae", "Cam", "Cnc", "CVn",
        "CMa", "CMi", "Cap", "Car", "Cas", "Cen", "Cep", "Cet", "Cha", "Cir", "Col", "Com", "CrA",
        "CrB", "Crv", "Crt", "Cru", "Cyg", "Del", "Dor", "Dra", "Equ", "Eri", "For", "Gem", "Gru",
        "Her", "Hor", "Hya", "Hyi", "Ind", "Lac", "Leo", "LMi", "Lep", "Lib", "Lup", "Lyn", "Lyr",
        "Men", "Mic", "Mon", "Mus", "Nor", "Oct", "Oph", "Ori", "Pav", "Peg", "Per", "Phe", "Pic",
        "PsA", "Psc", "Pup", "Pyx", "Ret", "Sge", "Sgr", "Sco", "Scl", "Sct", "Ser", "Sex", "Tau",
        "Tel", "TrA", "Tri", "Tuc", "UMa", "UMi", "Vel", "Vir", "Vol", "Vul",
    )
}
# fmt: on

# fmt: off
#: Catalogue prefixes written glued to their number by observers, with SIMBAD's spelling.
_CATALOGUES: dict[str, str] = {
    c.lower(): c
    for c in (
        "HD", "HIP", "HR", "GJ", "Gl", "TYC", "PDS", "TWA", "HIC", "SAO", "LkCa", "HBC", "LHS",
        "NGC", "IC", "Ross", "Wolf", "UCAC4", "GSC", "BD", "CD", "CPD", "HII", "ROXs", "DoAr",
        "WISE", "DENIS", "Elia", "Sz",
    )
}
# fmt: on
#: Durchmusterung zones are written against their prefix: "BD+20 307", "CD-35 2722".
_ZONE_CATALOGUES = frozenset({"BD", "CD", "CPD"})

# fmt: off
#: Words that observers append to a target for a calibration sequence.
_SUFFIXES = (
    "cen", "center", "centre", "centering", "flux", "psf", "sky", "bkg", "back", "background",
    "coro", "waffle", "obj", "object", "star", "offaxis", "off-axis",
)
# fmt: on
_SUFFIX_RE = re.compile(
    r"[\s_\-.]+(" + "|".join(map(re.escape, _SUFFIXES)) + r")\s*$", re.IGNORECASE
)
_GREEK_RE = "|".join(sorted((re.escape(g) for g in _GREEK), key=len, reverse=True))
_BAYER_GLUED = re.compile(rf"^({_GREEK_RE})(\d{{0,2}})([A-Za-z]{{3}})$", re.IGNORECASE)
_GREEK_TOKEN = re.compile(rf"^({_GREEK_RE})(\d{{0,2}})$", re.IGNORECASE)
_GLUED_NUMBER = re.compile(r"^([A-Za-z]+)([+-]?\d.*)$")
_TWOMASS = re.compile(r"^2MASS\s*J?\s*(\d.*)$", re.IGNORECASE)


def _is_designation(token: str) -> bool:
    """Bayer letter or Flamsteed number, which a constellation abbreviation may follow."""
    return bool(_GREEK_TOKEN.match(token) or token.isdigit())


def _strip_suffixes(text: str) -> str:
    while True:
        match = _SUFFIX_RE.search(text)
        if match is None:
            return text
        head = text[: match.start()].strip()
        # "alf_Cen" is Alpha Centauri, not target "alf" with a centring suffix.
        if match.group(1).lower() == "cen" and (not head or _is_designation(head.split()[-1])):
            return text
        text = head


def normalize_object_name(name: str) -> str:
    """SIMBAD-style spelling of a target name as typed in a FITS header.

    Underscores and repeated blanks become one space, suffixes that tag calibration
    sequences are dropped (``_CEN``, ``-flux``, ``_sky``...), catalogue prefixes are split
    from their number and spelled as SIMBAD does (``hd109573`` → ``HD 109573``), Greek
    letters take SIMBAD's three-letter form and constellations their IAU case
    (``BETA PIC``, ``beta_Pic`` → ``bet Pic``).

    Examples
    --------
    >>> normalize_object_name("HD_109573")
    'HD 109573'
    >>> normalize_object_name("BETA PIC")
    'bet Pic'
    >>> normalize_object_name("PDS70_CEN")
    'PDS 70'
    """
    text = re.sub(r"[\s_]+", " ", name).strip()
    text = _strip_suffixes(text)
    twomass = _TWOMASS.match(text)
    if twomass:
        return f"2MASS J{twomass.group(1).replace(' ', '')}"
    tokens = text.split(" ")
    if not tokens or tokens == [""]:
        return ""
    # Glued forms: "hd109573", "betPic".
    if len(tokens) == 1:
        bayer = _BAYER_GLUED.match(tokens[0])
        if bayer and bayer.group(3).lower() in _CONSTELLATIONS:
            tokens = [bayer.group(1) + bayer.group(2), bayer.group(3)]
    glued = _GLUED_NUMBER.match(tokens[0])
    if glued and glued.group(1).lower() in _CATALOGUES:
        tokens = [glued.group(1), glued.group(2), *tokens[1:]]
    first = tokens[0].lower()
    if first in _CATALOGUES:
        tokens[0] = _CATALOGUES[first]
        if tokens[0] in _ZONE_CATALOGUES and len(tokens) > 1 and tokens[1][:1] in "+-":
            tokens[:2] = [tokens[0] + tokens[1]]
        return " ".join(tokens)
    if len(tokens) >= 2 and tokens[1].lower() in _CONSTELLATIONS:
        tokens[1] = _CONSTELLATIONS[tokens[1].lower()]
        greek = _GREEK_TOKEN.match(tokens[0])
        if greek:
            tokens[0] = _GREEK[greek.group(1).lower()] + greek.group(2)
        elif not tokens[0].isdigit():
            tokens[0] = tokens[0].upper()  # variable-star names: "AU Mic", "V4046 Sgr"
    return " ".join(tokens)


# --------------------------------------------------------------------------------------------
# Spectral types
# --------------------------------------------------------------------------------------------

_SP_CLASS = re.compile(r"^[a-z]{0,3}\s*(WD|D[ABOQZCX]?|W[NCRO]|[OBAFGKMLTY]|C|S)")
_LUMINOSITY = re.compile(
    r"(Ia\+|Iab|Ia|Ib|III|II|IV|VII|VI|V|I|0)(?:[-/](?:Iab|Ia|Ib|III|II|IV|V|I))?"
)


def simplify_spectral_type(sp_type: str | None) -> tuple[str | None, str | None]:
    """Temperature class letter and luminosity class of an MK type.

    ``'A6V'`` → ``('A', 'V')``, ``'K7IVe'`` → ``('K', 'IV')``, ``'F6IIIe'`` → ``('F', 'III')``,
    ``'A5IV-V'`` → ``('A', 'IV-V')``, ``'M1.5'`` → ``('M', None)``; white dwarfs (``DA``)
    give ``'D'``.
    """
    if not sp_type or not sp_type.strip():
        return None, None
    text = sp_type.strip()
    match = _SP_CLASS.match(text)
    if match is None:
        return None, None
    letter = match.group(1)
    simplified = "D" if letter.startswith(("D", "WD")) else letter[0]
    # Skip the subclass digits and any range ("G8/K0", "B9.5-A0") before the luminosity class.
    rest = re.sub(r"^[\d.]*(?:[-/][OBAFGKM]?[\d.]+)?", "", text[match.end() :])
    luminosity = _LUMINOSITY.match(rest.lstrip(" (:"))
    return simplified, luminosity.group(0) if luminosity else None


# --------------------------------------------------------------------------------------------
# SIMBAD TAP
# --------------------------------------------------------------------------------------------

_COLUMNS = (
    "basic.main_id, basic.ra, basic.dec, basic.sp_type, basic.plx_value, "
    'allfluxes."G", allfluxes."H", allfluxes."K"'
)


def _adql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def simbad_query_by_name(name: str) -> str:
    """ADQL for one identifier (SIMBAD's ``ident.id`` matching ignores case and blanks)."""
    return (
        f"SELECT {_COLUMNS}\n"
        "FROM basic\n"
        "JOIN ident ON ident.oidref = basic.oid\n"
        "LEFT OUTER JOIN allfluxes ON allfluxes.oidref = basic.oid\n"
        f"WHERE ident.id = {_adql_string(name)}"
    )


def simbad_query_by_position(
    ra_deg: float, dec_deg: float, *, radius_arcsec: float = CONE_RADIUS_ARCSEC
) -> str:
    """ADQL for the object nearest to a position within ``radius_arcsec``."""
    point = f"POINT('ICRS', {ra_deg:.8f}, {dec_deg:.8f})"
    return (
        f"SELECT TOP 1 {_COLUMNS},\n"
        f"  DISTANCE(POINT('ICRS', basic.ra, basic.dec), {point}) AS dist\n"
        "FROM basic\n"
        "LEFT OUTER JOIN allfluxes ON allfluxes.oidref = basic.oid\n"
        f"WHERE CONTAINS(POINT('ICRS', basic.ra, basic.dec), "
        f"CIRCLE('ICRS', {ra_deg:.8f}, {dec_deg:.8f}, {radius_arcsec / 3600.0:.8f})) = 1\n"
        "ORDER BY dist"
    )


def parse_simbad_votable(source: Path | bytes | Table) -> list[TargetInfo]:
    """Targets in a SIMBAD TAP answer to :func:`simbad_query_by_name` (VOTable or Table).

    Column names are matched case-insensitively; masked (null) values become None. ``name``
    is SIMBAD's main identifier; :meth:`SimbadResolver.resolve` replaces it by the name that
    was asked for.
    """
    if isinstance(source, Table):
        table = source
    else:
        stream: Path | io.BytesIO = io.BytesIO(source) if isinstance(source, bytes) else source
        table = parse_single_table(stream).to_table()
    columns = {name.lower(): name for name in table.colnames}

    def value(row: Any, key: str) -> Any:
        column = columns.get(key.lower())
        if column is None:
            return None
        item = row[column]
        if np.ma.is_masked(item):
            return None
        if isinstance(item, bytes):
            item = item.decode()
        if isinstance(item, np.float32):
            # SIMBAD magnitudes are REAL: keep the digits it sent, not float32 noise.
            item = float(str(item))
        return item

    def number(row: Any, key: str) -> float | None:
        item = value(row, key)
        if item is None:
            return None
        result = float(item)
        return None if np.isnan(result) else result

    def text(row: Any, key: str) -> str | None:
        item = value(row, key)
        if item is None:
            return None
        stripped = str(item).strip()
        return stripped or None

    targets = []
    for row in table:
        main_id = text(row, "main_id")
        sp_type = text(row, "sp_type")
        simplified, luminosity = simplify_spectral_type(sp_type)
        targets.append(
            TargetInfo(
                name=main_id or "",
                main_id=main_id,
                ra_deg=number(row, "ra"),
                dec_deg=number(row, "dec"),
                sp_type=sp_type,
                simplified_sp_type=simplified,
                luminosity_class=luminosity,
                mag_g=number(row, "G"),
                mag_h=number(row, "H"),
                mag_k=number(row, "K"),
                parallax_mas=number(row, "plx_value"),
                source="simbad",
            )
        )
    return targets


class _TimeoutSession(requests.Session):
    """A requests session that gives every request a timeout (pyvo's sync queries do not)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self._timeout_s = timeout_s

    def request(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout_s)
        return super().request(*args, **kwargs)


#: What a failed TAP call raises: pyvo's errors (it wraps HTTP failures), and the socket and
#: requests errors that can escape it.
_OFFLINE_ERRORS: tuple[type[BaseException], ...] = (
    DALAccessError,
    requests.RequestException,
    OSError,
    TimeoutError,
)


class SimbadResolver:
    """Resolve target names against SIMBAD's TAP service, with a cache and a header fallback.

    Parameters
    ----------
    tap_url : str
        TAP endpoint (SIMBAD's by default).
    timeout_s : float
        Timeout of each HTTP request.
    cache : TargetCache or None
        Where successful answers are kept; a cached answer costs no network call.
    run_query : callable or None
        ``ADQL -> astropy Table``; replaces the pyvo TAP call (for another TAP client, or an
        offline stand-in in tests).
    """

    def __init__(
        self,
        *,
        tap_url: str = SIMBAD_TAP_URL,
        timeout_s: float = 5.0,
        cache: TargetCache | None = None,
        run_query: Callable[[str], Table] | None = None,
    ) -> None:
        self.tap_url = tap_url
        self.timeout_s = timeout_s
        self.cache = cache
        self._run_query = run_query or self._pyvo_query

    def _pyvo_query(self, adql: str) -> Table:
        service = TAPService(self.tap_url, session=_TimeoutSession(self.timeout_s))
        return service.run_sync(adql, maxrec=10).to_table()

    def resolve(
        self, name: str, *, header_ra: float | None = None, header_dec: float | None = None
    ) -> TargetInfo:
        """Identify ``name``; never raises for network trouble.

        Order: the cache; SIMBAD by name; SIMBAD by position around the header pointing (when
        the name is unknown to SIMBAD); else the header's name and coordinates with a
        :class:`TargetResolutionWarning`. Only identifications by name are cached: a position
        match says nothing about other frames that carry the same name.
        """
        key = normalize_object_name(name)
        if self.cache is not None:
            cached = self.cache.get(key)
            if cached is not None:
                return replace(cached, name=key, source="cache")
        fallback = TargetInfo(name=key, ra_deg=header_ra, dec_deg=header_dec, source="header")
        pointing = None if header_ra is None or header_dec is None else (header_ra, header_dec)
        try:
            found = parse_simbad_votable(self._run_query(simbad_query_by_name(key))) if key else []
            by_name = bool(found)
            if not found and pointing is not None:
                found = parse_simbad_votable(self._run_query(simbad_query_by_position(*pointing)))
        except _OFFLINE_ERRORS as exc:
            warnings.warn(
                f"SIMBAD unreachable for {key!r} ({type(exc).__name__}: {exc}); "
                "using the header's name and coordinates",
                TargetResolutionWarning,
                stacklevel=2,
            )
            return fallback
        if not found:
            warnings.warn(
                f"SIMBAD does not know {key!r}; using the header's name and coordinates",
                TargetResolutionWarning,
                stacklevel=2,
            )
            return fallback
        info = replace(found[0], name=key)
        if by_name and self.cache is not None:
            self.cache.put(key, info)
        return info
