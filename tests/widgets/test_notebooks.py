"""The example notebooks execute top to bottom (nbclient) against a live server."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

import hcdc_kernel as hk

pytestmark = [
    pytest.mark.slow,
    # jupyter_client and zmq deprecations raised while the kernel runs.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
#: Recipes a notebook needs beyond those every hcdc has.
NEEDS = {"03_betapic_adi": {"hci_star_center", "hci_adi_pca", "hci_snr_map", "hci_contrast_curve"}}


@pytest.mark.parametrize(
    "name",
    [
        "01_explore_data",
        "02_launch_and_monitor",
        "03_betapic_adi",
        "04_shared_workspace",
        "05_conditions_and_contrast",
    ],
)
def test_notebook_runs(name, live_server, monkeypatch, tmp_path):
    nbclient = pytest.importorskip("nbclient")
    with hk.connect(live_server.url, live_server.token, login=live_server.login) as dc:
        have = {r.name for r in dc.recipes(include_hidden=True)}
    missing = NEEDS.get(name, set()) - have
    if missing:
        pytest.skip(f"the service has no {', '.join(sorted(missing))} recipe yet")
    colleague = {
        "HCDC_COLLEAGUE": live_server.other_login,
        "HCDC_COLLEAGUE_TOKEN": live_server.other_token,
    }
    for key, value in {**live_server.env, **colleague}.items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    assert any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
