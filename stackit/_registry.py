"""Name lookup shared by every `get()`: strings map to objects, unknown names fail loudly."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any


def lookup(kind: str, identifier: Any, table: Mapping[str, Any], *, allow_callable: bool = True):
    """Resolves `identifier` against `table` (case-insensitive), or passes a callable through.

    Args:
        kind: What is being looked up, for the error message (e.g. "activation").
        identifier: A name from `table`, or a callable when `allow_callable`.
        table: Lower-case names mapped to objects.
        allow_callable: Whether a callable identifier is returned unchanged. Defaults to `True`.

    Raises:
        ValueError: If `identifier` is a string that is not in `table`.
        TypeError: If `identifier` is neither a string nor (when allowed) a callable.
    """
    if isinstance(identifier, str):
        found = table.get(identifier.lower())
        if found is None:
            raise ValueError(
                f"Unknown {kind} {identifier!r}. Expected one of: {', '.join(sorted(table))}."
            )
        return found
    if allow_callable and callable(identifier):
        return identifier
    raise TypeError(
        f"Expected the {kind} as a name (one of: {', '.join(sorted(table))}) or a callable. "
        f"Received: {kind}={identifier!r}."
    )


def name_of(value: str | Callable | Any) -> str:
    """A short, human-readable name for a string identifier or a callable."""
    if isinstance(value, str):
        return value
    return getattr(value, "__name__", type(value).__name__)


_CONFIG_TYPES: dict[str, type[Any]] = {}


def configurable(cls: type) -> type:
    """Registers a class so `to_config`/`from_config` can save and rebuild it by type name.

    Dataclasses are saved field by field; other classes provide `get_config()` and a
    `from_config(config)` classmethod.
    """
    _CONFIG_TYPES[cls.__name__] = cls
    return cls


def to_config(obj: Any) -> dict[str, Any]:
    """A JSON-friendly `{'type': class name, **fields}` description of a registered dataclass.

    Raises:
        TypeError: If a field holds a Python object (e.g. a lambda) that JSON cannot hold.
    """
    config: dict[str, Any] = {"type": type(obj).__name__}
    for field in dataclasses.fields(obj):
        config[field.name] = _to_json(getattr(obj, field.name), obj, field.name)
    return config


def from_config(config: dict[str, Any]) -> Any:
    """Rebuilds an object saved by `to_config`.

    Raises:
        ValueError: If the config names an unknown type.
    """
    config = dict(config)
    type_name = config.pop("type", None)
    cls = _CONFIG_TYPES.get(type_name)
    if cls is None:
        raise ValueError(f"Unknown type {type_name!r} in a saved config. "
                         f"Expected one of: {', '.join(sorted(_CONFIG_TYPES))}.")
    if not dataclasses.is_dataclass(cls):  # builders with their own get_config/from_config
        return cls.from_config(dict(config, type=type_name))
    return cls(**{k: _from_json(v) for k, v in config.items()})


def to_json(value: Any, owner: Any, field: str) -> Any:
    """`value` (a field of `owner`) as JSON: numbers, strings, lists, registered objects as
    their configs.

    Raises:
        TypeError: If it holds a Python object that JSON cannot hold (a lambda, an optax
            transformation).
    """
    return _to_json(value, owner, field)


def _to_json(value: Any, owner: Any, field: str) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return [_to_json(v, owner, field) for v in value]
    if type(value).__name__ in _CONFIG_TYPES:
        return to_config(value) if dataclasses.is_dataclass(value) else value.get_config()
    raise TypeError(
        f"{type(owner).__name__} {getattr(owner, 'name', '')!r}: {field}={name_of(value)!r} is a "
        f"Python object, which a saved config cannot hold. Use a name (string) for {field} to "
        f"save this model."
    )


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_from_json(v) for v in value)
    if isinstance(value, dict) and "type" in value:
        return from_config(value)
    return value
