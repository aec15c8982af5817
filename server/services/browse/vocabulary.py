"""The browse vocabularies as data: every filter, switch and item key of process_list and
data_list, each mapped to one rule.

Filter names are the seed's upper-case names; an item key is the lower-case filter name (the id
filter gives ``id``). Keys usable in ``sort``, ``group`` and ``extract`` are exactly the item
keys listed here: nothing a client sends reaches SQL as an identifier.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any, Literal

from sqlalchemy import ColumnElement, FromClause, Select, Table, and_, not_, or_, select

from hcdc_kernel.enums import ProcessStatus, ValidationStatus
from hcdc_server.schema import tables as t
from hcdc_server.services.browse.conditions import data_condition_rules, process_condition_rules
from hcdc_server.services.browse.rules import (
    AttributeRule,
    CallerRule,
    ColumnRule,
    ConeRule,
    Context,
    DatePartRule,
    EnumRule,
    IdListRule,
    IdOrNameRule,
    LabelledRule,
    LabelPredicate,
    LinkedFileRule,
    LookupRule,
    MjdRule,
    RelatedByRule,
    Rule,
    SwitchRule,
)
from hcdc_server.services.browse.values import parse_condition
from hcdc_server.services.visibility import nameable_workspaces

ResourceName = Literal["process", "data"]


@dataclass(frozen=True)
class Join:
    """A table joined (LEFT OUTER) to the main table for item keys."""

    table: FromClause
    on: ColumnElement[bool]


@dataclass(frozen=True)
class Vocabulary:
    """Filters, switches, item keys and joins of one browse endpoint."""

    resource: ResourceName
    endpoint: str
    table: Table
    id_column: ColumnElement[Any]
    filters: Mapping[str, Rule]
    switches: Mapping[str, Rule]
    joins: Mapping[str, Join]
    #: Filter names whose value names a workspace (a restricted user must give one).
    workspace_filters: frozenset[str]
    #: Filter name -> item key, where it is not the lower-case name.
    key_names: Mapping[str, str] = field(default_factory=dict)
    #: Item keys with no filter of their own.
    extra_keys: Mapping[str, ColumnElement[Any]] = field(default_factory=dict)
    #: Filter names that are aliases of another filter (no key of their own).
    aliases: frozenset[str] = frozenset()

    @cached_property
    def key_sql(self) -> dict[str, ColumnElement[Any]]:
        """Item key -> its SQL as the compiler built it, kept: building a correlated lookup
        costs about 0.3 ms, and a page names every key (filled by the compiler)."""
        return {}

    @cached_property
    def keys(self) -> dict[str, tuple[ColumnElement[Any], str | None]]:
        """Item key -> (SQL expression, join name or None): ``id`` first, then by name."""
        keys: dict[str, tuple[ColumnElement[Any], str | None]] = {}
        for name, rule in self.filters.items():
            if name in self.aliases:
                continue
            expression = rule.key_expression()
            if expression is not None:
                keys[self.key_names.get(name, name.lower())] = (expression, rule.join)
        for key, expression in self.extra_keys.items():
            keys[key] = (expression, None)
        ordered = {"id": keys.pop("id")}
        ordered.update(sorted(keys.items()))
        return ordered


# Core tables (typed as Table so that ``.c`` gives SQL columns).
P = t.Process.__table__.c
D = t.DataFile.__table__.c
R = t.Recipe.__table__.c
U = t.User.__table__.c
W = t.Workspace.__table__.c
B = t.Batch.__table__.c
WF = t.Workflow.__table__.c
TG = t.Target.__table__.c
O = t.Observation.__table__.c  # noqa: E741 - the observations table
PI = t.ProcessInput.__table__.c
PO = t.ProcessOutput.__table__.c
PA = t.ProcessAttribute.__table__.c
WD = t.WorkspaceData.__table__.c


def _target_rules(fk: ColumnElement[Any]) -> dict[str, Rule]:
    """Star and target filters through a ``target_id`` foreign key."""

    def lookup(column: ColumnElement[Any], value_type: Any = "str") -> LookupRule:
        return LookupRule(fk, TG.id, column, value_type, join="target")

    return {
        "TARGET_NAME": lookup(TG.name),
        "TARGET_IDENTIFIER": lookup(TG.main_id),
        "STAR_MAG_G": lookup(TG.mag_g, "float"),
        "STAR_MAG_H": lookup(TG.mag_h, "float"),
        "STAR_MAG_K": lookup(TG.mag_k, "float"),
        "STAR_PARALLAX": lookup(TG.parallax_mas, "float"),
        "STAR_SPECTRAL_TYPE": lookup(TG.sp_type),
        "STAR_SIMPLIFIED_SPECTRAL_TYPE": lookup(TG.simplified_sp_type),
        "STAR_LUMINOSITY": lookup(TG.luminosity_class),
    }


def _date_rules(prefix: str, column: ColumnElement[Any]) -> dict[str, Rule]:
    return {
        f"{prefix}_YEAR": DatePartRule(column, "year"),
        f"{prefix}_MONTH": DatePartRule(column, "month"),
        f"{prefix}_DAY": DatePartRule(column, "day"),
        f"{prefix}_YEAR_MONTH": DatePartRule(column, "year_month"),
    }


#: How a process was launched (``processes.launcher_type``).
LAUNCHER_TYPES = ("user", "workflow", "auto")


def _version_labels(current: Callable[[], ColumnElement[bool]]) -> dict[str, LabelPredicate]:
    """The seed's pipeline version labels: ``production`` is the current version, ``test`` any
    other one (``current`` builds "made by the current version" on the main table)."""
    return {
        "production": lambda context: current(),
        "test": lambda context: not_(current()),
    }


def _current_recipe() -> ColumnElement[bool]:
    return P.recipe_id.in_(select(R.id).where(R.is_current.is_(True)).scalar_subquery())


def _current_workflow() -> ColumnElement[bool]:
    return P.workflow_id.in_(select(WF.id).where(WF.is_current.is_(True)).scalar_subquery())


def _output_version_labels() -> dict[str, LabelPredicate]:
    """DATA_PIPELINE_VERSION labels on process_list: outputs (that the caller sees) carrying a
    pipeline version, made by the current version of the process's recipe, or another."""

    def made(current: bool) -> LabelPredicate:
        def predicate(context: Context) -> ColumnElement[bool]:
            outputs = (
                select(PO.process_id)
                .join(t.DataFile.__table__, D.id == PO.data_file_id)
                .where(D.pipeline_version.is_not(None))
            )
            seen = context.visible("data")
            if seen is not None:
                outputs = outputs.where(seen)
            by_version = _current_recipe() if current else not_(_current_recipe())
            return and_(P.id.in_(outputs.scalar_subquery()), by_version)

        return predicate

    return {"production": made(True), "test": made(False)}


