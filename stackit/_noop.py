"""No-op stand-ins for tflearn functions that have nothing to do in stackit (TensorBoard
summaries, the graph's training-mode switch): each accepts any arguments, returns None, and
says once per process, on the `stackit` logger, that it did nothing and why."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

__all__ = ["noop"]

_LOGGER = logging.getLogger("stackit")
_SAID: set[str] = set()


def noop(qualname: str, why: str) -> Callable[..., None]:
    """A function that does nothing and logs `'stackit: <qualname>() does nothing: <why>'` the
    first time it is called.

    Args:
        qualname: The tflearn name, e.g. `'tflearn.summaries.monitor_activation'`.
        why: The reason, e.g. `'stackit has no summary ops'`.
    """
    name = qualname.rsplit(".", 1)[-1]

    def stand_in(*args: Any, **kwargs: Any) -> None:
        del args, kwargs
        if qualname not in _SAID:
            _SAID.add(qualname)
            _LOGGER.warning("stackit: %s() does nothing: %s.", qualname, why)

    stand_in.__name__ = stand_in.__qualname__ = name
    stand_in.__doc__ = f"tflearn's `{qualname}`: does nothing in stackit ({why}); logs once."
    return stand_in
