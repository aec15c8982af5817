"""Dual-beam polarimetry on an analytic, centro-symmetric polarised disk."""

from __future__ import annotations

import numpy as np
import pytest

from hcdc_kernel.hci.polarimetry import (
    azimuthal_stokes,
    polarimetric_differential_imaging,
    split_beams,
)


def _disk_beams(size=48, hwp=(0.0, 45.0, 22.5, 67.5), gain=None, seed=0):
    """Left/right beams of a disk polarised perpendicular to the star direction.

    The beams are built from the physics of the measurement, not from the
    formulas under test: a HWP at angle h turns a polarisation angle chi into
    2h - chi, and the two beams see (I +- P cos 2(2h - chi)) / 2.
    """
    c = size // 2
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(xx - c, yy - c)
    intensity = 100.0 * np.exp(-r / 10.0) + 5.0
    polarised = 0.3 * intensity * np.exp(-(((r - 12.0) / 4.0) ** 2))
    position_angle = np.arctan2(-(xx - c), yy - c)  # east of north, east left
    chi = position_angle + np.pi / 2.0  # perpendicular to the star direction
    lefts, rights = [], []
    for h in hwp:
        analysed = polarised * np.cos(2.0 * (2.0 * np.deg2rad(h) - chi))
        left = 0.5 * (intensity + analysed)
        right = 0.5 * (intensity - analysed)
        if gain is not None:
            left, right = left * gain[0], right * gain[1]
        lefts.append(left)
        rights.append(right)
    return np.array(lefts), np.array(rights), np.array(hwp), polarised


def test_double_difference_gives_qphi_equal_to_polarised_intensity():
    left, right, hwp, polarised = _disk_beams()
    result = polarimetric_differential_imaging(left, right, hwp)
    assert np.allclose(result.q_phi, polarised, atol=1e-9 * polarised.max())
    assert np.max(np.abs(result.u_phi)) < 1e-9 * polarised.max()
    assert np.allclose(result.polarized_intensity, polarised, atol=1e-9 * polarised.max())
    assert result.n_cycles == 1


def test_double_ratio_is_insensitive_to_beam_transmission():
    plain = polarimetric_differential_imaging(*_disk_beams()[:3], combination="double_ratio")
    left, right, hwp, polarised = _disk_beams(gain=(1.0, 0.9))
    ratio = polarimetric_differential_imaging(left, right, hwp, combination="double_ratio")
    # The degree of polarisation does not see the 10 % transmission difference.
    assert np.allclose(ratio.q_phi / ratio.i_total, plain.q_phi / plain.i_total, atol=1e-9)
    assert np.max(np.abs(ratio.u_phi)) < 1e-9 * polarised.max()
    assert np.allclose(plain.q_phi, polarised, atol=1e-9 * polarised.max())


def test_tangential_u_is_azimuthal_u():
    size = 32
    q = np.zeros((size, size))
    u = np.ones((size, size))
    q_phi, u_phi = azimuthal_stokes(q, u)
    assert np.allclose(q_phi**2 + u_phi**2, 1.0)


def test_several_cycles_and_noise():
    left, right, hwp, polarised = _disk_beams(hwp=(0.0, 45.0, 22.5, 67.5) * 3)
    rng = np.random.default_rng(1)
    left = left + rng.normal(scale=0.05, size=left.shape)
    right = right + rng.normal(scale=0.05, size=right.shape)
    result = polarimetric_differential_imaging(left, right, hwp)
    assert result.n_cycles == 3
    assert np.std(result.u_phi) < 0.1
    assert np.allclose(result.q_phi, polarised, atol=0.2)


def test_missing_hwp_angle_and_bad_angle():
    left, right, hwp, _ = _disk_beams(hwp=(0.0, 45.0, 22.5))
    with pytest.raises(ValueError, match="full cycle"):
        polarimetric_differential_imaging(left, right, hwp)
    left, right, _, _ = _disk_beams()
    with pytest.raises(ValueError, match="HWP"):
        polarimetric_differential_imaging(left, right, [0.0, 45.0, 22.5, 30.0])


def test_split_beams():
    frames = np.arange(2 * 4 * 6, dtype=float).reshape(2, 4, 6)
    left, right = split_beams(frames)
    assert left.shape == right.shape == (2, 4, 3)
    assert np.array_equal(np.concatenate([left, right], axis=2), frames)
