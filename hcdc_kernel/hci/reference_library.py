"""Choice of a reference library for reference-star differential imaging (RDI).

RDI subtracts a model of the stellar PSF learnt on frames of other stars
(Lafreniere et al. 2009, ApJ 694, L148; Soummer et al. 2012, ApJ 755, L28).
The closer the reference frames are to the science frames, the deeper the
subtraction, so candidate frames are ranked by their similarity to the
science frames in the annulus where companions are searched (Ruane et al.
2019, AJ 157, 118; Xie et al. 2022, A&A 666, A32 for archive-wide
libraries), with either

* ``"correlation"``: Pearson correlation coefficient (insensitive to the
  flux scale), or
* ``"mse"``: mean squared error after scaling each reference frame to the
  science frame by least squares (similarity ``-MSE``),

averaged over the science frames. The best ``n_frames`` frames (or the best
whole cubes) make the library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hcdc_kernel.hci.frame_selection import annulus_mask

__all__ = [
    "LibrarySelection",
    "Similarity",
    "frame_similarity",
    "select_reference_frames",
]

Similarity = Literal["correlation", "mse"]


@dataclass(frozen=True, eq=False)
class LibrarySelection:
    """A reference library chosen among candidate frames.

    Attributes
    ----------
    library : numpy.ndarray, shape (n_selected, ny, nx)
        The selected reference frames, best first.
    selected : numpy.ndarray of int
        Indices of the selected frames among all candidate frames (stacked in
        the order the candidate cubes were given), best first.
    scores : numpy.ndarray, shape (n_candidates,)
        Similarity of every candidate frame (higher is more similar).
    cube_index, frame_index : numpy.ndarray of int, shape (n_candidates,)
        Candidate cube and frame within it of every candidate frame.
    cube_scores : numpy.ndarray, shape (n_cubes,)
        Mean similarity of each candidate cube.
    metric : str
        ``"correlation"`` or ``"mse"``.
    annulus : tuple of float
        (inner, outer) radii (px) of the comparison region.
    """

    library: NDArray[np.float64]
    selected: NDArray[np.int64]
    scores: NDArray[np.float64]
    cube_index: NDArray[np.int64]
    frame_index: NDArray[np.int64]
    cube_scores: NDArray[np.float64]
    metric: str
    annulus: tuple[float, float]


def frame_similarity(
    science: ArrayLike,
    candidates: ArrayLike,
    *,
    mask: ArrayLike,
    metric: Similarity = "correlation",
) -> NDArray[np.float64]:
    """Similarity of each candidate frame to each science frame in ``mask``.

    Parameters
    ----------
    science : array_like, shape (n_sci, ny, nx)
        Science frames.
    candidates : array_like, shape (n_ref, ny, nx)
        Candidate reference frames.
    mask : array_like of bool, shape (ny, nx)
        Pixels compared.
    metric : {"correlation", "mse"}
        Pearson correlation, or minus the mean squared error after the best
        flux scaling of the candidate.

    Returns
    -------
    numpy.ndarray, shape (n_sci, n_ref)
        Higher is more similar.
    """
    sci = np.asarray(science, dtype=np.float64)
    ref = np.asarray(candidates, dtype=np.float64)
    region = np.asarray(mask, dtype=bool)
    a = sci[:, region]
    b = ref[:, region]
    if metric == "correlation":
        a = a - a.mean(axis=1, keepdims=True)
        b = b - b.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(a, axis=1)[:, None] * np.linalg.norm(b, axis=1)[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            corr: NDArray[np.float64] = np.where(norm > 0, (a @ b.T) / norm, 0.0)
        return corr
    if metric == "mse":
        cross = a @ b.T
        b_sq = np.sum(b * b, axis=1)
        a_sq = np.sum(a * a, axis=1)
        # min_s |a - s b|^2 = |a|^2 - (a.b)^2 / |b|^2
        with np.errstate(invalid="ignore", divide="ignore"):
            residual = a_sq[:, None] - np.where(b_sq > 0, cross**2 / b_sq[None, :], 0.0)
        mse: NDArray[np.float64] = -np.maximum(residual, 0.0) / a.shape[1]
        return mse
    raise ValueError(f"unknown metric {metric!r}; use 'correlation' or 'mse'")


def select_reference_frames(
    science: ArrayLike,
    candidates: Sequence[ArrayLike],
    *,
    n_frames: int,
    inner_radius: float,
    outer_radius: float,
    metric: Similarity = "correlation",
    whole_cubes: bool = False,
) -> LibrarySelection:
    """Rank candidate reference frames by similarity and keep the best.

    Parameters
    ----------
    science : array_like, shape (n_sci, ny, nx)
        Centred science cube.
    candidates : sequence of array_like, each (n_i, ny, nx) or (ny, nx)
        Centred candidate cubes (frames of other stars), same frame size.
    n_frames : int
        Number of frames in the library.
    inner_radius, outer_radius : float
        Annulus (px) compared (the region where companions are searched).
    metric : {"correlation", "mse"}
        Similarity measure (see :func:`frame_similarity`).
    whole_cubes : bool
        Keep whole candidate cubes, best mean similarity first, until at least
        ``n_frames`` frames are in (frames of one observation share its
        conditions), rather than the best individual frames.

    Returns
    -------
    LibrarySelection
    """
    sci = np.asarray(science, dtype=np.float64)
    if sci.ndim == 2:
        sci = sci[None]
    if sci.ndim != 3:
        raise ValueError(f"the science cube must be 3-D, got shape {sci.shape}")
    if not candidates:
        raise ValueError("no candidate reference frames were given")
    cubes = []
    for k, cand in enumerate(candidates):
        data = np.asarray(cand, dtype=np.float64)
        if data.ndim == 2:
            data = data[None]
        if data.ndim != 3 or data.shape[1:] != sci.shape[1:]:
            raise ValueError(
                f"candidate {k} has shape {data.shape}; frames of {sci.shape[1:]} are needed"
            )
        if not np.all(np.isfinite(data)):
            raise ValueError(f"candidate {k} contains NaN or infinite values")
        cubes.append(data)
    if n_frames < 1:
        raise ValueError("n_frames must be at least 1")
    stacked = np.concatenate(cubes, axis=0)
    cube_index = np.concatenate([np.full(c.shape[0], k) for k, c in enumerate(cubes)])
    frame_index = np.concatenate([np.arange(c.shape[0]) for c in cubes])
    mask = annulus_mask((sci.shape[1], sci.shape[2]), inner=inner_radius, outer=outer_radius)
    if mask.sum() < 2:
        raise ValueError("the comparison annulus holds fewer than two pixels")
    scores = frame_similarity(sci, stacked, mask=mask, metric=metric).mean(axis=0)
    cube_scores = np.array([scores[cube_index == k].mean() for k in range(len(cubes))])
    if whole_cubes:
        chosen: list[int] = []
        for k in np.argsort(-cube_scores, kind="stable"):
            members = np.flatnonzero(cube_index == k)
            chosen.extend(members[np.argsort(-scores[members], kind="stable")].tolist())
            if len(chosen) >= n_frames:
                break
        selected = np.array(chosen, dtype=np.int64)
    else:
        selected = np.argsort(-scores, kind="stable")[: min(n_frames, stacked.shape[0])]
    return LibrarySelection(
        library=stacked[selected],
        selected=selected.astype(np.int64),
        scores=scores,
        cube_index=cube_index.astype(np.int64),
        frame_index=frame_index.astype(np.int64),
        cube_scores=cube_scores,
        metric=metric,
        annulus=(float(inner_radius), float(outer_radius)),
    )
