"""Standard stars: frames of photometric or polarimetric standards, told from the header.

ESO marks a standard-star observation in ``DPR TYPE`` (``STD``, ``STD,FLUX``, ...); frames
taken by hand often say it only in ``OBJECT``, as ``STD ...`` or by the name of a standard from
the near-infrared catalogues SPHERE and NACO calibrate with: the UKIRT faint standards
(``FS 1``...; Hawarden et al. 2001) and the Persson et al. (1998) standards (``S234-E``,
``P545-C``...).
"""

from __future__ import annotations

import re

#: OBJECT names of standard stars, matched on the upper-case name.
_STANDARD_OBJECTS = (
    re.compile(r"^(STD|STANDARD)([\s_:,.-]|$)"),
    re.compile(r"^FS\s*\d{1,3}$"),
    re.compile(r"^[SP]\d{3}-[A-Z]$"),
)


def is_standard_star(dpr_type: str | None, object_name: str | None) -> bool:
    """Whether a frame observes a standard star.

    Parameters
    ----------
    dpr_type : str or None
        ``HIERARCH ESO DPR TYPE``; any of its comma-separated words starting with ``STD``
        marks a standard.
    object_name : str or None
        ``OBJECT``, matched against the standard-star names above.
    """
    if dpr_type and any(word.strip().upper().startswith("STD") for word in dpr_type.split(",")):
        return True
    name = (object_name or "").strip().upper()
    return bool(name) and any(pattern.match(name) for pattern in _STANDARD_OBJECTS)