def _data_version_labels() -> dict[str, LabelPredicate]:
    """DATA_PIPELINE_VERSION labels on data_list: files carrying a pipeline version whose
    producing process ran the current version of its recipe, or another."""

    def made(current: bool) -> LabelPredicate:
        def predicate(context: Context) -> ColumnElement[bool]:
            recipes = select(R.id).where(R.is_current.is_(current))
            producers = select(P.id).where(P.recipe_id.in_(recipes.scalar_subquery()))
            files = select(PO.data_file_id).where(PO.process_id.in_(producers.scalar_subquery()))
            return and_(D.pipeline_version.is_not(None), D.id.in_(files.scalar_subquery()))

        return predicate

    return {"production": made(True), "test": made(False)}


def _producers(ids: ColumnElement[Any]) -> Select[Any]:
    """Processes that produced an input of the given processes."""
    inputs = select(PI.data_file_id).where(PI.process_id.in_(ids))
    return select(PO.process_id).where(PO.data_file_id.in_(inputs.scalar_subquery()))


def _consumers(ids: ColumnElement[Any]) -> Select[Any]:
    """Processes that consumed an output of the given processes."""
    outputs = select(PO.data_file_id).where(PO.process_id.in_(ids))
    return select(PI.process_id).where(PI.data_file_id.in_(outputs.scalar_subquery()))


def _consumed_by(ids: ColumnElement[Any]) -> Select[Any]:
    """Data files that the given processes took as inputs."""
    return select(PI.data_file_id).where(PI.process_id.in_(ids))


def _produced_by(ids: ColumnElement[Any]) -> Select[Any]:
    """Data files that the given processes produced."""
    return select(PO.data_file_id).where(PO.process_id.in_(ids))


