"""Recipe management: the built-in registry in the database, versions, hiding, current version.

The ``recipes`` table is the registry of record: each row stores a :class:`RecipeSpec` as JSON.
Built-in specs are inserted when missing, by `hcdc init` / `hcdc db upgrade` (existing rows
are never overwritten, so an administrator's changes stay); reading never writes. Whether an
esorex recipe can run is decided at run time on this installation, never stored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hcdc_kernel.recipes.registry import builtin_recipes, with_availability
from hcdc_kernel.recipes.spec import RecipeSpec, SpecFormatError
from hcdc_server.exceptions import ConflictError, InvalidInputError, NotFoundError
from hcdc_server.models.processes import RecipeModel
from hcdc_server.schema.tables import Recipe, RecipePreset
from hcdc_server.services.stamped_cache import StampedCache
from hcdc_server.services.users import utcnow


class RecipeService:
    """List recipes, add versions, hide recipes and choose the current version."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        cache: StampedCache[tuple[int, RecipeSpec] | RecipeModel] | None = None,
    ) -> None:
        self._sessions = sessions
        self._cache = cache

    def sync_builtin(self, specs: Sequence[RecipeSpec] | None = None) -> int:
        """Insert built-in recipe versions not yet in the database; return how many.

        Run once by `hcdc init`, `hcdc db upgrade` and `hcdc demo`
        (:meth:`~hcdc_server.factory.Factory.init_database`), never by a read.
        """
        specs = builtin_recipes() if specs is None else specs
        try:
            return self._insert_missing(specs)
        except IntegrityError:
            # Another process stored some of them first: the rest are inserted now.
            return self._insert_missing(specs)

    def _insert_missing(self, specs: Sequence[RecipeSpec]) -> int:
        added = 0
        with self._sessions.begin() as session:
            existing = {
                (r.name, r.version) for r in session.execute(select(Recipe.name, Recipe.version))
            }
            current = set(session.scalars(select(Recipe.name).where(Recipe.is_current)))
            for spec in specs:
                if (spec.name, spec.version) in existing:
                    continue
                session.add(_row(spec, is_current=spec.name not in current))
                current.add(spec.name)
                added += 1
        return added

    def list_recipes(self, *, include_hidden: bool = False) -> list[RecipeModel]:
        """Every recipe version (current first per name), with JSON Schema of its parameters."""
        with self._sessions() as session:
            query = select(Recipe).order_by(Recipe.name, Recipe.is_current.desc(), Recipe.id)
            if not include_hidden:
                query = query.where(Recipe.is_hidden.is_(False))
            rows = list(session.scalars(query))
            presets = _presets(session, [r.id for r in rows])
            return [_model(r, presets.get(r.id, {})) for r in rows]

    def model(self, name: str, version: str | None = None) -> RecipeModel:
        """One version (default the current) as the API shows it; 404 when unknown.

        Kept a few seconds per process, like :meth:`get` (each launch checks it).
        """
        if self._cache is None:
            return self._model(name, version)
        found = self._cache.get_or_load(
            ("model", name, version), lambda: (self._model(name, version), None), now=utcnow
        )
        assert isinstance(found, RecipeModel)
        return found

    def _model(self, name: str, version: str | None) -> RecipeModel:
        with self._sessions() as session:
            row = self._row(session, name, version)
            return _model(row, _presets(session, [row.id]).get(row.id, {}))

    def get(self, name: str, version: str | None = None) -> tuple[int, RecipeSpec]:
        """The row id and spec (availability checked here) of a version, default the current.

        Kept a few seconds per process (every launch reads it); any recipe change empties it.
        """
        if self._cache is None:
            return self._get(name, version)
        found = self._cache.get_or_load(
            ("spec", name, version), lambda: (self._get(name, version), None), now=utcnow
        )
        assert isinstance(found, tuple)
        return found

    def _get(self, name: str, version: str | None) -> tuple[int, RecipeSpec]:
        with self._sessions() as session:
            row = self._row(session, name, version)
            extra = _presets(session, [row.id]).get(row.id, {})
            return row.id, _readable_spec(row, extra)

    def spec_by_id(self, recipe_id: int) -> RecipeSpec:
        with self._sessions() as session:
            row = session.get(Recipe, recipe_id)
            if row is None:
                raise NotFoundError(f"no recipe with id {recipe_id}")
            return _readable_spec(row, _presets(session, [row.id]).get(row.id, {}))

    @staticmethod
    def _row(session: Session, name: str, version: str | None) -> Recipe:
        query = select(Recipe).where(Recipe.name == name)
        query = (
            query.where(Recipe.version == version)
            if version
            else query.order_by(Recipe.is_current.desc(), Recipe.id.desc())
        )
        row = session.scalars(query.limit(1)).first()
        if row is None:
            what = f"{name} version {version}" if version else name
            raise NotFoundError(f"no recipe {what}")
        return row

    def add_version(
        self,
        name: str,
        version: str,
        *,
        from_version: str | None = None,
        changes: Mapping[str, Any] | None = None,
        make_current: bool = False,
    ) -> RecipeModel:
        """A new version of ``name``, copied from ``from_version`` (default current) with changes.

        ``changes`` holds top-level fields of the spec's JSON form (``entry``, ``params``,
        ``inputs``, ``description``, ...).
        """
        with self._sessions.begin() as session:
            base = self._row(session, name, from_version)
            if session.scalar(
                select(Recipe.id).where(Recipe.name == name, Recipe.version == version)
            ):
                raise ConflictError(f"recipe {name} version {version} already exists")
            data = {**base.spec, **(changes or {}), "name": name, "version": version}
            try:
                spec = RecipeSpec.from_dict(data)
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidInputError(f"invalid recipe spec for {name} {version}: {exc}") from exc
            row = _row(spec, is_current=False)
            row.is_hidden = base.is_hidden
            session.add(row)
            session.flush()
            if make_current:
                _make_current(session, name, row.id)
            session.flush()
            return _model(row, {})

    def set_hidden(self, name: str, *, hidden: bool = True) -> int:
        """Hide (or show) every version of a recipe; return how many rows changed."""
        with self._sessions.begin() as session:
            ids = session.scalars(select(Recipe.id).where(Recipe.name == name)).all()
            if not ids:
                raise NotFoundError(f"no recipe {name}")
            session.execute(update(Recipe).where(Recipe.name == name).values(is_hidden=hidden))
            return len(ids)

    def set_current(self, name: str, version: str) -> RecipeModel:
        """Mark ``version`` as the current pipeline version of ``name``."""
        with self._sessions.begin() as session:
            row = self._row(session, name, version)
            _make_current(session, name, row.id)
            session.flush()
            session.refresh(row)
            return _model(row, _presets(session, [row.id]).get(row.id, {}))

    def add_preset(
        self, name: str, preset: str, params: Mapping[str, Any], *, version: str | None = None
    ) -> None:
        """Store a named parameter set (checked against the recipe's parameters)."""
        recipe_id, spec = self.get(name, version)
        spec.resolve_params(params)
        with self._sessions.begin() as session:
            existing = session.scalar(
                select(RecipePreset).where(
                    RecipePreset.recipe_id == recipe_id, RecipePreset.name == preset
                )
            )
            if existing is None:
                session.add(RecipePreset(recipe_id=recipe_id, name=preset, params=dict(params)))
            else:
                existing.params = dict(params)


