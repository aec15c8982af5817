"""Targets: normalised OBJECT names resolved once through SIMBAD and cached in the database."""

from __future__ import annotations

import logging
import warnings

from sqlalchemy import select
from sqlalchemy.orm import Session

from hcdc_kernel.targets import (
    SimbadResolver,
    TargetInfo,
    TargetResolutionWarning,
    normalize_object_name,
)
from hcdc_server.schema.tables import Target
from hcdc_server.services.users import utcnow

log = logging.getLogger(__name__)


class TargetService:
    """Find or create the target row of an OBJECT name.

    The database is the cache: a name is resolved through SIMBAD only the first time it is seen.
    After one failed query (offline site, SIMBAD down) the service stops asking for the rest of
    its life, so an offline ingest of thousands of files does not wait on thousands of timeouts.
    """

    def __init__(self, resolver: SimbadResolver | None) -> None:
        self._resolver = resolver

    def target_id(
        self, session: Session, name: str, *, ra: float | None = None, dec: float | None = None
    ) -> int | None:
        """The id of the target called ``name`` (created on first sight); None for blank names."""
        normalised = normalize_object_name(name)
        if not normalised:
            return None
        found = session.scalar(select(Target.id).where(Target.name == normalised))
        if found is not None:
            return found
        info = self._resolve(normalised, ra, dec)
        target = Target(
            name=normalised,
            main_id=info.main_id,
            ra=info.ra_deg if info.ra_deg is not None else ra,
            dec=info.dec_deg if info.dec_deg is not None else dec,
            sp_type=info.sp_type,
            simplified_sp_type=info.simplified_sp_type,
            luminosity_class=info.luminosity_class,
            mag_g=info.mag_g,
            mag_h=info.mag_h,
            mag_k=info.mag_k,
            parallax_mas=info.parallax_mas,
            source="simbad" if info.source in ("simbad", "cache") else "header",
            resolved_at=utcnow(),
        )
        session.add(target)
        session.flush()
        return target.id

    def _resolve(self, name: str, ra: float | None, dec: float | None) -> TargetInfo:
        if self._resolver is None:
            return _header_only(name, ra, dec)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", TargetResolutionWarning)
            info = self._resolver.resolve(name, header_ra=ra, header_dec=dec)
        for warning in caught:
            log.warning("%s", warning.message)
        if any("unreachable" in str(w.message) for w in caught):
            log.warning("SIMBAD unavailable: targets keep their header names for this run")
            self._resolver = None
        return info


def _header_only(name: str, ra: float | None, dec: float | None) -> TargetInfo:
    return TargetInfo(name=name, ra_deg=ra, dec_deg=dec, source="header")