@cache
def process_vocabulary() -> Vocabulary:
    """process_list: every process filter and switch of the seed."""
    inputs = ((PI.process_id, PI.data_file_id),)
    outputs = ((PO.process_id, PO.data_file_id),)

    def input_file(column: ColumnElement[Any], value_type: Any = "str") -> LinkedFileRule:
        return LinkedFileRule(P.id, inputs, D.id, column, value_type)

    workspace = LookupRule(P.workspace_id, W.id, W.name, join="workspace")
    process_id = ColumnRule(P.id, "int")
    filters: dict[str, Rule] = {
        "PROCESS_ID": process_id,
        "PROCESS_NUMBER": process_id,
        "PROCESS_LIST": IdListRule(P.id),
        "BATCH_ID": ColumnRule(P.batch_id, "int"),
        "BATCH_NAME": LookupRule(P.batch_id, B.id, B.name, join="batch"),
        "WORKSPACE": workspace,
        "CURRENT_WORKSPACE": workspace,
        "WORKSPACE_GROUP": LookupRule(P.workspace_id, W.id, W.group_name, join="workspace"),
        "USER": LookupRule(P.user_id, U.id, U.login, join="user"),
        "USER_EMAIL": LookupRule(P.user_id, U.id, U.email, join="user"),
        "LAUNCHER": _LauncherRule(),
        "LAUNCHER_TYPE": EnumRule(P.launcher_type, allowed=LAUNCHER_TYPES),
        "RECIPE": IdOrNameRule(P.recipe_id, R.id, R.name),
        "RECIPE_NAME": LookupRule(P.recipe_id, R.id, R.name, join="recipe"),
        "PIPELINE_VERSION": LabelledRule(
            LookupRule(P.recipe_id, R.id, R.version, join="recipe"),
            _version_labels(_current_recipe),
            join="recipe",
        ),
        "RECIPE_PRESET": ColumnRule(P.recipe_preset),
        "WORKFLOW": LookupRule(P.workflow_id, WF.id, WF.name, join="workflow"),
        "WORKFLOW_PIPELINE_VERSION": LabelledRule(
            LookupRule(P.workflow_id, WF.id, WF.version, join="workflow"),
            _version_labels(_current_workflow),
            join="workflow",
        ),
        "WORKFLOW_PRESET": LookupRule(P.batch_id, B.id, B.workflow_preset, join="batch"),
        "WORKFLOW_STEP": ColumnRule(P.workflow_step),
        "WORKFLOW_RECIPE": LookupRule(P.recipe_id, R.id, R.name, also=P.workflow_id.is_not(None)),
        "PROCESS_STATUS": EnumRule(P.status, allowed=tuple(s.value for s in ProcessStatus)),
        "PROCESS_VALIDATION_STATUS": EnumRule(
            P.validation_status, allowed=tuple(s.value for s in ValidationStatus)
        ),
        "PROCESS_DATE": ColumnRule(P.created_at, "datetime"),
        **_date_rules("PROCESS_DATE", P.created_at),
        "RUN_SERVER": ColumnRule(P.server),
        "INSTRUMENT": ColumnRule(P.instrument),
        "OBS_NIGHT_DATE": ColumnRule(P.obs_night, "date"),
        **_date_rules("OBS_NIGHT_DATE", P.obs_night),
        "OBSERVATION_DATE": ColumnRule(P.obs_date, "datetime"),
        **_date_rules("OBSERVATION_DATE", P.obs_date),
        "MJD_OBS": MjdRule(P.obs_date),
        "OBS_ID": ColumnRule(P.obs_id, "int"),
        "PROG_ID": ColumnRule(P.prog_id),
        "PI_COI_NAME": LookupRule(P.obs_id, O.obs_id, O.pi_coi),
        **_target_rules(P.target_id),
        "COORD_RA": LookupRule(P.target_id, TG.id, TG.ra, "float", join="target"),
        "COORD_DEC": LookupRule(P.target_id, TG.id, TG.dec, "float", join="target"),
        "CONE": ConeRule(TG.ra, TG.dec, via=(P.target_id, TG.id)),
        "OBJECT": input_file(D.object),
        "DATA_FRAME_TYPE": input_file(D.frame_type),
        "DEROTATOR_MODE": input_file(D.derotator_mode),
        "INSTRUMENT_FILTER": input_file(D.instrument_filter),
        "EXP_TIME": input_file(D.exptime, "float"),
        "STANDARD": input_file(D.is_standard, "bool"),
        "DATA_PIPELINE_VERSION": LabelledRule(
            LinkedFileRule(P.id, outputs, D.id, D.pipeline_version), _output_version_labels()
        ),
        "DATA_FILE_ID": LinkedFileRule(P.id, inputs + outputs, D.id, None, "int"),
        "DATA_IN_OUT": RelatedByRule(
            P.id,
            {"producer": _producers, "consumer": _consumers},
            P.id,
            switch_for={
                "SWITCH_PRODUCER_LIST": "producer",
                "SWITCH_CONSUMER_LIST": "consumer",
            },
        ),
        "EXTENDED_ATTRIBUTE": AttributeRule(P.id, PA.process_id, PA.key, PA.value),
        **process_condition_rules(),
    }
    switches: dict[str, Rule] = {
        "FILTER_NO_HIDDEN_RECIPES": SwitchRule(
            P.recipe_id.in_(select(R.id).where(R.is_hidden.is_(False)).scalar_subquery())
        ),
        "FILTER_PROCESS_EXCLUDE_REPROCESSED": SwitchRule(P.reprocessed_by_id.is_(None)),
        "FILTER_NO_WORKSPACE": SwitchRule(P.workspace_id.is_(None)),
        "FILTER_PROCESS_NEED_VALIDATION": SwitchRule(
            P.validation_status == ValidationStatus.TO_VALIDATE.value
        ),
        "FILTER_PIPELINE_CURRENT_VERSION": SwitchRule(
            P.recipe_id.in_(select(R.id).where(R.is_current.is_(True)).scalar_subquery())
        ),
        "FILTER_PIPELINE_WORKFLOW_CURRENT_VERSION": SwitchRule(
            or_(
                P.workflow_id.is_(None),
                P.workflow_id.in_(select(WF.id).where(WF.is_current.is_(True)).scalar_subquery()),
            )
        ),
        "FILTER_RESTRICT_USER": CallerRule(P.user_id),
        "SWITCH_PRODUCER_LIST": SwitchRule(modifies="DATA_IN_OUT"),
        "SWITCH_CONSUMER_LIST": SwitchRule(modifies="DATA_IN_OUT"),
    }
    joins = {
        "recipe": Join(t.Recipe.__table__, R.id == P.recipe_id),
        "user": Join(t.User.__table__, U.id == P.user_id),
        "workspace": Join(t.Workspace.__table__, W.id == P.workspace_id),
        "batch": Join(t.Batch.__table__, B.id == P.batch_id),
        "workflow": Join(t.Workflow.__table__, WF.id == P.workflow_id),
        "target": Join(t.Target.__table__, TG.id == P.target_id),
    }
    return Vocabulary(
        resource="process",
        endpoint="process_list",
        table=t.Process.__table__,
        id_column=P.id,
        filters=filters,
        switches=switches,
        joins=joins,
        workspace_filters=frozenset({"WORKSPACE", "CURRENT_WORKSPACE"}),
        key_names={"PROCESS_ID": "id", "RECIPE": "recipe_id"},
        extra_keys={
            "progress": P.progress,
            "reference": P.reference,
            "started_at": P.started_at,
            "ended_at": P.ended_at,
            "estimated_duration_s": P.estimated_duration_s,
        },
        aliases=frozenset({"PROCESS_NUMBER", "PROCESS_LIST", "CURRENT_WORKSPACE"}),
    )


