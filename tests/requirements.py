"""What a test needs from the machine, as skip markers that say how to get it.

A machine without esorex or its NACO plugin runs the rest of the suite and reports these tests
as skipped with the reason; CI (``HCDC_TEST_REQUIRE_ALL=1``, set by ``.ci/run``) turns every
skip into a failure, so a missing part never passes unnoticed there.
"""

from __future__ import annotations

import functools
import shutil

import pytest

from hcdc_kernel.recipes.esorex import available_recipes


@functools.cache
def _esorex_recipes() -> frozenset[str]:
    return frozenset(available_recipes())


needs_naco = pytest.mark.skipif(
    "naco_img_dark" not in _esorex_recipes(),
    reason="esorex with cpl-plugin-naco is not installed (apt-get install esorex cpl-plugin-naco)",
)


needs_dachs = pytest.mark.skipif(
    shutil.which("dachs") is None,
    reason="GAVO DaCHS is not installed (as root: bash .ci/setup-dachs, which installs "
    "gavodachs2-server and postgresql-15-pgsphere and repairs pgsphere)",
)
