"""jax's persistent compilation cache, on by default in a user cache folder, so a script run
again skips compiling the steps it compiled before (time to the first step).

`STACKIT_COMPILATION_CACHE` names another folder, or turns the cache off with `0`. A folder
the user gave jax (`JAX_COMPILATION_CACHE_DIR` or `jax.config`) is left as it is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax

__all__ = ["ENV", "default_folder", "enable", "is_off"]

ENV = "STACKIT_COMPILATION_CACHE"
_OFF = ("0", "off", "false", "no")
#: Compilations shorter than this are not written. jax's default, 1 s, misses most of a small
#: model's steps on a CPU, and building a model runs a few dozen one-operation programs (the
#: initializers, the optimizer's zeros) of ~30 ms each: caching those too takes `DNN(net)` for
#: LeNet-5 from 0.7 s to 0.25 s on a rerun. Reading an entry takes milliseconds.
MIN_COMPILE_SECONDS = 0.0


def default_folder() -> Path:
    """`$XDG_CACHE_HOME/stackit/jax`, else `~/.cache/stackit/jax`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "stackit" / "jax"


def is_off() -> bool:
    """Whether `STACKIT_COMPILATION_CACHE` turns stackit's caches off."""
    return os.environ.get(ENV, "").strip().lower() in _OFF


def enable() -> str | None:
    """Points jax's persistent compilation cache at stackit's folder unless the user chose one
    or turned it off; returns the folder in use (None when off). A folder that cannot be
    created (a read-only home) leaves the cache off, silently: it only saves time."""
    if is_off():
        return None
    setting = os.environ.get(ENV, "").strip()
    config: Any = jax.config  # its flags are attributes mypy cannot see
    chosen = config.jax_compilation_cache_dir or os.environ.get("JAX_COMPILATION_CACHE_DIR")
    if chosen:
        return str(chosen)
    folder = Path(setting) if setting else default_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    if config.jax_persistent_cache_min_compile_time_secs > MIN_COMPILE_SECONDS:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    return str(folder)
