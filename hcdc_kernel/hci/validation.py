"""Checks shared by every ADI algorithm: one place for the rules on cubes and angle lists."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def adi_inputs(
    cube: ArrayLike, angles_deg: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The cube and angles as float64 arrays, or a ValueError naming what is wrong."""
    data = np.asarray(cube, dtype=np.float64)
    angles = np.asarray(angles_deg, dtype=np.float64).reshape(-1)
    if data.ndim != 3:
        raise ValueError(f"the cube must be 3-D (n_frames, ny, nx), got shape {data.shape}")
    if angles.shape[0] != data.shape[0]:
        raise ValueError(
            f"the cube has {data.shape[0]} frames but {angles.shape[0]} angles were given"
        )
    if data.shape[0] < 2:
        raise ValueError("ADI needs at least two frames")
    if not np.all(np.isfinite(data)):
        raise ValueError("the cube contains NaN or infinite values")
    if not np.all(np.isfinite(angles)):
        raise ValueError("the angles contain NaN or infinite values")
    return data, angles
