"""Contrast-curve product: FITS binary table and ECSV with provenance."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import QTable
from numpy.typing import NDArray

from hcdc_kernel.products.description import ProductDescription, observation_keys
from hcdc_kernel.products.provenance import (
    header_from_meta,
    read_table_product,
    software_versions,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from hcdc_kernel.hci.contrast import ContrastCurveResult

__all__ = ["CONTRAST_CURVE_CATEGORY", "ContrastCurve"]

CONTRAST_CURVE_CATEGORY = "HCI_CONTRAST_CURVE"

_COLUMNS = ("separation_px", "separation_arcsec", "contrast", "throughput", "noise", "sigma")


@dataclass(frozen=True, eq=False)
class ContrastCurve:
    """A contrast curve as published: one row per separation plus provenance.

    Attributes
    ----------
    separation_px : astropy.units.Quantity
        Separations in pixels (``u.pix``).
    separation_arcsec : astropy.units.Quantity
        Separations in arcsec.
    contrast : numpy.ndarray
        Detection limit (flux ratio) at ``sigma_level``.
    throughput : numpy.ndarray
        Algorithm throughput.
    noise : numpy.ndarray
        Aperture-flux noise of the companion-free image (cube units).
    sigma : numpy.ndarray
        Threshold applied at each separation (Student-corrected level).
    sigma_level : float
        Gaussian-equivalent confidence level (e.g. 5).
    algorithm : str
        Post-processing algorithm.
    params : Mapping
        Algorithm parameters.
    injection : Mapping
        Fake-companion settings.
    software : Mapping
        Software versions.
    extra : Mapping
        Anything else worth keeping (star flux, FWHM, pixel scale, inputs...).
    flux_unit : str
        Unit of the science frames, that of the ``noise`` column (ADU by default).
    description : ProductDescription, optional
        Observation and recipe written in the FITS headers
        (:mod:`hcdc_kernel.products.description`); its identifying keywords also go to the
        ECSV metadata (``observation``).

    Every column carries a unit: ``separation_px`` pix, ``separation_arcsec`` arcsec,
    ``noise`` ``flux_unit``, ``contrast``, ``throughput`` and ``sigma`` dimensionless.
    """

    separation_px: u.Quantity
    separation_arcsec: u.Quantity
    contrast: NDArray[np.float64]
    throughput: NDArray[np.float64]
    noise: NDArray[np.float64]
    sigma: NDArray[np.float64]
    sigma_level: float
    algorithm: str
    params: Mapping[str, Any] = field(default_factory=dict)
    injection: Mapping[str, Any] = field(default_factory=dict)
    software: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    flux_unit: str = "adu"
    description: ProductDescription | None = None

    @classmethod
    def from_result(
        cls,
        result: ContrastCurveResult,
        *,
        extra: Mapping[str, Any] | None = None,
        flux_unit: str = "adu",
        description: ProductDescription | None = None,
    ) -> ContrastCurve:
        """Build the product from :func:`hcdc_kernel.hci.contrast.contrast_curve`'s result."""
        info: dict[str, Any] = {
            "star_flux": result.star_flux,
            "fwhm_px": result.fwhm,
            "pxscale_arcsec": result.pxscale,
            "student": result.student,
        }
        info.update(extra or {})
        return cls(
            separation_px=np.asarray(result.separation_px) * u.pix,
            separation_arcsec=np.asarray(result.separation_arcsec) * u.arcsec,
            contrast=np.asarray(result.contrast),
            throughput=np.asarray(result.throughput),
            noise=np.asarray(result.noise),
            sigma=np.asarray(result.sigma_effective),
            sigma_level=result.sigma,
            algorithm=result.algorithm,
            params=dict(result.params),
            injection=dict(result.injection),
            software=software_versions(),
            extra=info,
            flux_unit=flux_unit,
            description=description,
        )

    @property
    def meta(self) -> dict[str, Any]:
        """Provenance metadata as stored in the files."""
        meta = {
            "category": CONTRAST_CURVE_CATEGORY,
            "sigma_level": float(self.sigma_level),
            "algorithm": self.algorithm,
            "params": dict(self.params),
            "injection": dict(self.injection),
            "software": dict(self.software),
            "extra": dict(self.extra),
        }
        if self.description is not None:
            meta["observation"] = observation_keys([self.description.observation])
        return meta

    def to_table(self) -> QTable:
        """The curve as an astropy table with units and the provenance in ``meta``."""
        one = u.dimensionless_unscaled
        return QTable(
            [
                self.separation_px,
                self.separation_arcsec,
                np.asarray(self.contrast) * one,
                np.asarray(self.throughput) * one,
                np.asarray(self.noise) * u.Unit(self.flux_unit, parse_strict="silent"),
                np.asarray(self.sigma) * one,
            ],
            names=_COLUMNS,
            meta=self.meta,
        )

    @classmethod
    def from_table(cls, table: QTable, meta: Mapping[str, Any]) -> ContrastCurve:
        """Inverse of :meth:`to_table`."""

        def values(name: str) -> NDArray[np.float64]:
            column = table[name]
            raw = column.value if isinstance(column, u.Quantity) else column
            return np.asarray(raw, dtype=np.float64)

        noise_unit = getattr(table["noise"], "unit", None)
        return cls(
            separation_px=u.Quantity(table["separation_px"]).to(u.pix),
            separation_arcsec=u.Quantity(table["separation_arcsec"]).to(u.arcsec),
            contrast=values("contrast"),
            throughput=values("throughput"),
            noise=values("noise"),
            sigma=values("sigma"),
            sigma_level=float(meta["sigma_level"]),
            algorithm=str(meta["algorithm"]),
            params=dict(meta.get("params", {})),
            injection=dict(meta.get("injection", {})),
            software=dict(meta.get("software", {})),
            extra=dict(meta.get("extra", {})),
            flux_unit=noise_unit.to_string() if noise_unit is not None else "adu",
        )

    def write_ecsv(self, path: Path | str) -> Path:
        """Write the ECSV file (units and metadata in its YAML header)."""
        target = Path(path)
        self.to_table().write(target, format="ascii.ecsv", overwrite=True)
        return target

    def write_fits(self, path: Path | str) -> Path:
        """Write a FITS file whose first extension is the binary table."""
        target = Path(path)
        table = self.to_table()
        table.meta = {}
        hdu = fits.table_to_hdu(table)
        hdu.header.extend(header_from_meta(CONTRAST_CURVE_CATEGORY, self.meta))
        hdu.name = "CONTRAST_CURVE"
        primary_header = header_from_meta(CONTRAST_CURVE_CATEGORY, self.meta)
        if self.description is not None:
            primary_header.extend(self.description.cards(naxis=0), update=True)
        primary = fits.PrimaryHDU(header=primary_header)
        fits.HDUList([primary, hdu]).writeto(target, overwrite=True)
        return target

    @classmethod
    def read(cls, path: Path | str) -> ContrastCurve:
        """Read a curve written by :meth:`write_ecsv` or :meth:`write_fits`."""
        table, meta = read_table_product(Path(path), CONTRAST_CURVE_CATEGORY, "contrast curve")
        return cls.from_table(table, meta)

    def plot(self, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Plot the contrast (log scale) against separation in arcsec."""
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots()
        label = kwargs.pop("label", f"{self.algorithm} ({self.sigma_level:g}σ)")
        ax.plot(self.separation_arcsec.to_value(u.arcsec), self.contrast, label=label, **kwargs)
        ax.set_yscale("log")
        ax.set_xlabel("Separation [arcsec]")
        ax.set_ylabel(f"{self.sigma_level:g}σ contrast")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        return ax
