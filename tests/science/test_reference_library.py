"""Reference library choice by similarity for RDI."""

from __future__ import annotations

import numpy as np
import pytest

from hcdc_kernel.hci.reference_library import frame_similarity, select_reference_frames


@pytest.fixture
def cubes(make_adi_cube):
    science = make_adi_cube(n_frames=10, size=31, seed=1, noise=1.0)
    rng = np.random.default_rng(2)
    # A star like the science one (same speckles, other noise, 3x brighter) and an unrelated one.
    good = 3.0 * science.speckles[None] + rng.normal(scale=1.0, size=(6, 31, 31))
    bad = make_adi_cube(n_frames=8, size=31, seed=7, noise=1.0).cube
    return science.cube, good, bad


@pytest.mark.parametrize("metric", ["correlation", "mse"])
def test_similar_frames_ranked_first(cubes, metric):
    science, good, bad = cubes
    selection = select_reference_frames(
        science, [bad, good], n_frames=6, inner_radius=3, outer_radius=14, metric=metric
    )
    assert set(selection.cube_index[selection.selected]) == {1}
    assert selection.cube_scores[1] > selection.cube_scores[0]
    assert selection.library.shape == (6, 31, 31)
    assert np.array_equal(selection.library, good[selection.frame_index[selection.selected]])


def test_whole_cubes(cubes):
    science, good, bad = cubes
    selection = select_reference_frames(
        science, [bad, good], n_frames=7, inner_radius=3, outer_radius=14, whole_cubes=True
    )
    # The best cube first (6 frames), then the next cube to reach 7 frames.
    assert list(selection.cube_index[selection.selected][:6]) == [1] * 6
    assert selection.selected.size == 14


def test_correlation_is_one_for_a_scaled_copy():
    rng = np.random.default_rng(0)
    frame = rng.normal(size=(1, 20, 20))
    mask = np.ones((20, 20), dtype=bool)
    assert frame_similarity(frame, 5 * frame + 2, mask=mask)[0, 0] == pytest.approx(1.0)
    assert frame_similarity(frame, 5 * frame, mask=mask, metric="mse")[0, 0] == pytest.approx(0.0)


def test_bad_candidates(cubes):
    science, good, _ = cubes
    with pytest.raises(ValueError, match="no candidate"):
        select_reference_frames(science, [], n_frames=3, inner_radius=2, outer_radius=10)
    with pytest.raises(ValueError, match="shape"):
        select_reference_frames(
            science, [good[:, :20, :20]], n_frames=3, inner_radius=2, outer_radius=10
        )
