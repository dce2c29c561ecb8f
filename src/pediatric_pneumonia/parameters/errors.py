"""The message a parameter group that does not fit its schema gets, derived from the schema: the
full key (``training.early_stopping.monitor``), what was given, the allowed values or range and the
file that sets the group."""

import types
import typing
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

OVERRIDE_NOTE = "a `kedro run --params` value or a conf/<env> file (conf/local, conf/demo) may override it"

# Where a rule's message names a key, it writes HERE for the model being validated; the message is
# completed with that model's full key (``combined.balancing``, ``training.architecture``).
HERE = "<here>"


class ParameterError(ValueError):
    """A parameter group that does not fit its schema; the message says which key and how to fix it."""


def here(name: str = "") -> str:
    """The key of ``name`` in the model being validated, completed when the message is written."""
    return f"{HERE}.{name}" if name else HERE


def validated(schema: type[BaseModel], key: str, file: str, values: Any) -> BaseModel:
    """``values`` as ``schema`` (the parameters at ``key``, set in ``file``); a ParameterError listing
    every key that does not fit, what it must be and the file to fix."""
    try:
        return schema.model_validate(values, context={"key": key})
    except ValidationError as error:
        problems = "\n".join(_describe_error(schema, key, detail) for detail in error.errors())
        raise ParameterError(f"{problems}\nSet in {file}; {OVERRIDE_NOTE}.") from None


def _describe_error(schema: type[BaseModel], key: str, detail: dict) -> str:
    """One line for one pydantic error: the full key, what was given and what is allowed."""
    location = [str(part) for part in detail["loc"]]
    full_key = ".".join([key, *location])
    given = detail.get("input")
    kind = detail["type"]
    if kind == "value_error":
        return str(detail["ctx"]["error"]).replace(HERE, full_key)
    if kind == "extra_forbidden":
        parent_key, _, name = full_key.rpartition(".")
        parent = _field_at(schema, detail["loc"][:-1], container=True)
        allowed = sorted(parent.model_fields) if isinstance(parent, type) else []
        return f"{full_key} is not a setting of {parent_key}: its settings are {allowed}. Remove {name} or fix its spelling."
    field = _field_at(schema, detail["loc"])
    requirement = _requirement(field) if isinstance(field, FieldInfo) else detail["msg"].lower()
    if kind == "missing":
        return f"{full_key} is missing: set it to {requirement}."
    if kind == "literal_error":
        return f"Unknown {full_key} {given!r}: use one of {_literal_values(field)}."
    if kind == "too_short" and not given:
        return f"{full_key} is empty: it must be {requirement}."
    return f"{full_key} must be {requirement}, got {given!r}."


def _field_at(schema: type[BaseModel], location: tuple, container: bool = False) -> FieldInfo | type | None:
    """The field of ``schema`` at ``location`` (list indices and mapping keys step into their item);
    with ``container``, the model that holds the keys at ``location`` instead."""
    field = None
    for part in location:
        model = schema if field is None else model_in(field.annotation)
        if model is not None and part in model.model_fields:
            field = model.model_fields[part]
    if container:
        return schema if field is None else model_in(field.annotation)
    return field


def model_in(annotation: Any) -> type | None:
    """The model inside an annotation (``Model``, ``Model | None``, ``dict[str, Model]``, ``list[Model]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = model_in(argument)
        if found is not None:
            return found
    return None


def _literal_values(field: FieldInfo) -> tuple:
    """The allowed values of a Literal field (or of the Literal items of a list field)."""
    def values(annotation: Any) -> tuple:
        if typing.get_origin(annotation) is Literal:
            return typing.get_args(annotation)
        return next((found for argument in typing.get_args(annotation) if (found := values(argument))), ())

    return values(field.annotation)


def _requirement(field: FieldInfo) -> str:
    """What a field accepts, in words: its type, range and whether null is allowed."""
    annotation, metadata = field.annotation, list(field.metadata)
    arguments = typing.get_args(annotation)
    nullable = typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in arguments
    if nullable:
        annotation = next(argument for argument in arguments if argument is not type(None))
    if typing.get_origin(annotation) is Annotated:
        annotation, *extra = typing.get_args(annotation)
        metadata += [item for entry in extra for item in (entry.metadata if isinstance(entry, FieldInfo) else [entry])]
    if field.description and field.description.startswith("null"):
        return field.description
    text = _describe_type(annotation, metadata, field.description)
    return f"{text} or null" if nullable else text


def _describe_type(annotation: Any, metadata: list, noun: str | None) -> str:
    bound = {type(item): getattr(item, type(item).__name__.lower()) for item in metadata if isinstance(item, Ge | Gt | Le | Lt)}
    length = {
        kind: getattr(item, name)
        for item in metadata
        for kind, name in ((MinLen, "min_length"), (MaxLen, "max_length"))
        if isinstance(item, kind)
    }
    if typing.get_origin(annotation) is Literal:
        return f"one of {typing.get_args(annotation)}"
    if annotation is bool:
        return "true or false"
    if annotation is int:
        if bound.get(Gt) == 0:
            return "a positive integer"
        if Ge in bound:
            return f"a whole number >= {bound[Ge]}"
        return "an integer"
    if annotation is float:
        low = f"[{bound[Ge]}" if Ge in bound else f"({bound[Gt]}" if Gt in bound else None
        high = f"{bound[Le]}]" if Le in bound else f"{bound[Lt]})" if Lt in bound else None
        prefix = f"{noun} " if noun else ""
        if low and high:
            return f"{prefix}in {low}, {high}"
        if bound.get(Gt) == 0:
            return noun or "a positive number"
        if low:
            return f"{prefix or 'a number '}{'>=' if Ge in bound else '>'} {low[1:]}"
        return noun or "a number"
    if noun:
        return noun
    if annotation is str:
        return "a non-empty string" if length.get(MinLen) else "a string"
    if typing.get_origin(annotation) is list:
        if length.get(MinLen) == length.get(MaxLen) is not None:
            return f"a list of {length[MinLen]} numbers"
        return "a non-empty list" if length.get(MinLen) else "a list"
    if typing.get_origin(annotation) is dict or (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return "a mapping" + (f" of {sorted(annotation.model_fields)}" if isinstance(annotation, type) else "")
    return str(annotation)