@dataclass(frozen=True)
class _LauncherRule(Rule):
    """LAUNCHER: processes whose batch was launched by a user matching the login."""

    def predicate(self, name: str, raw: Any, context: Context) -> ColumnElement[bool]:
        condition = parse_condition(raw, "str", name=name)
        launchers = select(U.id).where(condition.on(U.login))
        launched_by: ColumnElement[bool] = B.user_id.in_(launchers.scalar_subquery())
        if condition.is_null:
            launched_by = or_(B.user_id.is_(None), launched_by)
        batches = select(B.id).where(launched_by)
        result: ColumnElement[bool] = P.batch_id.in_(batches.scalar_subquery())
        return or_(P.batch_id.is_(None), result) if condition.is_null else result


@dataclass(frozen=True)
class _WorkspaceDataRule(Rule):
    """Data files shared with a workspace matching a condition on a workspace column.

    Only workspaces the caller may name count (:func:`visibility.nameable_workspaces`).
    """

    column: ColumnElement[Any]

    def predicate(self, name: str, raw: Any, context: Context) -> ColumnElement[bool]:
        condition = parse_condition(raw, "str", name=name)
        workspaces = select(W.id).where(
            condition.on(self.column), nameable_workspaces(context.viewer)
        )
        members = select(WD.data_file_id).where(WD.workspace_id.in_(workspaces.scalar_subquery()))
        return D.id.in_(members.scalar_subquery())


