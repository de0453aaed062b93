"""What preprocessing and augmentation pipelines share: named steps, configs and a repr."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["StepPipeline"]


class StepPipeline:
    """An ordered list of steps, each added by an `add_<name>(**args)` builder method and kept
    as `{"name": name, **args}`, so a pipeline saves to JSON and rebuilds by replaying them.

    Subclasses set `kind` (for messages), `_saved_steps` (the names a config may hold) and
    `_family()` (the classes a config's `type` may name).
    """

    kind = "pipeline"
    _saved_steps: frozenset[str] = frozenset()
    _steps: list[dict]  # set by each subclass's __init__

    @classmethod
    def _family(cls) -> tuple[type, ...]:
        raise NotImplementedError

    @property
    def steps(self) -> tuple[dict, ...]:
        """The steps in order, as `{"name": ..., **arguments}` dicts (copies)."""
        return tuple(dict(step) for step in self._steps)

    def _config_args(self) -> dict:
        """Constructor arguments saved beside the steps."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> StepPipeline:
        """Rebuilds a pipeline from `get_config()` output (the class is named by `type`).

        Raises:
            ValueError: For an unknown type or step name.
        """
        classes = {c.__name__: c for c in cls._family()}
        target = classes.get(config.get("type", ""))
        if target is None or not issubclass(target, cls):
            raise ValueError(f"Unknown {cls.kind} type {config.get('type')!r}. Expected one "
                             f"of: {', '.join(sorted(classes))}.")
        pipeline = target(**{k: v for k, v in config.items() if k not in ("type", "steps")})
        for step in config.get("steps", []):
            args = dict(step)
            name = args.pop("name", None)
            if name not in target._saved_steps:
                raise ValueError(f"Unknown {cls.kind} step {name!r} in a saved config for "
                                 f"{target.__name__}. Expected one of: "
                                 f"{', '.join(sorted(target._saved_steps))}.")
            getattr(pipeline, f"add_{name}")(**args)
        return pipeline

    def __repr__(self) -> str:
        parts = []
        for step in self._steps:
            args = ", ".join(f"{k}={_short(v)}" for k, v in step.items() if k != "name")
            parts.append(f"{step['name']}({args})")
        return f"{type(self).__name__}([{', '.join(parts)}])"


def _short(value: Any) -> str:
    if callable(value):
        return getattr(value, "__name__", type(value).__name__)
    if isinstance(value, list) and np.size(value) > 8:
        return f"<array {np.shape(value)}>"
    return repr(value)
