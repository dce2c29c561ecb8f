"""Where each parameter group lives: the key a ``params:`` input reads, the schema at a key and the
file that sets it, and the one entry point that checks values against their schema."""

from collections.abc import Iterable, Mapping
from typing import Any

from ..strategies import STRATEGY_TABLE
from .errors import model_in, validated
from .schemas import BALANCING_SCHEMAS, GROUPS, Group

# Groups every strategy has its own copy of, under its namespace (``combined.balancing``);
# every other group a strategy reads is shared by all strategies.
PER_STRATEGY_GROUPS = ("balancing",)


def group_key(parameter: str) -> str | None:
    """The key of the whole group a parameter name reads (``params:raw_data.classes`` -> ``raw_data``,
    ``params:combined.balancing`` -> ``combined.balancing``), or None if no schema covers it."""
    parts = parameter.removeprefix("params:").split(".")
    if len(parts) == 2 and parts[1] in PER_STRATEGY_GROUPS and parts[0] in STRATEGY_TABLE:
        return ".".join(parts)
    return parts[0] if parts[0] in GROUPS and parts[0] not in PER_STRATEGY_GROUPS else None


def shared_parameters(parameters: Iterable[str]) -> set[str]:
    """The names among ``parameters`` (``params:...``) that every strategy shares: all but the groups
    each strategy has its own copy of (``PER_STRATEGY_GROUPS``)."""
    return {
        name
        for name in parameters
        if name.startswith("params:") and name.removeprefix("params:").split(".")[0] not in PER_STRATEGY_GROUPS
    }


def schema_of(key: str) -> type[Group]:
    """The schema at ``key``: a group (``training``, ``combined.balancing``) or a part of one
    (``training.architecture``)."""
    namespace, _, last = key.rpartition(".")
    if last in PER_STRATEGY_GROUPS and namespace in STRATEGY_TABLE:
        return BALANCING_SCHEMAS[STRATEGY_TABLE[namespace].balancing]
    group, *path = key.split(".")
    schema = GROUPS[group][0]
    for part in path:
        schema = model_in(schema.model_fields[part].annotation)
    return schema


def file_of(key: str) -> str:
    """The file in conf/base that sets the group at ``key``."""
    namespace, _, last = key.rpartition(".")
    return GROUPS[last if last in PER_STRATEGY_GROUPS and namespace in STRATEGY_TABLE else key.split(".")[0]][1]


def check_parameters(key: str, parameters: Any) -> Group:
    """The parameters at ``key`` (a group such as ``training`` or ``combined.balancing``, or a part of
    one such as ``training.architecture``) as their schema; a ParameterError listing every key that
    does not fit, what it must be and the file to fix."""
    return validated(schema_of(key), key, file_of(key), parameters)


def as_written(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """``parameters`` (Kedro's whole ``parameters``, its typed groups validated objects) as plain
    values with the keys the configuration set, which validate again as they did (``--params`` of
    a study's job): a schema's defaults are left to the next validation."""
    return {
        key: value.as_written()
        if isinstance(value, Group)
        else as_written(value) if isinstance(value, Mapping) else value
        for key, value in parameters.items()
    }
