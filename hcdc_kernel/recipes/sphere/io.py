"""Inputs and products of the IRDIS recipes.

Inputs come grouped by SOF tag, as the job runner passes them (or as a plain list of files,
whose tags follow from their frame types). Products are FITS files whose primary header
carries ``HIERARCH HCDC PRO CATG``, the provenance of :mod:`hcdc_kernel.products.description`
(recipe, inputs, parameters) and its JSON metadata (``HIERARCH HCDC META``), the observation
inherited from the main raw input (``OBJECT``, ``DATE-OBS``, ``ESO OBS ID``, ``ESO DET SEQ1
DIT``, ``ESO INS COMB IFLT``...; hcdc's ingest and association read these) and its QC values
as ``HIERARCH HCDC QC <NAME>`` cards. Calibration products keep their bad-pixel map in a
``BADPIX`` image extension.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from astropy.io import fits
from astropy.table import Table

from hcdc_kernel.frames import classify
from hcdc_kernel.products.description import ProductDescription, inherited_cards
from hcdc_kernel.products.preview import PREVIEW_CATEGORY, preview_path, write_preview
from hcdc_kernel.products.provenance import CATEGORY_KEY
from hcdc_kernel.recipes.hci.outputs import jsonable, product_header
from hcdc_kernel.recipes.registry import accepts
from hcdc_kernel.recipes.spec import RecipeSpec
from hcdc_kernel.recipes.sphere.base import RecipeError, RecipeRun
from hcdc_kernel.sphere.calibration import DetectorFlat, MasterDark
from hcdc_kernel.sphere.exposures import DIT_KEY, FILTER_KEY

__all__ = [
    "BADPIX_EXTENSION",
    "KIND_KEY",
    "InputFile",
    "SphereInputs",
    "qc_cards",
    "read_flat",
    "read_master",
    "read_table",
    "write_product",
]

BADPIX_EXTENSION = "BADPIX"
#: What a master is: ``dark``, ``background`` or ``sky``.
KIND_KEY = "HIERARCH HCDC IRD KIND"
_QC_PREFIX = "HIERARCH HCDC QC "
_META_KEY = "HIERARCH HCDC META"


@dataclass(frozen=True, eq=False)
class InputFile:
    """An input file, the SOF tag it came under and its primary header."""

    path: Path
    role: str
    header: fits.Header


@dataclass(frozen=True, eq=False)
class SphereInputs:
    """The input files of one run, by SOF tag."""

    files: tuple[InputFile, ...]

    def of_role(self, tag: str) -> tuple[InputFile, ...]:
        return tuple(f for f in self.files if f.role == tag)

    def paths(self, tag: str) -> list[Path]:
        return [f.path for f in self.of_role(tag)]

    @classmethod
    def load(
        cls,
        recipe: RecipeSpec,
        inputs: Sequence[Path] | Mapping[str, Sequence[Path]],
    ) -> SphereInputs:
        """Read the headers; refuse unknown tags, unreadable files and slots out of range.

        Untagged files take the tag of the first slot that accepts their frame type.
        """
        slots = {slot.tag: slot for slot in recipe.inputs}
        tagged: list[tuple[str | None, Path]] = []
        if isinstance(inputs, Mapping):
            for key, paths in inputs.items():
                tagged.extend((str(key), Path(p)) for p in paths)
        else:
            tagged.extend((None, Path(p)) for p in inputs)
        problems: list[str] = []
        files: list[InputFile] = []
        for tag, path in tagged:
            if not path.is_file():
                raise RecipeError(f"input {path} does not exist")
            try:
                header = fits.getheader(path)
            except (OSError, ValueError) as exc:
                raise RecipeError(f"input {path.name} is not a readable FITS file: {exc}") from None
            frame_type, _ = classify(dict(header))
            if tag is None:
                tag = next((s.tag for s in recipe.inputs if accepts(s, frame_type)), None)
                if tag is None:
                    problems.append(f"{path.name} ({frame_type}) fits no input of {recipe.name}")
                    continue
            slot = slots.get(tag)
            if slot is None:
                problems.append(
                    f"{path.name} came as {tag}, which {recipe.name} does not take "
                    f"(it takes {', '.join(slots)})"
                )
                continue
            if not accepts(slot, frame_type):
                problems.append(
                    f"{path.name} is a {frame_type}, not a {'/'.join(slot.frame_types)} ({tag})"
                )
                continue
            files.append(InputFile(path=path, role=tag, header=header))
        loaded = cls(files=tuple(files))
        for slot in recipe.inputs:
            count = len(loaded.of_role(slot.tag))
            if count < slot.min_count:
                problems.append(
                    f"{recipe.name} needs at least {slot.min_count} {slot.tag} "
                    f"({'/'.join(slot.frame_types)}), got {count}"
                )
            if slot.max_count is not None and count > slot.max_count:
                problems.append(
                    f"{recipe.name} takes at most {slot.max_count} {slot.tag}, got {count}"
                )
        if problems:
            raise RecipeError("; ".join(problems))
        return loaded


# -- products ---------------------------------------------------------------------------------


def qc_cards(qc: Mapping[str, Any]) -> fits.Header:
    """``HIERARCH HCDC QC <NAME>`` cards of the scalar QC values."""
    header = fits.Header()
    for key, value in qc.items():
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, bool | int | str) or (isinstance(value, float) and np.isfinite(value)):
            name = key.upper().replace("_", " ")
            if len(_QC_PREFIX) + len(name) + 3 + len(str(value)) <= 78:
                header[_QC_PREFIX + name] = value
    return header


def write_product(
    run: RecipeRun,
    name: str,
    data: npt.ArrayLike | None,
    *,
    category: str,
    source: InputFile | None,
    qc: Mapping[str, Any] | None = None,
    meta: Mapping[str, Any] | None = None,
    cards: Mapping[str, Any] | None = None,
    extensions: Sequence[fits.ImageHDU | fits.BinTableHDU] = (),
    bunit: str | None = "ADU",
    pixscale: float | None = None,
    star_xy: tuple[float, float] | None = None,
    fwhm: float | None = None,
    north_up: bool = False,
    centred: bool | None = None,
    preview: bool = True,
) -> Path:
    """Write a product (primary image, or a header only, and extensions); record it in the run.

    ``source`` is the input whose observation the product inherits; ``cards`` are further
    header values (e.g. the DIT and filter of a master, which association matches on).
    """
    path = run.path(name)
    values = None if data is None else np.asarray(data, dtype=np.float32)
    description = ProductDescription(
        observation=inherited_cards(source.header if source is not None else None),
        recipe=run.recipe.name,
        version=run.recipe.version,
        inputs=tuple((f.path.name, f.role) for f in run.inputs.files),
        params=dict(run.params),
        bunit=bunit,
        pixscale=pixscale,
        star_xy=star_xy,
        north_up=north_up,
        fwhm=fwhm,
        centred=centred,
    )
    png: Path | None = None
    if preview and values is not None and values.ndim >= 2:
        shown = values if values.ndim < 4 else values[:, 0]
        png = write_preview(shown, preview_path(path))
        description = description.replace(preview=png.name)
    info = {
        "recipe": run.recipe.name,
        "version": run.recipe.version,
        "params": dict(run.params),
        "inputs": [{"name": f.path.name, "tag": f.role} for f in run.inputs.files],
        **dict(meta or {}),
    }
    header = product_header(
        category,
        jsonable(info),
        description=description,
        naxis=0 if values is None else values.ndim,
    )
    for key, value in (cards or {}).items():
        header[key if key.startswith("HIERARCH ") or len(key) <= 8 else f"HIERARCH {key}"] = value
    header.extend(qc_cards(qc or {}), update=True)
    hdus: list[Any] = [fits.PrimaryHDU(data=values, header=header), *extensions]
    fits.HDUList(hdus).writeto(path, overwrite=True)
    run.add_product(path, category, qc)
    if png is not None:
        run.add_product(png, PREVIEW_CATEGORY)
    return path


def badpix_hdu(mask: npt.ArrayLike) -> fits.ImageHDU:
    """The ``BADPIX`` extension: 1 where a pixel is bad."""
    return fits.ImageHDU(np.asarray(mask, dtype=np.uint8), name=BADPIX_EXTENSION)


def table_hdu(table: Table, name: str) -> fits.BinTableHDU:
    hdu = fits.table_to_hdu(Table(table, meta={}))
    hdu.name = name
    return hdu


def _open_product(path: Path, category: str) -> tuple[fits.Header, fits.HDUList]:
    try:
        hdul = fits.open(path, memmap=False)
    except (OSError, ValueError) as exc:
        raise RecipeError(f"{path.name} is not a readable FITS file: {exc}") from None
    header = hdul[0].header
    found = str(header.get(CATEGORY_KEY, "")).strip()
    if found != category and not (category == "IRD_MASTER_*" and found.startswith("IRD_MASTER")):
        hdul.close()
        raise RecipeError(f"{path.name} is a {found or 'file without category'}, not {category}")
    return header, hdul


def _badpix(hdul: fits.HDUList, path: Path, shape: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    if BADPIX_EXTENSION not in hdul:
        raise RecipeError(f"{path.name} has no {BADPIX_EXTENSION} extension")
    mask = np.asarray(hdul[BADPIX_EXTENSION].data, dtype=bool)
    if mask.shape != shape:
        raise RecipeError(f"{path.name}: bad-pixel map {mask.shape} does not match {shape}")
    return mask


def _float_card(header: fits.Header, key: str, path: Path) -> float:
    try:
        return float(header[key])
    except (KeyError, TypeError, ValueError):
        raise RecipeError(f"{path.name} lacks a numeric {key}") from None


def read_master(path: Path) -> MasterDark:
    """A master dark, background or sky written by ``ird_master_dark``."""
    header, hdul = _open_product(path, "IRD_MASTER_*")
    with hdul:
        image = np.asarray(hdul[0].data, dtype=np.float64)
        bad = _badpix(hdul, path, image.shape)
    kind = str(header.get(KIND_KEY.removeprefix("HIERARCH "), "dark"))
    if kind not in ("dark", "background", "sky"):
        raise RecipeError(f"{path.name}: unknown {KIND_KEY} {kind!r}")
    return MasterDark(
        image=image,
        bad_pixels=bad,
        dit=_float_card(header, DIT_KEY.removeprefix("HIERARCH "), path),
        kind=kind,  # type: ignore[arg-type]
        filter_combination=str(header.get(FILTER_KEY.removeprefix("HIERARCH "), "")).strip(),
        n_frames=int(header.get("HCDC QC NFRAMES", 0)),
        level=float(np.median(image)),
        noise=float(header.get("HCDC QC NOISE", np.nan)),
        hot_pixel_count=int(bad.sum()),
    )


def read_flat(path: Path) -> DetectorFlat:
    """A detector flat written by ``ird_flat``."""
    header, hdul = _open_product(path, "IRD_FLAT_FIELD")
    with hdul:
        flat = np.asarray(hdul[0].data, dtype=np.float64)
        bad = _badpix(hdul, path, flat.shape)
    return DetectorFlat(
        flat=flat,
        bad_pixels=bad,
        filter_combination=str(header.get(FILTER_KEY.removeprefix("HIERARCH "), "")).strip(),
        dits=(),
        rate=(
            float(header.get("HCDC QC RATE LEFT", 0.0)),
            float(header.get("HCDC QC RATE RIGHT", 0.0)),
        ),
        rms=float(header.get("HCDC QC FLAT RMS", np.nan)),
        dead_count=int(header.get("HCDC QC DEAD PIXELS", 0)),
        outlier_count=int(header.get("HCDC QC OUTLIER PIXELS", 0)),
        nonlinear_count=int(header.get("HCDC QC NONLINEAR PIXELS", 0)),
    )


def read_table(
    path: Path, category: str, extension: str
) -> tuple[fits.Header, Table, npt.NDArray[np.float64] | None]:
    """Primary header, the table of ``extension`` and the primary data (or None)."""
    header, hdul = _open_product(path, category)
    with hdul:
        if extension not in hdul:
            raise RecipeError(f"{path.name} has no {extension} extension")
        table = Table.read(hdul[extension])
        data = hdul[0].data
        image = None if data is None else np.asarray(data, dtype=np.float64)
    return header, table, image


def product_meta(header: fits.Header) -> dict[str, Any]:
    """The JSON metadata of a product header (empty when absent or unreadable)."""
    try:
        value = json.loads(header.get(_META_KEY.removeprefix("HIERARCH "), "{}"))
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
