"""Public data without a token: files and PNG previews for VO clients and DOI landing pages.

Reads go through the visibility rule as :data:`~hcdc_server.services.visibility.PUBLIC` (an
anonymous caller), so a proprietary file answers 404 exactly like one that does not exist.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits
from sqlalchemy.orm import Session, sessionmaker

from hcdc_kernel.products.preview import write_preview
from hcdc_server.exceptions import UnprocessableError
from hcdc_server.services.catalog import CatalogService
from hcdc_server.services.downloads import DownloadFile, safe_filename
from hcdc_server.services.visibility import PUBLIC


class PublicDataService:
    """Files and previews of public data."""

    def __init__(self, sessions: sessionmaker[Session], *, previews_dir: Path) -> None:
        self._catalog = CatalogService(sessions)
        self._previews = previews_dir

    def file(self, data_id: int) -> DownloadFile:
        """A public file (404 when proprietary, absent or missing on storage)."""
        path, name = self._catalog.data_path(PUBLIC, data_id)
        return DownloadFile(path=path, filename=safe_filename(name, data_id))

    def preview(self, data_id: int) -> Path:
        """A PNG of a public FITS file's first image (a cube: its median), made once."""
        path, _ = self._catalog.data_path(PUBLIC, data_id)
        target = self._previews / f"{data_id}.png"
        if target.is_file() and target.stat().st_mtime >= path.stat().st_mtime:
            return target
        image = _first_image(path)
        if image is None:
            raise UnprocessableError(f"data file {data_id} holds no image to preview")
        self._previews.mkdir(parents=True, exist_ok=True)
        # Written aside, then renamed: concurrent requests never serve half a PNG.
        fd, partial = tempfile.mkstemp(dir=self._previews, suffix=".png")
        os.close(fd)
        write_preview(image, Path(partial))
        Path(partial).replace(target)
        return target


def _first_image(path: Path) -> np.ndarray | None:
    with fits.open(path, memmap=False) as hdus:
        for hdu in hdus:
            data = getattr(hdu, "data", None)
            if isinstance(hdu, fits.ImageHDU | fits.PrimaryHDU | fits.CompImageHDU) and (
                data is not None and data.ndim in (2, 3)
            ):
                return np.asarray(data, dtype=np.float64)
    return None
