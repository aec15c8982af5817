"""The conditions file a job receives (``HCDC_CONDITIONS``): time series as FITS tables.

Jobs never read the database (DESIGN.md), so the dispatcher writes the conditions of the
night into the job directory and hands the file over as an input with the SOF tag
``CONDITIONS``; ``hcdc recipe run`` takes the same file. One binary table per series, named
``<SOURCE>_<PARAMETER>``, with columns ``TIME`` (unix s, UTC) and ``VALUE`` (hcdc's unit).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from astropy.io import fits

from hcdc_kernel.conditions.parameters import UNITS, ConditionParameter, ConditionSource
from hcdc_kernel.conditions.series import ConditionSeries

__all__ = [
    "CONDITIONS_CATEGORY",
    "CONDITIONS_FILE",
    "CONDITIONS_TAG",
    "read_conditions_file",
    "write_conditions_file",
]

CONDITIONS_CATEGORY = "HCDC_CONDITIONS"
CONDITIONS_TAG = "CONDITIONS"
#: Its name in a job directory.
CONDITIONS_FILE = "conditions.fits"


def write_conditions_file(path: Path, series: Iterable[ConditionSeries]) -> Path:
    """Write the series to ``path`` (overwritten); return it."""
    primary = fits.PrimaryHDU()
    primary.header["HIERARCH HCDC PRO CATG"] = CONDITIONS_CATEGORY
    hdus: list[fits.hdu.base.ExtensionHDU] = []
    for item in series:
        columns = [
            fits.Column("TIME", "D", unit="s", array=item.times),
            fits.Column("VALUE", "D", unit=UNITS[item.parameter] or None, array=item.values),
        ]
        hdu = fits.BinTableHDU.from_columns(columns)
        hdu.name = f"{item.source.value}_{item.parameter.value}".upper()
        hdus.append(hdu)
    fits.HDUList([primary, *hdus]).writeto(path, overwrite=True)
    return path


def read_conditions_file(path: Path) -> list[ConditionSeries]:
    """The series of a conditions file; tables of unknown names are skipped."""
    found: list[ConditionSeries] = []
    with fits.open(path, memmap=False) as hdul:
        for hdu in hdul[1:]:
            source_name, _, parameter_name = hdu.name.lower().partition("_")
            try:
                source = ConditionSource(source_name)
                parameter = ConditionParameter(parameter_name)
            except ValueError:
                continue
            data = hdu.data
            found.append(
                ConditionSeries.build(
                    parameter,
                    source,
                    np.asarray(data["TIME"], dtype=np.float64),
                    np.asarray(data["VALUE"], dtype=np.float64),
                )
            )
    return found
