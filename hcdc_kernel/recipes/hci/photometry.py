"""The star's flux for contrasts: from the user, or from the flux frames and their set-up.

A contrast is a companion's flux over the star's, both in the units of the science frames and
in the same aperture (one FWHM in diameter, as vip-hci's ``starphot``). The off-axis PSF (flux
frames) shows the star, but usually with a shorter integration and often through a neutral
density filter, so its flux is scaled to the science frames (Mawet et al. 2014; the SPHERE
consortium's pipeline does the same):

    starphot = F_psf * (DIT_sci / DIT_psf) * (T_sci / T_psf)

with F_psf the PSF's flux in a 1xFWHM aperture, DIT the integration of one frame (one plane of
a cube, ESO's ``DET SEQ1 DIT`` or ``DET DIT``; else ``EXPTIME / NDIT``, as ESO's ``EXPTIME``
covers the NDIT sub-integrations of a file, whose planes are single DITs or their mean) and T
the transmission of a neutral density filter named ``ND_<density>`` (``10**-density``) in an
``INS`` filter or optics keyword.

:func:`resolve_star_flux` takes, in this order: the ``starphot`` parameter; the PSF times the
``exposure_ratio`` parameter; the PSF scaled by the headers of the PSF and science inputs. With
none of them it refuses, rather than dividing by the flux of a PSF that may well be normalised
(a distributed PSF often is) and publishing contrasts off by orders of magnitude.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from numpy.typing import NDArray

from hcdc_kernel.hci.fakes import psf_aperture_flux
from hcdc_kernel.recipes.hci.base import RecipeError, RecipeRun
from hcdc_kernel.recipes.spec import ParamSpec

__all__ = [
    "EXPOSURE_RATIO_PARAM",
    "STARPHOT_PARAM",
    "Exposure",
    "StarFlux",
    "exposure_of",
    "resolve_star_flux",
]

STARPHOT_PARAM = ParamSpec(
    "starphot",
    "float",
    0.0,
    "Star flux in a 1xFWHM-diameter aperture, in science-frame units; 0 = the PSF scaled by "
    "exposure_ratio or by the DIT and neutral density of the PSF and science headers.",
    minimum=0.0,
)
EXPOSURE_RATIO_PARAM = ParamSpec(
    "exposure_ratio",
    "float",
    0.0,
    "Science over PSF exposure (DIT ratio over ND transmission ratio); 0 = from the headers.",
    minimum=0.0,
)

_DIT_KEYS = ("ESO DET SEQ1 DIT", "ESO DET DIT")
_ND_KEY = re.compile(r"^ESO INS\d* (FILT|OPTI|ND)\d* (NAME|ID)$")
_ND_NAME = re.compile(r"^ND[_\- ]?(\d+(?:\.\d+)?)$", re.IGNORECASE)
_ND_PREFIX = re.compile(r"^ND(?:[_\- ]|\d|$)", re.IGNORECASE)


@dataclass(frozen=True)
class Exposure:
    """The integration and neutral density of one frame, from its header.

    Attributes
    ----------
    dit : float or None
        Integration time of one frame (s).
    transmission : float
        Neutral density transmission (1 without one).
    note : str
        Where the values came from.
    """

    dit: float | None
    transmission: float
    note: str


@dataclass(frozen=True)
class StarFlux:
    """The star's flux in a 1xFWHM-diameter aperture, in science-frame units.

    Attributes
    ----------
    value : float
        The flux.
    source : str
        ``"parameter"`` (starphot), ``"psf_ratio"`` (PSF times the exposure_ratio
        parameter) or ``"flux_frames"`` (PSF scaled by the headers).
    exposure_ratio : float
        The factor applied to the PSF's flux (1 for a given starphot).
    detail : str
        How it was obtained, for the log and the product metadata.
    """

    value: float
    source: str
    exposure_ratio: float
    detail: str


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if np.isfinite(number) and number > 0 else None


def exposure_of(header: fits.Header) -> Exposure:
    """The :class:`Exposure` of a frame's header.

    Raises
    ------
    RecipeError
        For a neutral density filter whose density its name does not give.
    """
    dit, note = None, ""
    for key in _DIT_KEYS:
        dit = _number(header.get(key)) if key in header else None
        if dit is not None:
            note = f"{key}={dit:g}"
            break
    if dit is None and "EXPTIME" in header:
        exptime = _number(header.get("EXPTIME"))
        ndit = _number(header.get("ESO DET NDIT")) if "ESO DET NDIT" in header else None
        if exptime is not None:
            dit = exptime / ndit if ndit else exptime
            note = f"EXPTIME={exptime:g}" + (f"/NDIT={ndit:g}" if ndit else "")
    transmission = 1.0
    for card in header.cards:
        if not _ND_KEY.match(card.keyword) or not isinstance(card.value, str):
            continue
        name = card.value.strip()
        match = _ND_NAME.match(name)
        if match:
            transmission *= 10.0 ** -float(match.group(1))
            note += f", {card.keyword}={name} (T={transmission:.3g})"
        elif _ND_PREFIX.match(name):
            raise RecipeError(
                f"the neutral density filter {name!r} ({card.keyword}) has no density in its "
                "name: give the exposure_ratio or starphot parameter"
            )
    return Exposure(dit=dit, transmission=transmission, note=note.lstrip(", "))


def resolve_star_flux(run: RecipeRun, psf: NDArray[np.float64], *, fwhm: float) -> StarFlux:
    """The star's flux for ``run`` (see the module docstring).

    Raises
    ------
    RecipeError
        When neither the parameters nor the headers give it.
    """
    given = float(run.params.get("starphot", 0.0))
    if given > 0:
        return StarFlux(given, "parameter", 1.0, f"starphot parameter: {given:.6g}")
    measured = psf_aperture_flux(psf, fwhm=fwhm)
    ratio = float(run.params.get("exposure_ratio", 0.0))
    if ratio > 0:
        return StarFlux(
            measured * ratio,
            "psf_ratio",
            ratio,
            f"PSF flux {measured:.6g} x exposure_ratio parameter {ratio:g}",
        )
    psf_files = run.inputs.of_role("PSF")
    science_files = run.inputs.of_role("SCIENCE")
    if psf_files and science_files:
        psf_setup = exposure_of(psf_files[0].header)
        science_setup = exposure_of(science_files[0].header)
        if psf_setup.dit is not None and science_setup.dit is not None:
            ratio = (science_setup.dit / psf_setup.dit) * (
                science_setup.transmission / psf_setup.transmission
            )
            return StarFlux(
                measured * ratio,
                "flux_frames",
                ratio,
                f"PSF flux {measured:.6g} x {ratio:.6g} (science {science_setup.note}; "
                f"PSF {psf_setup.note})",
            )
        missing = [
            name
            for name, setup in (("PSF", psf_setup), ("science", science_setup))
            if setup.dit is None
        ]
        why = f"the {' and '.join(missing)} input(s) give no integration time (DIT or EXPTIME)"
    else:
        why = "no PSF and science headers to compare"
    raise RecipeError(
        f"the star flux is unknown: {why}, so the PSF cannot be scaled to the science frames "
        "(a distributed PSF is often normalised). Give starphot (the star's flux in a "
        "1xFWHM-diameter aperture, in science-frame units), or exposure_ratio (science over "
        "PSF exposure, neutral density included), or flux frames whose headers carry DIT "
        "like the science frames'"
    )
