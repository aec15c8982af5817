"""IRDIS filter combinations: the wavelength of each field and neutral-density transmissions.

IRDIS images two fields side by side (Dohlen et al. 2008, SPIE 7014). In dual-band imaging
(DBI, ``INS COMB IFLT = DB_*``) each field sees its own filter of the pair (Vigan et al. 2010,
MNRAS 407, 71): left field first, e.g. ``DB_H23`` puts H2 on the left and H3 on the right. In
classical imaging (``BB_*``, ``NB_*``) both fields see the same filter.

Central wavelengths of the dual-band filters are those of the ESO SPHERE User Manual; the
``vlt-sphere`` package (Vigan 2020, ascl:2009.002) tabulates values rounded to a few nm (e.g.
1593/1667 nm for ``DB_H23``), and the centroids of its transmission curves agree with the
values here within 3 nm. Broad- and narrow-band values and all bandwidths are vlt-sphere's.

Neutral densities (``INS4 FILT2 NAME``, in SPHERE's common path) are characterised by measured
transmission curves (vlt-sphere's ``SPHERE_CPI_ND.txt``, 2015); the ``"measured"`` values below
are those curves integrated over each field's filter (filter × ND over filter alone, as
vlt-sphere's ``irdis_nd`` does). ``"nominal"`` is 10⁻ᴺᴰ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "IRDIS_PIXEL_SCALE_MAS",
    "ND_FILTERS",
    "VLT_DIAMETER_M",
    "FilterChannel",
    "NdModel",
    "filter_channels",
    "lambda_over_d_px",
    "nd_transmission",
]

#: IRDIS plate scale (Maire et al. 2016, SPIE 9908), mas per pixel.
IRDIS_PIXEL_SCALE_MAS = 12.25
#: VLT primary mirror diameter, metres.
VLT_DIAMETER_M = 8.2

NdModel = Literal["measured", "nominal"]


@dataclass(frozen=True)
class FilterChannel:
    """One IRDIS field's filter: name, central wavelength and bandwidth (µm)."""

    name: str
    wavelength_um: float
    bandwidth_um: float


def _pair(
    left: tuple[str, float, float], right: tuple[str, float, float]
) -> tuple[FilterChannel, FilterChannel]:
    return FilterChannel(*left), FilterChannel(*right)


def _same(name: str, wavelength_um: float, bandwidth_um: float) -> tuple[FilterChannel, ...]:
    channel = FilterChannel(name, wavelength_um, bandwidth_um)
    return channel, channel


#: ``INS COMB IFLT`` -> (left field, right field).
_COMBINATIONS: dict[str, tuple[FilterChannel, ...]] = {
    "DB_Y23": _pair(("Y2", 1.0258, 0.049), ("Y3", 1.0802, 0.050)),
    "DB_J23": _pair(("J2", 1.1895, 0.042), ("J3", 1.2698, 0.046)),
    "DB_H23": _pair(("H2", 1.5888, 0.052), ("H3", 1.6671, 0.054)),
    "DB_NDH23": _pair(("H2", 1.5888, 0.052), ("H3", 1.6671, 0.054)),
    "DB_H34": _pair(("H3", 1.6671, 0.054), ("H4", 1.7356, 0.057)),
    "DB_K12": _pair(("K1", 2.1025, 0.102), ("K2", 2.2550, 0.109)),
    "BB_Y": _same("Y", 1.043, 0.140),
    "BB_J": _same("J", 1.245, 0.240),
    "BB_H": _same("H", 1.625, 0.290),
    "BB_Ks": _same("Ks", 2.182, 0.300),
    "NB_BrG": _same("BrG", 2.170, 0.031),
    "NB_CO": _same("CO", 2.290, 0.033),
    "NB_CntH": _same("CntH", 1.573, 0.023),
    "NB_CntJ": _same("CntJ", 1.213, 0.017),
    "NB_CntK1": _same("CntK1", 2.091, 0.034),
    "NB_CntK2": _same("CntK2", 2.266, 0.032),
    "NB_FeII": _same("FeII", 1.642, 0.024),
    "NB_H2": _same("H2", 2.124, 0.031),
    "NB_HeI": _same("HeI", 1.085, 0.014),
    "NB_PaB": _same("PaB", 1.283, 0.018),
}

#: Neutral densities of SPHERE's common path.
ND_FILTERS = ("OPEN", "ND_1.0", "ND_2.0", "ND_3.5")

