"""Pure parts of the review widgets: ratios to a reference and the CSV export."""

from __future__ import annotations

import csv
import io

import numpy as np

from hcdc_widgets.contrast_review import CurveEntry, curves_csv, ratio_to_reference


def _entry(process_id: int, separation, contrast) -> CurveEntry:
    return CurveEntry(
        process_id=process_id,
        label=f"{process_id} pca",
        separation_arcsec=np.asarray(separation, dtype=float),
        contrast=np.asarray(contrast, dtype=float),
        algorithm="pca",
        params='{"ncomp": 3}',
        version="1.0",
    )


def test_ratio_interpolates_the_reference_and_does_not_extrapolate():
    reference = _entry(1, [0.2, 0.4, 0.6], [4e-4, 2e-4, 1e-4])
    other = _entry(2, [0.1, 0.3, 0.5, 0.7], [1e-3, 1.5e-4, 3e-4, 1e-4])
    ratio = ratio_to_reference(other, reference)
    assert np.isnan(ratio[0]) and np.isnan(ratio[3])
    np.testing.assert_allclose(ratio[1:3], [1.5e-4 / 3e-4, 3e-4 / 1.5e-4])
    np.testing.assert_allclose(ratio_to_reference(reference, reference), 1.0)


def test_csv_has_one_row_per_point_with_provenance():
    entries = [_entry(7, [0.1, 0.2], [1e-3, 5e-4]), _entry(9, [0.3], [2e-4])]
    rows = list(csv.DictReader(io.StringIO(curves_csv(entries))))
    assert [(r["process_id"], float(r["separation_arcsec"])) for r in rows] == [
        ("7", 0.1),
        ("7", 0.2),
        ("9", 0.3),
    ]
    assert rows[0]["params"] == '{"ncomp": 3}'
    assert float(rows[2]["contrast"]) == 2e-4
