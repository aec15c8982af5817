"""Raw frames to companions on the demo nights: every injected companion, nothing else.

The ird_* recipes calibrate, centre and angle each night; ``hci_companion_characterization``
with the ``irdis_dbi`` workflow's parameters detects and fits the companions of each field.
Against the generator's truth (``companions.json``), per field: the position within 0.5 px,
the contrast within 15 %, and no other source at S/N >= 5 in the searched region (beyond
3 FWHM, where the workflow searches). Measured on the quick nights (seed 20190527 and 7):
positions within 0.21 px, contrasts within 7 %.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from hcdc_kernel.demo import read_companions, write_demo_nights
from hcdc_kernel.frames import classify
from hcdc_kernel.recipes.workflow import IRDIS_COMPANION_PARAMS
from tests.sphere.chain import paths, post_process, reduce_night
from tests.sphere.conftest import SIZE, DemoNight, IrdisDemo

OTHER_SEED = 7


def nights_of(root: Path) -> list[DemoNight]:
    truth = json.loads((root / "companions.json").read_text())
    nights = []
    for night_truth in truth["nights"]:
        files: dict[tuple[str, float], list[Path]] = {}
        for path in sorted((root / "raw" / night_truth["night"]).glob("*.fits")):
            header = fits.getheader(path)
            frame_type, _ = classify(dict(header))
            files.setdefault((frame_type, float(header["HIERARCH ESO DET SEQ1 DIT"])), []).append(
                path
            )
        nights.append(DemoNight(night=night_truth["night"], files=files, truth=night_truth))
    return nights


@pytest.fixture(scope="module")
def other_seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("seed7")
    write_demo_nights(root, seed=OTHER_SEED, size=SIZE, quick=True)
    return root


def check_night(night: DemoNight, root: Path, out: Path) -> list[str]:
    """Reduce a night to companions; assert against the truth; return the measured figures."""
    reduced = reduce_night(night, out)
    truth = [c for c in read_companions(root / "companions.json") if c.night == night.night]
    figures = []
    for field in night.truth["fields"]:
        name = field["filter"]
        manifest = post_process(reduced, name, out)
        (table_path,) = [p for p in paths(manifest, "HCI_COMPANION_TABLE") if p.suffix == ".fits"]
        table = Table.read(table_path)
        (companion,) = [c for c in truth if c.filter == name]
        centre = SIZE // 2
        theta = math.radians(companion.pa_deg)
        true_x = centre - companion.sep_px * math.sin(theta)
        true_y = centre + companion.sep_px * math.cos(theta)
        # Every source above S/N 5 beyond 3 FWHM is listed: exactly the injected one.
        assert len(table) == 1, f"{night.night} {name}: {len(table)} sources at S/N >= 5"
        row = table[0]
        offset = math.hypot(float(row["x"]) - true_x, float(row["y"]) - true_y)
        error = float(row["contrast"]) / companion.contrast - 1.0
        figures.append(
            f"{night.night} {name}: offset {offset:.3f} px, contrast {error:+.1%}, "
            f"S/N {float(row['snr']):.1f}"
        )
        assert offset < 0.5, figures[-1]
        assert abs(error) < 0.15, figures[-1]
        (snr_path,) = paths(manifest, "HCI_SNR_MAP")
        snr = fits.getdata(snr_path)
        fwhm = float(manifest.qc.get("fwhm_px") or 3.6)
        yy, xx = np.indices(snr.shape)
        searched = (
            np.hypot(xx - centre, yy - centre)
            >= IRDIS_COMPANION_PARAMS["min_separation_fwhm"] * fwhm
        )
        away = np.hypot(xx - true_x, yy - true_y) > 2.0 * fwhm
        assert not np.any(np.nan_to_num(snr)[searched & away] >= 5.0), figures[-1]
    return figures


@pytest.mark.parametrize("index", [0, 1])
def test_demo_night_companions_are_recovered(
    irdis_demo: IrdisDemo, tmp_path: Path, index: int
) -> None:
    figures = check_night(irdis_demo.nights[index], irdis_demo.root, tmp_path)
    print("; ".join(figures))


def test_another_seed_recovers_its_companions(other_seed: Path, tmp_path: Path) -> None:
    figures = []
    for index, night in enumerate(nights_of(other_seed)):
        figures += check_night(night, other_seed, tmp_path / str(index))
    print("; ".join(figures))
