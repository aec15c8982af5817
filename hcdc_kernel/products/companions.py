"""Companion table product: FITS binary table (what the data center ingests) and ECSV."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import QTable

from hcdc_kernel.products.description import ProductDescription, observation_keys
from hcdc_kernel.products.provenance import (
    CATEGORY_KEY,
    header_from_meta,
    read_table_product,
    software_versions,
)

__all__ = ["COMPANION_COLUMNS", "COMPANION_TABLE_CATEGORY", "CompanionTable"]

COMPANION_TABLE_CATEGORY = "HCI_COMPANION_TABLE"

#: Columns and units. Positions are 0-based pixels of the final derotated
#: frame; fluxes are in units of the PSF normalised to unit flux in a
#: 1xFWHM-diameter aperture (as vip-hci).
COMPANION_COLUMNS: dict[str, u.UnitBase] = {
    "x": u.pix,
    "y": u.pix,
    "sep_px": u.pix,
    "sep_arcsec": u.arcsec,
    "pa_deg": u.deg,
    "flux": u.dimensionless_unscaled,
    "flux_err": u.dimensionless_unscaled,
    "contrast": u.dimensionless_unscaled,
    "delta_mag": u.mag,
    "snr": u.dimensionless_unscaled,
}


@dataclass(frozen=True, eq=False)
class CompanionTable:
    """Detected companions with astrometry, photometry and S/N.

    Attributes
    ----------
    table : astropy.table.QTable
        One row per companion with the :data:`COMPANION_COLUMNS`.
    meta : Mapping
        Provenance metadata.
    description : ProductDescription, optional
        Observation and recipe written in the FITS primary header; its identifying keywords
        also go to the metadata (``observation``).
    """

    table: QTable
    meta: Mapping[str, Any] = field(default_factory=dict)
    description: ProductDescription | None = None

    @classmethod
    def from_rows(
        cls,
        rows: Sequence[Mapping[str, float]],
        *,
        meta: Mapping[str, Any] | None = None,
        description: ProductDescription | None = None,
    ) -> CompanionTable:
        """Build from plain rows (floats in the column units)."""
        columns = {
            name: np.array([float(row[name]) for row in rows], dtype=np.float64) * unit
            for name, unit in COMPANION_COLUMNS.items()
        }
        info = dict(meta or {})
        info.setdefault("software", software_versions())
        info[CATEGORY_KEY] = COMPANION_TABLE_CATEGORY
        if description is not None:
            info["observation"] = observation_keys([description.observation])
        return cls(table=QTable(columns, meta=info), meta=info, description=description)

    def __len__(self) -> int:
        return len(self.table)

    def write(self, path: Path | str) -> Path:
        """Write the ECSV file."""
        target = Path(path)
        self.table.write(target, format="ascii.ecsv", overwrite=True)
        return target

    def write_fits(self, path: Path | str) -> Path:
        """Write a FITS file whose first extension is the table (provenance in both headers)."""
        target = Path(path)
        meta = {k: v for k, v in self.meta.items() if k != CATEGORY_KEY}
        table = QTable(self.table, copy=True)
        table.meta = {}
        hdu = fits.table_to_hdu(table)
        hdu.header.extend(header_from_meta(COMPANION_TABLE_CATEGORY, meta))
        hdu.name = "COMPANIONS"
        primary_header = header_from_meta(COMPANION_TABLE_CATEGORY, meta)
        if self.description is not None:
            primary_header.extend(self.description.cards(naxis=0), update=True)
        primary = fits.PrimaryHDU(header=primary_header)
        fits.HDUList([primary, hdu]).writeto(target, overwrite=True)
        return target

    @classmethod
    def read(cls, path: Path | str) -> CompanionTable:
        """Read a table written by :meth:`write` or :meth:`write_fits`."""
        source = Path(path)
        table, meta = read_table_product(source, COMPANION_TABLE_CATEGORY, "companion table")
        # FITS has no TUNIT for dimensionless columns: restore them as Quantities.
        for name in table.colnames:
            if not isinstance(table[name], u.Quantity):
                table[name] = np.asarray(table[name], dtype=np.float64) * u.dimensionless_unscaled
        table.meta = meta
        missing = set(COMPANION_COLUMNS) - set(table.colnames)
        if missing:
            raise ValueError(f"{source} lacks columns {sorted(missing)}")
        return cls(table=table, meta=meta)
