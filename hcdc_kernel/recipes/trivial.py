"""Trivial recipes for tests, benchmarks and smoke checks of a deployment.

``hcdc_sleep`` waits and can fail on purpose (exception, usage error, hard crash), so the
dispatcher's failure handling is tested with real processes. ``hcdc_echo`` writes one small
FITS product describing its inputs, so workflows can pass products between steps.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from hcdc_kernel.jobs.context import JobContext, RecipeOutcome, RecipeUsageError


def run_sleep(context: JobContext) -> RecipeOutcome:
    """Sleep ``seconds`` (reporting progress), then end as ``fail`` says."""
    seconds = float(context.params.get("seconds", 0.0))
    fail = str(context.params.get("fail", "none"))
    record = str(context.params.get("record", ""))
    if record:
        # One line per execution, appended atomically: tests count how often each process ran.
        with Path(record).open("a") as stream:
            stream.write(f"{context.process_id}\n")
    steps = max(1, min(20, int(seconds * 4)))
    for step in range(steps):
        if seconds > 0:
            time.sleep(seconds / steps)
        context.progress(100.0 * (step + 1) / steps, f"slept {seconds * (step + 1) / steps:.2f} s")
    if fail == "raise":
        raise RuntimeError("hcdc_sleep failed on purpose")
    if fail == "usage":
        raise RecipeUsageError("hcdc_sleep refused its parameters on purpose")
    if fail == "crash":
        print("hcdc_sleep: crashing on purpose (SIGKILL)", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    return RecipeOutcome(products=(), qc={"SLEPT": seconds})


def run_echo(context: JobContext) -> RecipeOutcome | None:
    """Write ``echo.fits`` whose header lists the inputs; category from the params."""
    import numpy as np
    from astropy.io import fits

    header = fits.Header()
    header["HIERARCH HCDC PRO CATG"] = str(context.params.get("category", "HCDC_ECHO"))
    header["HIERARCH ESO QC NINPUTS"] = len(context.inputs)
    header["HIERARCH ESO QC MESSAGE"] = str(context.params.get("message", ""))[:60]
    for index, item in enumerate(context.inputs[:50]):
        header[f"HIERARCH HCDC IN{index} TAG"] = item.tag
    data = np.full((4, 4), len(context.inputs), dtype=np.int16)
    # A distinct value per run, so each product has its own checksum (data files are unique
    # by content).
    header["HIERARCH HCDC RUN"] = f"{context.output_dir.parent.name}-{time.time_ns()}"
    fits.PrimaryHDU(data=data, header=header).writeto(context.output_dir / "echo.fits")
    context.progress(100.0, "written")
    return None
