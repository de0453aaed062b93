"""Layer names as tflearn gives them, variable scopes, and the graph's name → layer registry.

Automatic names are `FullyConnected`, `FullyConnected_1`, ... counted per process, as tflearn
counts them per graph. Inside `variable_scope('Generator')` they get the prefix
`Generator/`. A scope entered with `reuse=True` replays its names from the start, so the layers
built inside it resolve to the layers built the first time (tflearn's GAN applies one
discriminator to real and to generated images this way).
"""

from __future__ import annotations

import contextlib
import dataclasses
import weakref
from collections.abc import Iterator
from typing import Any

__all__ = ["variable_scope", "reset_default_graph", "unique_name", "tflearn_name", "reuse_active",
           "register", "registered", "layers_in_scope", "outputs_of", "layer_names"]

_COUNTS: dict[str, int] = {}
_LAYERS: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
_PARAM_NAMES: dict[str, tuple[str, ...]] = {}  # layer name → its parameter names
_OUTPUTS: dict[str, list[weakref.ref]] = {}  # layer name → its output tensors, oldest first


@dataclasses.dataclass
class _Scope:
    prefix: str
    reuse: bool
    counts: dict[str, int] = dataclasses.field(default_factory=dict)


_SCOPES: list[_Scope] = []


@contextlib.contextmanager
def variable_scope(name_or_scope: str, default_name: str | None = None, values=None,
                   reuse: bool | None = None, **kwargs: Any) -> Iterator[str]:
    """Prefixes the names of layers built inside with `name_or_scope/` (tflearn/TF's scope).

    With `reuse=True`, layers built inside take the parameters of the layers built the first
    time the scope was used (same order, same types): one set of weights, applied twice.

    Args:
        name_or_scope: The scope name, e.g. `'Generator'`.
        default_name: Used when `name_or_scope` is None. Defaults to `None`.
        values: Accepted for TensorFlow compatibility; ignored.
        reuse: Reuse the layers built in this scope before. Defaults to `None` (inherit).

    Yields:
        The full scope name.
    """
    del values, kwargs
    name = name_or_scope or default_name
    if not isinstance(name, str) or not name:
        raise TypeError(f"variable_scope: expected a non-empty scope name. "
                        f"Received: name_or_scope={name_or_scope!r}.")
    outer = _SCOPES[-1] if _SCOPES else None
    prefix = f"{outer.prefix}/{name}" if outer else name
    inherit = bool(outer and outer.reuse)
    _SCOPES.append(_Scope(prefix, bool(reuse) or inherit))
    try:
        yield prefix
    finally:
        _SCOPES.pop()


def scoped(name: str) -> str:
    """`name` under the current scope prefix."""
    return f"{_SCOPES[-1].prefix}/{name}" if _SCOPES else name


def unique_name(base: str) -> str:
    """`base`, then `base_1`, `base_2`, ... under the current scope (replayed in a reused one)."""
    full = scoped(base)
    counts = _SCOPES[-1].counts if _SCOPES and _SCOPES[-1].reuse else _COUNTS
    count = counts.get(full, 0)
    counts[full] = count + 1
    return full if count == 0 else f"{full}_{count}"


def tflearn_name(name: str | None, scope: str | None = None, reuse: bool = False,
                 default: str | None = None) -> str | None:
    """A layer's name from a tflearn function's `name` and `scope` arguments, by tflearn's rule:
    `scope` names the layer exactly; `name` is a default that counts on when taken (`fc`,
    `fc_1`, ... as TensorFlow's `default_name` scopes count), except with `reuse=True`, where
    it names the layer to reuse; None (or the function's own `default`) picks the layer
    class's default name."""
    if scope:
        return scope
    if name is None or name == default:
        return None
    return name if reuse else unique_name(name)


def reuse_active() -> bool:
    """Whether layers built now reuse existing ones (inside `variable_scope(..., reuse=True)`)."""
    return bool(_SCOPES and _SCOPES[-1].reuse)


def register(layer: Any, param_names: tuple[str, ...], output: Any = None) -> None:
    """Records `layer` as the graph's layer called `layer.name`, with its parameter names and
    (when given) one more output tensor (a shared layer has one per call). Tensors are held
    weakly, as layers are: the registry never keeps a discarded graph alive."""
    if _LAYERS.get(layer.name) is not layer:
        _OUTPUTS.pop(layer.name, None)  # a new layer under a reused name (a new graph)
    _LAYERS[layer.name] = layer
    _PARAM_NAMES[layer.name] = param_names
    if output is not None:
        _OUTPUTS.setdefault(layer.name, []).append(weakref.ref(output))


def outputs_of(name: str) -> list[Any]:
    """The live output tensors of the layer called `name`, in creation order (`[]` if none)."""
    found = [ref() for ref in _OUTPUTS.get(name, [])]
    return [tensor for tensor in found if tensor is not None]


def layer_names() -> list[str]:
    """Names of the registered layers, in creation order."""
    return list(_PARAM_NAMES)


def registered(name: str) -> Any | None:
    """The layer last registered under `name`, or None."""
    return _LAYERS.get(name)


def param_names(name: str) -> tuple[str, ...] | None:
    """The parameter names of the layer called `name` in the current graph, or None."""
    return _PARAM_NAMES.get(name)


def layers_in_scope(scope: str) -> list[str]:
    """Names of registered layers inside `scope` (`scope/...`), in creation order."""
    prefix = scope.rstrip("/") + "/"
    return [name for name in _PARAM_NAMES if name.startswith(prefix)]


def reset_default_graph() -> None:
    """Restarts default layer naming, so the next model's layers are named `Conv2D`, ... again."""
    _COUNTS.clear()
    _LAYERS.clear()
    _PARAM_NAMES.clear()
    _OUTPUTS.clear()
