"""Errors of the SPHERE/IRDIS reduction, each naming the file and the keyword at fault."""

from __future__ import annotations

from pathlib import Path


class SphereDataError(ValueError):
    """Raw data or a calibration that the IRDIS reduction cannot use.

    Attributes
    ----------
    path : pathlib.Path or None
        The file at fault, when the data came from one.
    keyword : str or None
        The FITS keyword at fault (full ``HIERARCH ESO ...`` name), when one is.
    """

    code = "sphere_data"

    def __init__(
        self, message: str, *, path: Path | str | None = None, keyword: str | None = None
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.keyword = keyword
        where = []
        if self.path is not None:
            where.append(f"file {self.path.name}")
        if keyword is not None:
            where.append(f"keyword {keyword}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class KeywordError(SphereDataError):
    """A header keyword the reduction needs is absent or its value is unusable."""

    code = "sphere_keyword"


class CalibrationMismatchError(SphereDataError):
    """A calibration does not match the frames it would correct (DIT, filter, shape)."""

    code = "sphere_calibration_mismatch"
