"""What an hcdc product says about itself beyond its data.

Every product header describes (as ESO pipeline products do):

* the observation, inherited from the primary header of its main input (the science cube, the
  final image...): ``OBJECT``, ``INSTRUME``, ``DATE-OBS``, ``RA``/``DEC``, the ``ESO OBS``,
  ``ESO DET`` and ``ESO INS`` keywords (:func:`inherited_cards`), so that a product is found by
  the same target, night and programme as its raw frames, and the detector set-up (DIT, NDIT,
  neutral density) travels with the data to the photometry;
* the recipe that made it, its input file names with their roles and its parameters, in the
  ESO layout with an hcdc prefix: ``HIERARCH HCDC PRO REC1 ID``, ``... VERSION``,
  ``... RAWi NAME`` / ``RAWi CATG``, ``... PARAMi NAME`` / ``PARAMi VALUE``;
* the data: ``BUNIT``, the pixel scale (``HIERARCH HCDC PIXSCALE``, arcsec/px), the star position
  (``HIERARCH HCDC STAR X`` / ``STAR Y``, 0-based pixels, and ``CRPIX1/2``, 1-based), the FWHM
  (``HIERARCH HCDC FWHM``, px), whether the star was centred (``HIERARCH HCDC CENTRED``) and a
  world coordinate system: for a derotated image (north up, east left) a gnomonic ``RA---TAN`` /
  ``DEC--TAN`` projection about the star when the pointing is known, else offsets from the star
  in arcsec (``XOFFSET``/``YOFFSET``, east to the left); for frames that were not derotated,
  offsets along the detector axes.

North is up after derotation when the angles given to the recipes are the derotation angles
(parallactic angle plus the instrument's pupil and true-north offsets, see DOMAIN.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from astropy.io import fits

__all__ = [
    "CENTRED_KEY",
    "FWHM_KEY",
    "PIXSCALE_KEY",
    "PREVIEW_KEY",
    "STAR_X_KEY",
    "STAR_Y_KEY",
    "ProductDescription",
    "inherited_cards",
    "observation_keys",
]

#: Keywords (without HIERARCH) hcdc writes on its products.
CENTRED_KEY = "HCDC CENTRED"
FWHM_KEY = "HCDC FWHM"
PIXSCALE_KEY = "HCDC PIXSCALE"
STAR_X_KEY = "HCDC STAR X"
STAR_Y_KEY = "HCDC STAR Y"
PREVIEW_KEY = "HCDC PREVIEW"

#: hcdc keywords a product keeps from its input (the others describe the input product only):
#: properties of the data that a recipe's processing leaves as they were.
_KEPT_HCDC = frozenset({"HCDC DATE-END", "HCDC PIXSCALE", "HCDC FWHM", "HCDC CENTRED"})
#: Keywords that describe the layout of an HDU, never inherited.
_STRUCTURAL = frozenset(
    {
        "SIMPLE",
        "BITPIX",
        "EXTEND",
        "BSCALE",
        "BZERO",
        "BLANK",
        "BUNIT",
        "PCOUNT",
        "GCOUNT",
        "XTENSION",
        "CHECKSUM",
        "DATASUM",
        "EXTNAME",
        "WCSAXES",
        "RADESYS",
        "RADECSYS",
        "EQUINOX",
        "LONPOLE",
        "LATPOLE",
        "",
        "COMMENT",
        "HISTORY",
    }
)
_WCS_PATTERN = re.compile(
    r"^(NAXIS\d*|CRPIX\d+|CRVAL\d+|CDELT\d+|CTYPE\d+|CUNIT\d+|CROTA\d+|"
    r"CD\d+_\d+|PC\d+_\d+|PV\d+_\d+|TFORM\d+|TTYPE\d+|TUNIT\d+|TDIM\d+)$"
)
#: Longest parameter value written as a header card (the full values are in HCDC META).
_MAX_VALUE_CHARS = 60


def _inherited(key: str) -> bool:
    name = key.upper()
    if name in _STRUCTURAL or _WCS_PATTERN.match(name):
        return False
    return not name.startswith("HCDC ") or name in _KEPT_HCDC


def inherited_cards(header: fits.Header | None) -> fits.Header:
    """The cards of an input's primary header that describe the observation.

    Everything but the HDU layout, the world coordinates and the keywords hcdc writes about a
    product itself (category, provenance, star position...), which the new product writes anew.
    """
    kept = fits.Header()
    if header is None:
        return kept
    for card in header.cards:
        if _inherited(card.keyword):
            kept.append((card.keyword, card.value, card.comment), end=True)
    return kept


def _add_mjd(header: fits.Header) -> None:
    """``MJD-OBS`` from ``DATE-OBS`` when only the latter is there (as WCS readers expect)."""
    date = header.get("DATE-OBS")
    if "MJD-OBS" in header or not isinstance(date, str):
        return
    from astropy.time import Time

    try:
        mjd = Time(date.strip().rstrip("Z"), format="isot", scale="utc").mjd
    except ValueError:
        return
    header["MJD-OBS"] = (round(float(mjd), 8), "[d] start of observation (from DATE-OBS)")


def _card_value(value: Any) -> Any:
    if isinstance(value, bool | int | float) and not isinstance(value, complex):
        return value
    text = str(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


@dataclass(frozen=True, eq=False)
class ProductDescription:
    """Observation, provenance and geometry of a product (see the module docstring).

    Attributes
    ----------
    observation : astropy.io.fits.Header
        Cards inherited from the main input (:func:`inherited_cards`).
    recipe, version : str
        The recipe that made the product.
    inputs : tuple of (name, role)
        Input file names and their roles.
    params : Mapping
        Recipe parameters (as resolved).
    bunit : str or None
        Unit of the data (``BUNIT``); None writes no ``BUNIT`` (tables).
    pixscale : float or None
        Pixel scale (arcsec/px).
    star_xy : (x, y) or None
        Star position in 0-based pixels.
    north_up : bool
        The image is derotated: north up, east left.
    fwhm : float or None
        PSF FWHM (px).
    centred : bool or None
        Whether the star sits on the frame centre of hcdc's convention (recentred frames).
    preview : str or None
        File name of the PNG preview written beside the product.
    """

    observation: fits.Header = field(default_factory=fits.Header)
    recipe: str = ""
    version: str = ""
    inputs: tuple[tuple[str, str], ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    bunit: str | None = None
    pixscale: float | None = None
    star_xy: tuple[float, float] | None = None
    north_up: bool = False
    fwhm: float | None = None
    centred: bool | None = None
    preview: str | None = None

    def cards(self, *, naxis: int = 2) -> fits.Header:
        """The header cards of the description for data of ``naxis`` axes (0: a table)."""
        header = fits.Header()
        header.extend(self.observation, unique=True)
        if self.bunit is not None and naxis > 0:
            header["BUNIT"] = (self.bunit, "unit of the data")
        self._provenance(header)
        if self.pixscale is not None:
            header[f"HIERARCH {PIXSCALE_KEY}"] = (float(self.pixscale), "[arcsec/px] pixel scale")
        if self.fwhm is not None and self.fwhm > 0:
            header[f"HIERARCH {FWHM_KEY}"] = (float(self.fwhm), "[px] PSF FWHM")
        if self.centred is not None:
            header[f"HIERARCH {CENTRED_KEY}"] = (
                bool(self.centred),
                "star on the frame centre (ny // 2, nx // 2)",
            )
        if self.star_xy is not None:
            header[f"HIERARCH {STAR_X_KEY}"] = (float(self.star_xy[0]), "[px] star x, 0-based")
            header[f"HIERARCH {STAR_Y_KEY}"] = (float(self.star_xy[1]), "[px] star y, 0-based")
        if self.preview:
            header[f"HIERARCH {PREVIEW_KEY}"] = (self.preview, "PNG preview beside this file")
        if naxis >= 2:
            self._wcs(header, naxis)
        return header

    def _provenance(self, header: fits.Header) -> None:
        if not self.recipe:
            return
        header["HIERARCH HCDC PRO REC1 ID"] = (self.recipe, "recipe that made this product")
        if self.version:
            header["HIERARCH HCDC PRO REC1 VERSION"] = (self.version, "recipe version")
        for index, (name, role) in enumerate(self.inputs, start=1):
            header[f"HIERARCH HCDC PRO REC1 RAW{index} NAME"] = _card_value(name)
            header[f"HIERARCH HCDC PRO REC1 RAW{index} CATG"] = role
        for index, (name, value) in enumerate(sorted(self.params.items()), start=1):
            header[f"HIERARCH HCDC PRO REC1 PARAM{index} NAME"] = str(name)
            header[f"HIERARCH HCDC PRO REC1 PARAM{index} VALUE"] = _card_value(value)

    def _wcs(self, header: fits.Header, naxis: int) -> None:
        if self.pixscale is None or self.star_xy is None:
            return
        scale_deg = float(self.pixscale) / 3600.0
        header["WCSAXES"] = (2, "world coordinates of the image axes")
        _add_mjd(header)
        header["CRPIX1"] = (float(self.star_xy[0]) + 1.0, "star x, 1-based")
        header["CRPIX2"] = (float(self.star_xy[1]) + 1.0, "star y, 1-based")
        ra, dec = self.observation.get("RA"), self.observation.get("DEC")
        celestial = self.north_up and isinstance(ra, int | float) and isinstance(dec, int | float)
        if celestial:
            header["CTYPE1"] = ("RA---TAN", "gnomonic projection about the star")
            header["CTYPE2"] = ("DEC--TAN", "gnomonic projection about the star")
            header["CUNIT1"], header["CUNIT2"] = "deg", "deg"
            header["CRVAL1"] = (float(ra), "[deg] RA of the star (pointing)")
            header["CRVAL2"] = (float(dec), "[deg] Dec of the star (pointing)")
            header["CD1_1"] = (-scale_deg, "north up, east left")
            header["CD1_2"] = 0.0
            header["CD2_1"] = 0.0
            header["CD2_2"] = (scale_deg, "north up, east left")
            header["RADESYS"] = "ICRS"
            return
        header["CTYPE1"] = ("XOFFSET", "offset from the star")
        header["CTYPE2"] = ("YOFFSET", "offset from the star")
        header["CUNIT1"], header["CUNIT2"] = "arcsec", "arcsec"
        header["CRVAL1"], header["CRVAL2"] = 0.0, 0.0
        sign = -1.0 if self.north_up else 1.0
        comment = "east left" if self.north_up else "detector axes (frames not derotated)"
        header["CDELT1"] = (sign * float(self.pixscale), comment)
        header["CDELT2"] = (float(self.pixscale), comment)

    def replace(self, **changes: Any) -> ProductDescription:
        """A copy with some fields changed."""
        from dataclasses import replace

        return replace(self, **changes)


def observation_keys(headers: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``OBJECT``, ``INSTRUME``, ``DATE-OBS``, ``MJD-OBS`` and the ``ESO OBS`` keys, first found."""
    wanted = (
        "OBJECT",
        "INSTRUME",
        "TELESCOP",
        "DATE-OBS",
        "MJD-OBS",
        "RA",
        "DEC",
        "ESO OBS PROG ID",
        "ESO OBS ID",
        "ESO OBS TARG NAME",
    )
    found: dict[str, Any] = {}
    for header in headers:
        for key in wanted:
            value = header.get(key) if key in header else None
            if key not in found and isinstance(value, str | int | float):
                found[key] = value
    return found
