"""Stellar PSF subtraction for angular (and reference) differential imaging.

Three algorithms on ADI cubes (n_frames, ny, nx) with parallactic angles in
degrees, following vip-hci's implementations (Gomez Gonzalez et al. 2017,
AJ 154, 7) so that results agree with ``vip_hci.psfsub.median_sub``, ``pca``
and ``pca_annular`` run with ``imlib="skimage"``:

* :func:`adi_median` - classical ADI (Marois et al. 2006, ApJ 641, 556).
* :func:`pca_full_frame` - KLIP/PCA (Soummer et al. 2012, ApJ 755, L28;
  Amara & Quanz 2012, MNRAS 427, 948) on whole frames, with the basis learnt on
  the cube itself (ADI) or on a reference cube (RDI).
* :func:`pca_annular` - PCA in annuli, excluding from each frame's library the
  frames where a source would have moved less than ``delta_rot`` FWHM
  (Absil et al. 2013, A&A 559, L12).

Principal components come from the eigen-decomposition of the small
frame-by-frame Gram matrix (``n_frames x n_frames``) rather than from an SVD of
the ``(n_frames, n_pixels)`` matrix: the same right singular vectors at a
fraction of the cost when there are more pixels than frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import linalg

from hcdc_kernel.hci.rotation import Interpolation, derotate_cube, frame_center
from hcdc_kernel.hci.validation import adi_inputs

__all__ = [
    "AdiResult",
    "Backend",
    "Collapse",
    "adi_median",
    "pca_annular",
    "pca_full_frame",
    "principal_components",
]

Collapse = Literal["median", "mean"]
Backend = Literal["numpy", "torch", "cupy"]


@dataclass(frozen=True, eq=False)
class AdiResult:
    """Result of an ADI/RDI PSF subtraction.

    Attributes
    ----------
    final : numpy.ndarray, shape (ny, nx)
        Derotated residuals combined over frames (north up, east left).
    residuals : numpy.ndarray, shape (n_frames, ny, nx)
        Residual frames before derotation.
    residuals_derotated : numpy.ndarray, shape (n_frames, ny, nx)
        Residual frames after derotation.
    algorithm : str
        Name of the algorithm (the function name).
    params : Mapping[str, Any]
        Parameters of the run (JSON-serialisable values).
    """

    final: NDArray[np.float64]
    residuals: NDArray[np.float64]
    residuals_derotated: NDArray[np.float64]
    algorithm: str
    params: Mapping[str, Any] = field(default_factory=dict)


def _centre_mask(shape: tuple[int, ...], radius: float) -> NDArray[np.bool_]:
    """Pixels strictly closer than ``radius`` to the star (vip-hci's ``mask_circle``)."""
    cy, cx = frame_center(shape)
    yy, xx = np.ogrid[: shape[-2], : shape[-1]]
    mask: NDArray[np.bool_] = (yy - cy) ** 2 + (xx - cx) ** 2 < radius**2
    return mask


def _collapse(cube: NDArray[np.float64], mode: Collapse) -> NDArray[np.float64]:
    if mode == "median":
        return np.median(cube, axis=0)
    if mode == "mean":
        return np.mean(cube, axis=0)
    raise ValueError(f"unknown collapse {mode!r}; use 'median' or 'mean'")


def _finish(
    residuals: NDArray[np.float64],
    angles: NDArray[np.float64],
    *,
    collapse: Collapse,
    interpolation: Interpolation,
    mask: NDArray[np.bool_] | None,
    algorithm: str,
    params: Mapping[str, Any],
) -> AdiResult:
    derotated = derotate_cube(residuals, angles, interpolation=interpolation)
    final = _collapse(derotated, collapse)
    if mask is not None:
        derotated[:, mask] = 0.0
        final[mask] = 0.0
    return AdiResult(
        final=final,
        residuals=residuals,
        residuals_derotated=derotated,
        algorithm=algorithm,
        params=dict(params),
    )


def adi_median(
    cube: ArrayLike,
    angles_deg: ArrayLike,
    *,
    mask_center_px: float | None = None,
    collapse: Collapse = "median",
    interpolation: Interpolation = "biquintic",
) -> AdiResult:
    """Classical ADI: subtract the median frame, derotate and combine.

    Parameters
    ----------
    cube : array_like, shape (n_frames, ny, nx)
        Centred ADI cube.
    angles_deg : array_like, shape (n_frames,)
        Parallactic angles in degrees.
    mask_center_px : float, optional
        Radius (px) of the central area set to zero in the outputs.
    collapse : {"median", "mean"}
        Combination of the derotated residuals.
    interpolation : str
        Rotation interpolation (see :func:`~hcdc_kernel.hci.rotation.rotate_frame`).

    Returns
    -------
    AdiResult
        As vip-hci's ``median_sub(mode="fullfr", radius_int=mask_center_px)``.
    """
    data, angles = adi_inputs(cube, angles_deg)
    residuals = data - np.median(data, axis=0)
    mask = _centre_mask(data.shape, mask_center_px) if mask_center_px else None
    params = {
        "mask_center_px": mask_center_px,
        "collapse": collapse,
        "interpolation": interpolation,
    }
    result = _finish(
        residuals,
        angles,
        collapse=collapse,
        interpolation=interpolation,
        mask=mask,
        algorithm="adi_median",
        params=params,
    )
    if mask is not None:
        # Masked after derotation (as vip-hci) so the rotation sees no sharp edge.
        result.residuals[:, mask] = 0.0
    return result


def _top_eigen(
    gram: NDArray[np.float64], ncomp: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Largest ``ncomp`` eigenpairs of a symmetric matrix, in decreasing order."""
    n = gram.shape[0]
    values, vectors = linalg.eigh(gram, subset_by_index=[n - ncomp, n - 1])
    return values[::-1], vectors[:, ::-1]


def principal_components(
    matrix: ArrayLike, ncomp: int, *, backend: Backend = "numpy"
) -> NDArray[np.float64]:
    """First ``ncomp`` principal components (right singular vectors) of a matrix.

    Parameters
    ----------
    matrix : array_like, shape (n_frames, n_pixels)
        One vectorised frame per row, not mean-subtracted (as vip-hci's PCA
        with ``scaling=None``).
    ncomp : int
        Number of components.
    backend : {"numpy", "torch", "cupy"}
        Library for the decomposition; torch and cupy run on a GPU when one is
        present. They are optional and imported only when asked for.

    Returns
    -------
    numpy.ndarray, shape (ncomp, n_pixels)
        Orthonormal rows spanning the dominant subspace.
    """
    data = np.asarray(matrix, dtype=np.float64)
    n, npix = data.shape
    if not 1 <= ncomp <= min(n, npix):
        raise ValueError(f"ncomp must lie in [1, {min(n, npix)}], got {ncomp}")
    if backend == "torch":
        return _components_torch(data, ncomp)
    if backend == "cupy":
        return _components_cupy(data, ncomp)
    if backend != "numpy":
        raise ValueError(f"unknown backend {backend!r}")
    if npix < n:
        _, _, vt = np.linalg.svd(data, full_matrices=False)
        return vt[:ncomp]
    values, vectors = _top_eigen(data @ data.T, ncomp)
    if values[-1] <= 0:
        raise ValueError("the frames span fewer dimensions than ncomp")
    components: NDArray[np.float64] = (vectors.T @ data) / np.sqrt(values)[:, None]
    return components


def _components_torch(data: NDArray[np.float64], ncomp: int) -> NDArray[np.float64]:
    import torch  # optional GPU backend

    device = "cuda" if torch.cuda.is_available() else "cpu"
    mat = torch.from_numpy(data).to(device)
    values, vectors = torch.linalg.eigh(mat @ mat.T)
    values = values.flip(0)[:ncomp]
    vectors = vectors.flip(1)[:, :ncomp]
    comps = (vectors.T @ mat) / torch.sqrt(values)[:, None]
    result: NDArray[np.float64] = comps.cpu().numpy()
    return result


def _components_cupy(data: NDArray[np.float64], ncomp: int) -> NDArray[np.float64]:
    import cupy  # optional GPU backend

    mat = cupy.asarray(data)
    values, vectors = cupy.linalg.eigh(mat @ mat.T)
    values = values[::-1][:ncomp]
    vectors = vectors[:, ::-1][:, :ncomp]
    comps = (vectors.T @ mat) / cupy.sqrt(values)[:, None]
    result: NDArray[np.float64] = cupy.asnumpy(comps)
    return result


def pca_full_frame(
    cube: ArrayLike,
    angles_deg: ArrayLike,
    *,
    ncomp: int,
    mask_center_px: float | None = None,
    reference_cube: ArrayLike | None = None,
    collapse: Collapse = "median",
    interpolation: Interpolation = "biquintic",
    backend: Backend = "numpy",
) -> AdiResult:
    """Full-frame PCA PSF subtraction (ADI, or RDI with a reference cube).

    Each frame is projected on the first ``ncomp`` principal components of the
    library (the cube itself, or ``reference_cube`` for RDI) and the projection
    subtracted (Soummer et al. 2012; Amara & Quanz 2012); residuals are
    derotated and combined.

    Parameters
    ----------
    cube : array_like, shape (n_frames, ny, nx)
        Centred ADI cube.
    angles_deg : array_like, shape (n_frames,)
        Parallactic angles in degrees.
    ncomp : int
        Number of principal components.
    mask_center_px : float, optional
        Radius (px) of a central area zeroed before PCA and in the outputs.
    reference_cube : array_like, shape (n_ref, ny, nx), optional
        Reference star frames: the basis is learnt on them (RDI).
    collapse : {"median", "mean"}
        Combination of the derotated residuals.
    interpolation : str
        Rotation interpolation.
    backend : {"numpy", "torch", "cupy"}
        Library for the decomposition (see :func:`principal_components`).

    Returns
    -------
    AdiResult
        As vip-hci's ``pca(cube, angles, ncomp=..., mask_center_px=...,
        cube_ref=...)``.
    """
    data, angles = adi_inputs(cube, angles_deg)
    n, ny, nx = data.shape
    mask = _centre_mask(data.shape, mask_center_px) if mask_center_px else None
    matrix = data.reshape(n, ny * nx).copy()
    if mask is not None:
        matrix[:, mask.reshape(-1)] = 0.0
    if reference_cube is None:
        library = matrix
    else:
        ref = np.asarray(reference_cube, dtype=np.float64)
        if ref.ndim != 3 or ref.shape[1:] != data.shape[1:]:
            raise ValueError(
                f"the reference cube must be (n_ref, {ny}, {nx}), got shape {ref.shape}"
            )
        if not np.all(np.isfinite(ref)):
            raise ValueError("the reference cube contains NaN or infinite values")
        library = ref.reshape(ref.shape[0], ny * nx).copy()
        if mask is not None:
            library[:, mask.reshape(-1)] = 0.0
    if ncomp > library.shape[0]:
        raise ValueError(f"ncomp={ncomp} exceeds the {library.shape[0]} frames of the PCA library")
    components = principal_components(library, ncomp, backend=backend)
    residuals = matrix - (matrix @ components.T) @ components
    params = {
        "ncomp": int(ncomp),
        "mask_center_px": mask_center_px,
        "rdi": reference_cube is not None,
        "collapse": collapse,
        "interpolation": interpolation,
    }
    return _finish(
        residuals.reshape(n, ny, nx),
        angles,
        collapse=collapse,
        interpolation=interpolation,
        mask=mask,
        algorithm="pca_full_frame",
        params=params,
    )


def _pa_threshold(separation: float, fwhm: float, delta_rot: float) -> float:
    """Parallactic-angle change (deg) that moves a source by ``delta_rot`` FWHM."""
    return float(np.rad2deg(2.0 * np.arctan(delta_rot * fwhm / (2.0 * separation))))


def _library_indices(
    angles: NDArray[np.float64], frame: int, threshold: float, max_frames: int
) -> NDArray[np.int64]:
    """Frames kept in the library of ``frame`` (vip-hci's ``_find_indices_adi``).

    Frames before the first one within ``threshold`` of the current angle and
    from the first one beyond it, keeping at most ``max_frames`` closest in angle.
    """
    n = angles.shape[0]
    near_before = np.nonzero(np.abs(angles[frame] - angles[:frame]) < threshold)[0]
    index_prev = int(near_before[0]) if near_before.size else frame
    far_after = np.nonzero(np.abs(angles[frame:] - angles[frame]) > threshold)[0]
    index_foll = frame + int(far_after[0]) if far_after.size else n
    indices = np.concatenate([np.arange(index_prev), np.arange(index_foll, n)])
    keep = min(n - 1, max_frames)
    if indices.size > keep:
        dpa = np.abs(angles[indices] - angles[frame])
        indices = np.sort(indices[np.argsort(dpa, kind="stable")[:keep]])
    return indices


def pca_annular(
    cube: ArrayLike,
    angles_deg: ArrayLike,
    *,
    ncomp: int,
    fwhm: float,
    delta_rot: float = 1.0,
    asize: float | None = None,
    radius_int: int = 0,
    min_frames_lib: int = 2,
    max_frames_lib: int = 200,
    collapse: Collapse = "median",
    interpolation: Interpolation = "biquintic",
) -> AdiResult:
    """Annular PCA with a rotation threshold (Absil et al. 2013).

    The frame is cut into annuli of width ``asize`` from ``radius_int``. In
    each annulus, frame ``i`` is modelled with the first ``ncomp`` principal
    components of the frames whose parallactic angle differs enough that a
    source at the annulus centre moved by at least ``delta_rot`` FWHM
    (the library keeps at most ``max_frames_lib`` frames, closest in angle).

    Parameters
    ----------
    cube : array_like, shape (n_frames, ny, nx)
        Centred ADI cube.
    angles_deg : array_like, shape (n_frames,)
        Parallactic angles in degrees.
    ncomp : int
        Number of principal components per annulus.
    fwhm : float
        FWHM in pixels.
    delta_rot : float
        Minimum source motion, in FWHM, between a frame and its library frames.
    asize : float, optional
        Annulus width in pixels; one FWHM by default.
    radius_int : int
        Inner radius (px) of the first annulus; pixels inside are zero.
    min_frames_lib, max_frames_lib : int
        Bounds on the library size.
    collapse : {"median", "mean"}
        Combination of the derotated residuals.
    interpolation : str
        Rotation interpolation.

    Returns
    -------
    AdiResult
        As vip-hci's ``pca_annular`` with the same parameters (``n_segments=1``,
        scalar ``delta_rot``).
    """
    data, angles = adi_inputs(cube, angles_deg)
    if fwhm <= 0:
        raise ValueError("fwhm must be positive")
    width = float(fwhm if asize is None else asize)
    if width <= 0:
        raise ValueError("asize must be positive")
    n, ny, nx = data.shape
    n_annuli = int((ny / 2 - radius_int) / width)
    if n_annuli < 1:
        raise ValueError("no annulus fits in the frame with these radius_int and asize")
    cy, cx = frame_center(data.shape)
    yy, xx = np.mgrid[:ny, :nx]
    sep = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
    residuals = np.zeros_like(data)
    for ann in range(n_annuli):
        inner = radius_int + ann * width - (1 if ann == n_annuli - 1 else 0)
        threshold = _pa_threshold(inner + width / 2.0, fwhm, delta_rot)
        in_ann = (sep >= inner) & (sep < inner + width)
        block = data[:, in_ann]
        gram = block @ block.T
        weights = np.zeros((n, n))
        for frame in range(n):
            if threshold != 0:
                idx = _library_indices(angles, frame, threshold, max_frames_lib)
            else:
                idx = np.arange(n)
            if idx.size < min_frames_lib:
                raise ValueError(
                    f"only {idx.size} frames left in the PCA library of frame {frame} "
                    f"(annulus {ann}); decrease delta_rot or min_frames_lib"
                )
            k = min(ncomp, idx.size, block.shape[1])
            values, vectors = _top_eigen(gram[np.ix_(idx, idx)], k)
            # Projection of frame i on the library's components, as weights on
            # the library frames: U diag(1/w) U^T G[idx, i].
            coeff = vectors.T @ gram[idx, frame]
            weights[frame, idx] = vectors @ (coeff / values)
        residuals[:, in_ann] = block - weights @ block
    params = {
        "ncomp": int(ncomp),
        "fwhm": float(fwhm),
        "delta_rot": float(delta_rot),
        "asize": width,
        "radius_int": int(radius_int),
        "min_frames_lib": int(min_frames_lib),
        "max_frames_lib": int(max_frames_lib),
        "collapse": collapse,
        "interpolation": interpolation,
    }
    return _finish(
        residuals,
        angles,
        collapse=collapse,
        interpolation=interpolation,
        mask=None,
        algorithm="pca_annular",
        params=params,
    )
