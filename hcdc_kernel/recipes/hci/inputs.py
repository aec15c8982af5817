"""Input files of the hci recipes: their roles and the data they hold.

A file's role comes from its primary header: ``HIERARCH HCDC PRO CATG`` for
hcdc products (:data:`CATEGORY_ROLES`), otherwise the raw frame's
``HIERARCH ESO DPR TYPE`` (:data:`DPR_TYPE_ROLES`; ``OBJECT`` taken in
polarimetry, ``DPR TECH`` containing ``POLARIMETRY``, is a ``DPI`` frame).
When inputs come grouped by tag (as the job runner passes them), a tag that
names a role decides it.

Parallactic angles come, in this order, from an ``HCI_ANGLES`` product
(primary data or a ``PARANG`` table column), from a binary-table extension
of the science file (``PARANG`` column), or from ``HIERARCH HCDC PARANG`` in
the header of each single-frame science file. The pixel scale is a
parameter, or ``HIERARCH HCDC PIXSCALE``, or the instrument's (DOMAIN.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from numpy.typing import NDArray

from hcdc_kernel.products.provenance import CATEGORY_KEY
from hcdc_kernel.recipes.hci.base import RecipeError

__all__ = [
    "CATEGORY_ROLES",
    "DPR_TYPE_ROLES",
    "ROLES",
    "HciInputs",
    "InputFile",
    "Sequence3D",
    "classify",
    "instrument_pixscale",
    "load_inputs",
]

ANGLES_COLUMNS = ("PARANG", "ANGLE", "ANGLES")

#: Roles of hcdc products, by category.
CATEGORY_ROLES: dict[str, str] = {
    "HCI_CENTERED_CUBE": "SCIENCE",
    "IRD_SCIENCE_CUBE": "SCIENCE",
    "HCI_ANGLES": "ANGLES",
    "HCI_PSF": "PSF",
    "HCI_FINAL_IMAGE": "FINAL_IMAGE",
    "HCI_REFERENCE_CUBE": "REFERENCE",
    "HCI_DPI_FRAMES": "DPI",
    "HCDC_CONDITIONS": "CONDITIONS",
}

#: Roles of raw frames, by ``ESO DPR TYPE``.
DPR_TYPE_ROLES: dict[str, str] = {
    "OBJECT": "SCIENCE",
    "OBJECT,FLUX": "PSF",
    "OBJECT,CENTER": "STAR_CENTER",
}

ROLES = (
    "SCIENCE",
    "ANGLES",
    "PSF",
    "STAR_CENTER",
    "REFERENCE",
    "FINAL_IMAGE",
    "DPI",
    "CONDITIONS",
)

#: Pixel scales (arcsec/px) by instrument and camera (Maire et al. 2016; NACO manual).
_PIXSCALES = {
    ("SPHERE", "IRDIS"): 0.01225,
    ("SPHERE", "IFS"): 0.00746,
    ("NACO", "L27"): 0.02719,
    ("NACO", "S13"): 0.013221,
    ("NACO", "S27"): 0.02715,
    ("NACO", "L54"): 0.05425,
}


@dataclass(frozen=True, eq=False)
class InputFile:
    """An input file with its role and primary header."""

    path: Path
    role: str
    header: fits.Header

    def data(self) -> NDArray[np.float64]:
        """Primary data as float64 (the first image extension when the primary is empty)."""
        with fits.open(self.path, memmap=False) as hdul:
            for hdu in hdul:
                if hdu.is_image and hdu.data is not None and hdu.data.size:
                    return np.asarray(hdu.data, dtype=np.float64)
        raise RecipeError(f"{self.path.name} holds no image data")

    def table_column(self, names: Sequence[str]) -> NDArray[np.float64] | None:
        """The first of ``names`` found as a column of a binary-table extension."""
        with fits.open(self.path, memmap=False) as hdul:
            for hdu in hdul[1:]:
                if isinstance(hdu, fits.BinTableHDU):
                    columns = {c.upper(): c for c in hdu.columns.names}
                    for name in names:
                        if name.upper() in columns:
                            values = np.asarray(hdu.data[columns[name.upper()]], dtype=np.float64)
                            return values.reshape(-1)
        return None


def instrument_pixscale(header: fits.Header) -> float | None:
    """Pixel scale (arcsec/px) from ``HCDC PIXSCALE`` or the instrument keywords."""
    if "HCDC PIXSCALE" in header:
        return float(header["HCDC PIXSCALE"])
    instrument = str(header.get("INSTRUME", "")).upper()
    if "NAOS" in instrument or "NACO" in instrument or "CONICA" in instrument:
        camera = str(header.get("ESO INS OPTI7 NAME", "")).upper()
        return _PIXSCALES.get(("NACO", camera))
    if "SPHERE" in instrument:
        arm = str(header.get("ESO SEQ ARM", "")).upper()
        return _PIXSCALES.get(("SPHERE", arm))
    return None


def classify(header: fits.Header, *, tag: str | None = None) -> str | None:
    """Role of a file from its tag (when it names a role) or its header; None if unknown."""
    if tag is not None and tag.upper() in ROLES:
        return tag.upper()
    if CATEGORY_KEY in header:
        return CATEGORY_ROLES.get(str(header[CATEGORY_KEY]).strip())
    if "ESO DPR TYPE" in header:
        dpr_type = str(header["ESO DPR TYPE"]).strip().upper().replace(" ", "")
        tech = str(header.get("ESO DPR TECH", "")).upper()
        if dpr_type == "OBJECT" and "POLARIMETRY" in tech:
            return "DPI"
        return DPR_TYPE_ROLES.get(dpr_type)
    return None


def load_inputs(inputs: Sequence[Path] | Mapping[str, Sequence[Path]]) -> tuple[InputFile, ...]:
    """Read the headers of the inputs and give each file its role.

    Raises
    ------
    RecipeError
        For a missing or unreadable file, or one whose role cannot be told.
    """
    tagged: list[tuple[str | None, Path]] = []
    if isinstance(inputs, Mapping):
        for key, paths in inputs.items():
            tagged.extend((str(key), Path(p)) for p in paths)
    else:
        tagged.extend((None, Path(p)) for p in inputs)
    files = []
    for tag, path in tagged:
        if not path.is_file():
            raise RecipeError(f"input {path} does not exist")
        try:
            header = fits.getheader(path)
        except OSError as exc:
            raise RecipeError(f"input {path.name} is not a readable FITS file: {exc}") from exc
        role = classify(header, tag=tag)
        if role is None:
            raise RecipeError(
                f"cannot tell the role of {path.name}: no known HIERARCH {CATEGORY_KEY} "
                "and no HIERARCH ESO DPR TYPE of OBJECT, OBJECT,FLUX or OBJECT,CENTER"
            )
        files.append(InputFile(path=path, role=role, header=header))
    return tuple(files)


@dataclass(frozen=True, eq=False)
class Sequence3D:
    """A science sequence: frames, parallactic angles and the headers they came from."""

    cube: NDArray[np.float64]
    angles: NDArray[np.float64]
    headers: tuple[fits.Header, ...]
    files: tuple[InputFile, ...]
    frames_per_file: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class HciInputs:
    """The classified input files of one run, with loaders for each role."""

    files: tuple[InputFile, ...]

    def of_role(self, role: str) -> tuple[InputFile, ...]:
        return tuple(f for f in self.files if f.role == role)

    def has(self, role: str) -> bool:
        return any(f.role == role for f in self.files)

    def cube_of(self, files: Sequence[InputFile], *, what: str) -> NDArray[np.float64]:
        """Frames of several files stacked into one cube (finite values required)."""
        if not files:
            raise RecipeError(f"no {what} input was given")
        frames = []
        for item in files:
            data = item.data()
            if data.ndim == 2:
                data = data[None]
            if data.ndim != 3:
                raise RecipeError(f"{item.path.name}: expected a frame or a cube, got {data.shape}")
            frames.append(data)
        shapes = {f.shape[1:] for f in frames}
        if len(shapes) != 1:
            raise RecipeError(f"the {what} frames have different sizes: {sorted(shapes)}")
        cube = np.concatenate(frames, axis=0)
        if not np.all(np.isfinite(cube)):
            bad = int(np.count_nonzero(~np.isfinite(cube)))
            raise RecipeError(f"the {what} data contain {bad} NaN or infinite pixel value(s)")
        return cube

    def science(self, files: Sequence[InputFile] | None = None) -> Sequence3D:
        """The science cube and its parallactic angles.

        Raises
        ------
        RecipeError
            Without science frames or angles, with as many angles as frames
            missing, or with NaN values.
        """
        chosen = tuple(files) if files is not None else self.of_role("SCIENCE")
        cube = self.cube_of(chosen, what="science")
        counts = []
        for item in chosen:
            with fits.open(item.path, memmap=False) as hdul:
                shape = next(h.data.shape for h in hdul if h.is_image and h.data is not None)
            counts.append(1 if len(shape) == 2 else int(shape[0]))
        angles = self._angles(chosen, counts)
        if angles.shape[0] != cube.shape[0]:
            raise RecipeError(
                f"the science cube has {cube.shape[0]} frames but {angles.shape[0]} "
                "parallactic angles were given"
            )
        if not np.all(np.isfinite(angles)):
            raise RecipeError("the parallactic angles contain NaN or infinite values")
        return Sequence3D(
            cube=cube,
            angles=angles,
            headers=tuple(f.header for f in chosen),
            files=chosen,
            frames_per_file=tuple(counts),
        )

    def _angles(self, chosen: Sequence[InputFile], counts: Sequence[int]) -> NDArray[np.float64]:
        products = self.of_role("ANGLES")
        if len(products) > 1:
            raise RecipeError(f"{len(products)} HCI_ANGLES inputs given; one is expected")
        if products:
            item = products[0]
            column = item.table_column(ANGLES_COLUMNS)
            values = column if column is not None else item.data().reshape(-1)
            return np.asarray(values, dtype=np.float64)
        pieces = []
        for item, count in zip(chosen, counts, strict=True):
            column = item.table_column(ANGLES_COLUMNS)
            if column is not None:
                pieces.append(column)
            elif "HCDC PARANG" in item.header:
                if count != 1:
                    raise RecipeError(
                        f"{item.path.name} is a cube of {count} frames with a single "
                        "HCDC PARANG value; give one angle per frame (HCI_ANGLES or a PARANG "
                        "table)"
                    )
                pieces.append(np.array([float(item.header["HCDC PARANG"])]))
            else:
                raise RecipeError(
                    f"no parallactic angles for {item.path.name}: give an HCI_ANGLES file, a "
                    "PARANG table extension or HIERARCH HCDC PARANG"
                )
        return np.concatenate(pieces).astype(np.float64)

    def psf(self, *, required: bool) -> NDArray[np.float64] | None:
        """The off-axis PSF (frames median-combined), or None when absent and not required."""
        files = self.of_role("PSF")
        if not files:
            if required:
                raise RecipeError(
                    "no PSF input: give an off-axis PSF (HCI_PSF product or an OBJECT,FLUX frame)"
                )
            return None
        cube = self.cube_of(files, what="PSF")
        return np.median(cube, axis=0)

    def header_value(self, key: str) -> Any:
        """The first value of ``key`` among the inputs' headers (None if absent)."""
        for item in self.files:
            if key in item.header:
                return item.header[key]
        return None

    def pixscale(self, given: float) -> float:
        """Pixel scale (arcsec/px): ``given`` when positive, else from the headers."""
        if given > 0:
            return float(given)
        for item in self.files:
            value = instrument_pixscale(item.header)
            if value is not None:
                return value
        raise RecipeError(
            "the pixel scale is unknown: give the pxscale parameter or HIERARCH HCDC PIXSCALE"
        )