@cache
def data_vocabulary() -> Vocabulary:
    """data_list: the filters that describe data files (the seed's data detail columns)."""

    def via_workspace(column: ColumnElement[Any]) -> Rule:
        return _WorkspaceDataRule(column)

    filters: dict[str, Rule] = {
        "DATA_FILE_ID": ColumnRule(D.id, "int"),
        "FILE_NAME": ColumnRule(D.filename),
        "DATA_FRAME_TYPE": ColumnRule(D.frame_type),
        "DATA_CATEGORY": ColumnRule(D.category),
        "OBJECT": ColumnRule(D.object),
        **_target_rules(D.target_id),
        "INSTRUMENT": ColumnRule(D.instrument),
        "INSTRUMENT_FILTER": ColumnRule(D.instrument_filter),
        "EXP_TIME": ColumnRule(D.exptime, "float"),
        "DIT": ColumnRule(D.dit, "float"),
        "NDIT": ColumnRule(D.ndit, "int"),
        "OBS_NIGHT_DATE": ColumnRule(D.obs_night, "date"),
        **_date_rules("OBS_NIGHT_DATE", D.obs_night),
        "OBSERVATION_DATE": ColumnRule(D.date_obs, "datetime"),
        **_date_rules("OBSERVATION_DATE", D.date_obs),
        "MJD_OBS": ColumnRule(D.mjd_obs, "float"),
        "PROG_ID": ColumnRule(D.prog_id),
        "OBS_ID": ColumnRule(D.obs_id, "int"),
        "PI_COI_NAME": LookupRule(D.observation_id, O.id, O.pi_coi),
        "WORKSPACE": via_workspace(W.name),
        "WORKSPACE_GROUP": via_workspace(W.group_name),
        "DEROTATOR_MODE": ColumnRule(D.derotator_mode),
        "CORONAGRAPH": ColumnRule(D.coronagraph),
        "COORD_RA": ColumnRule(D.ra, "float"),
        "COORD_DEC": ColumnRule(D.dec, "float"),
        "CONE": ConeRule(D.ra, D.dec),
        **data_condition_rules(),
        "STANDARD": ColumnRule(D.is_standard, "bool"),
        "RAW": ColumnRule(D.is_raw, "bool"),
        "PUBLIC": ColumnRule(D.is_public, "bool"),
        "DATA_STATUS": ColumnRule(D.status),
        "DATA_PIPELINE_VERSION": LabelledRule(
            ColumnRule(D.pipeline_version), _data_version_labels()
        ),
        "PROCESS_ID": RelatedByRule(
            D.id,
            {"producer": _produced_by, "consumer": _consumed_by},
            P.id,
            switch_for={
                "SWITCH_PRODUCER_LIST": "producer",
                "SWITCH_CONSUMER_LIST": "consumer",
            },
        ),
    }
    switches: dict[str, Rule] = {
        "SWITCH_PRODUCER_LIST": SwitchRule(modifies="PROCESS_ID"),
        "SWITCH_CONSUMER_LIST": SwitchRule(modifies="PROCESS_ID"),
    }
    return Vocabulary(
        resource="data",
        endpoint="data_list",
        table=t.DataFile.__table__,
        id_column=D.id,
        filters=filters,
        switches=switches,
        joins={"target": Join(t.Target.__table__, TG.id == D.target_id)},
        workspace_filters=frozenset({"WORKSPACE"}),
        key_names={"DATA_FILE_ID": "id"},
        extra_keys={
            "size": D.size,
            "arm": D.arm,
            "naxis1": D.naxis1,
            "naxis2": D.naxis2,
            "naxis3": D.naxis3,
        },
    )


def vocabulary_for(resource: ResourceName) -> Vocabulary:
    """The vocabulary of ``resource``."""
    return process_vocabulary() if resource == "process" else data_vocabulary()