#: Measured transmission of ND_1.0, ND_2.0, ND_3.5 per filter combination, (left, right).
_ND_MEASURED: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "DB_Y23": ((0.09816, 0.07778), (0.008637, 0.005324), (3.02e-4, 1.33e-4)),
    "DB_J23": ((0.06171, 0.06111), (0.003281, 0.003207), (6.0e-5, 5.7e-5)),
    "DB_H23": ((0.1144, 0.1394), (0.01184, 0.01781), (5.23e-4, 1.047e-3)),
    "DB_NDH23": ((0.1144, 0.1394), (0.01185, 0.01782), (5.24e-4, 1.048e-3)),
    "DB_H34": ((0.1390, 0.1564), (0.01770, 0.02262), (1.036e-3, 1.568e-3)),
    "DB_K12": ((0.1489, 0.1403), (0.02217, 0.02221), (1.399e-3, 1.448e-3)),
    "BB_Y": ((0.09380,) * 2, (0.008153,) * 2, (2.98e-4,) * 2),
    "BB_J": ((0.06273,) * 2, (0.003374,) * 2, (6.1e-5,) * 2),
    "BB_H": ((0.1259,) * 2, (0.01503,) * 2, (8.51e-4,) * 2),
    "BB_Ks": ((0.1449,) * 2, (0.02243,) * 2, (1.432e-3,) * 2),
    "NB_BrG": ((0.1431,) * 2, (0.02152,) * 2, (1.348e-3,) * 2),
    "NB_CO": ((0.1421,) * 2, (0.02340,) * 2, (1.548e-3,) * 2),
    "NB_CntH": ((0.1102,) * 2, (0.01094,) * 2, (4.55e-4,) * 2),
    "NB_CntJ": ((0.06057,) * 2, (0.003131,) * 2, (5.4e-5,) * 2),
    "NB_CntK1": ((0.1496,) * 2, (0.02221,) * 2, (1.408e-3,) * 2),
    "NB_CntK2": ((0.1399,) * 2, (0.02227,) * 2, (1.462e-3,) * 2),
    "NB_FeII": ((0.1320,) * 2, (0.01590,) * 2, (8.62e-4,) * 2),
    "NB_H2": ((0.1475,) * 2, (0.02201,) * 2, (1.371e-3,) * 2),
    "NB_HeI": ((0.07512,) * 2, (0.004930,) * 2, (1.15e-4,) * 2),
    "NB_PaB": ((0.06138,) * 2, (0.003211,) * 2, (5.6e-5,) * 2),
}


def filter_channels(combination: str) -> tuple[FilterChannel, FilterChannel]:
    """The filters of the left and right IRDIS fields for ``INS COMB IFLT``.

    Parameters
    ----------
    combination : str
        Filter combination, e.g. ``"DB_H23"``, ``"DB_K12"``, ``"BB_H"``.

    Returns
    -------
    (FilterChannel, FilterChannel)
        Left field first.

    Raises
    ------
    ValueError
        For a combination hcdc does not know, listing those it does.
    """
    channels = _COMBINATIONS.get(combination.strip())
    if channels is None:
        known = ", ".join(sorted(_COMBINATIONS))
        raise ValueError(f"unknown IRDIS filter combination {combination!r}; known: {known}")
    left, right = channels
    return left, right


def nd_transmission(
    nd_filter: str, combination: str, *, model: NdModel = "measured"
) -> tuple[float, float]:
    """Transmission of a SPHERE neutral density in the left and right IRDIS fields.

    Parameters
    ----------
    nd_filter : str
        ``INS4 FILT2 NAME``: ``"OPEN"``, ``"ND_1.0"``, ``"ND_2.0"`` or ``"ND_3.5"``.
    combination : str
        ``INS COMB IFLT``.
    model : {"measured", "nominal"}
        The measured curves integrated over each field's filter, or 10⁻ᴺᴰ.

    Returns
    -------
    (float, float)
        Left and right field transmissions.
    """
    name = nd_filter.strip()
    if name not in ND_FILTERS:
        raise ValueError(f"unknown neutral density {nd_filter!r}; known: {', '.join(ND_FILTERS)}")
    filter_channels(combination)  # validates the combination
    if name == "OPEN":
        return 1.0, 1.0
    if model == "nominal":
        value = 10.0 ** -float(name[3:])
        return value, value
    if model != "measured":
        raise ValueError(f"unknown ND model {model!r}; use 'measured' or 'nominal'")
    left, right = _ND_MEASURED[combination.strip()][ND_FILTERS.index(name) - 1]
    return left, right


def lambda_over_d_px(
    wavelength_um: float,
    *,
    pixel_scale_mas: float = IRDIS_PIXEL_SCALE_MAS,
    diameter_m: float = VLT_DIAMETER_M,
) -> float:
    """λ/D in detector pixels."""
    return wavelength_um * 1e-6 / diameter_m * (180.0 / math.pi * 3.6e6) / pixel_scale_mas
