"""Targets: normalised OBJECT names resolved once through SIMBAD and cached in the database."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Mapping

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
    Resolving (:meth:`resolve`) and storing (:meth:`target_id`) are separate steps, so that the
    network is asked outside any database transaction and no transaction waits on SIMBAD.
    After one failed query (offline site, SIMBAD down) the service stops asking for the rest of
    its life, so an offline ingest of thousands of files does not wait on thousands of timeouts.
    """

    def __init__(self, resolver: SimbadResolver | None) -> None:
        self._resolver = resolver

    @staticmethod
    def unknown_names(session: Session, names: Iterable[str]) -> list[str]:
        """The raw ``names`` whose normalised form has no target row yet (blanks dropped)."""
        by_normalised: dict[str, str] = {}
        for name in names:
            normalised = normalize_object_name(name)
            if normalised:
                by_normalised.setdefault(normalised, name)
        known = set(
            session.scalars(select(Target.name).where(Target.name.in_(list(by_normalised))))
        )
        return [raw for normalised, raw in by_normalised.items() if normalised not in known]

    def resolve(
        self, names: Mapping[str, tuple[float | None, float | None]]
    ) -> dict[str, TargetInfo]:
        """SIMBAD's answers for raw ``names`` (with their header RA, Dec), by normalised name.

        Call it outside any database transaction: it may wait on the network.
        """
        resolved: dict[str, TargetInfo] = {}
        for name, (ra, dec) in names.items():
            normalised = normalize_object_name(name)
            if normalised and normalised not in resolved:
                resolved[normalised] = self._resolve(normalised, ra, dec)
        return resolved

    def target_id(
        self,
        session: Session,
        name: str,
        *,
        ra: float | None = None,
        dec: float | None = None,
        resolved: Mapping[str, TargetInfo] | None = None,
    ) -> int | None:
        """The id of the target called ``name`` (created on first sight); None for blank names.

        A new target takes what :meth:`resolve` found for it in ``resolved``, else the header's
        name and coordinates: this never asks the network.
        """
        normalised = normalize_object_name(name)
        if not normalised:
            return None
        found = session.scalar(select(Target.id).where(Target.name == normalised))
        if found is not None:
            return found
        info = (resolved or {}).get(normalised) or _header_only(normalised, ra, dec)
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