def _row(spec: RecipeSpec, *, is_current: bool) -> Recipe:
    return Recipe(
        name=spec.name,
        version=spec.version,
        kind=spec.kind,
        instrument=spec.instrument,
        description=spec.description,
        is_hidden=spec.hidden,
        is_current=is_current,
        needs_validation=spec.needs_validation,
        spec={**spec.to_dict(), "unavailable": None},
        created_at=utcnow(),
    )


def _make_current(session: Session, name: str, recipe_id: int) -> None:
    session.execute(update(Recipe).where(Recipe.name == name).values(is_current=False))
    session.execute(update(Recipe).where(Recipe.id == recipe_id).values(is_current=True))


def _presets(session: Session, ids: Sequence[int]) -> dict[int, dict[str, dict[str, Any]]]:
    found: dict[int, dict[str, dict[str, Any]]] = {}
    if ids:
        for preset in session.scalars(select(RecipePreset).where(RecipePreset.recipe_id.in_(ids))):
            found.setdefault(preset.recipe_id, {})[preset.name] = dict(preset.params)
    return found


def spec_of(row: Recipe, extra_presets: Mapping[str, Mapping[str, Any]]) -> RecipeSpec:
    """The stored spec with the row's flags, stored presets and availability here."""
    spec = RecipeSpec.from_dict(row.spec)
    spec = dataclasses.replace(
        spec,
        hidden=row.is_hidden,
        needs_validation=row.needs_validation,
        presets={**spec.presets, **extra_presets},
    )
    return with_availability(spec)


def _readable_spec(row: Recipe, extra_presets: Mapping[str, Mapping[str, Any]]) -> RecipeSpec:
    """:func:`spec_of`, a broken stored spec being a 409 naming the version."""
    try:
        return spec_of(row, extra_presets)
    except SpecFormatError as exc:
        raise ConflictError(
            f"recipe {row.name} version {row.version} cannot be used: {exc}"
        ) from exc


def _model(row: Recipe, extra_presets: Mapping[str, Mapping[str, Any]]) -> RecipeModel:
    row_fields: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "version": row.version,
        "kind": row.kind,
        "instrument": row.instrument,
        "description": row.description,
        "is_hidden": row.is_hidden,
        "is_current": row.is_current,
        "needs_validation": row.needs_validation,
    }
    try:
        spec = spec_of(row, extra_presets)
    except SpecFormatError as exc:
        # Listed, not hidden and not a 500: an operator must see the broken version to fix it.
        return RecipeModel(
            **row_fields,
            available=False,
            unavailable_reason=f"stored spec cannot be read: {exc}",
            inputs=[],
            outputs=[],
            presets={},
            params_schema={"type": "object", "properties": {}},
        )
    data = spec.to_dict()
    return RecipeModel(
        **row_fields,
        available=spec.available,
        unavailable_reason=spec.unavailable,
        inputs=data["inputs"],
        outputs=data["outputs"],
        presets=data["presets"],
        params_schema=spec.params_schema(),
    )
