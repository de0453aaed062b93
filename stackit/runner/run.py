"""Runs a tflearn script as `python script.py args...` would, with `tflearn` served by stackit."""

from __future__ import annotations

import contextlib
import os
import runpy
import sys
import traceback
from collections.abc import Sequence

from stackit import config
from stackit.runner.hook import tflearn_aliases

__all__ = ["run_script"]


def run_script(path: str | os.PathLike[str], args: Sequence[str] = (), *,
               epochs: int | None = None, notice: bool = True) -> int:
    """Runs the script at `path` in this process, as `python path args...` would: `__name__` is
    `'__main__'`, `sys.argv` is `[path, *args]`, `sys.path[0]` is the script's folder, the
    working directory is unchanged. `import tflearn...` is served by stackit for the run only.

    Args:
        path: The script.
        args: Its command-line arguments. Defaults to `()`.
        epochs: Cap the epochs of every `fit` at this many (`config.epoch_cap`). Defaults to
            `None` (no cap).
        notice: Print a one-line notice on stderr first. Defaults to `True`.

    Returns:
        The exit status, as Python's: 0, the script's `sys.exit` code, or 1 after an uncaught
        exception (its traceback, from the script's first frame, is printed on stderr).

    Raises:
        FileNotFoundError: If `path` is not a file.
    """
    script = os.path.abspath(os.fspath(path))
    if not os.path.isfile(script):
        raise FileNotFoundError(f"No script at {os.fspath(path)!r}.")
    if notice:
        cap = f"; every fit capped at {epochs} epoch{'s' * (epochs != 1)}" if epochs else ""
        print(f"stackit: running {os.fspath(path)} with its tflearn imports served by stackit "
              f"(for this run only){cap}", file=sys.stderr, flush=True)
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [os.fspath(path), *args]
    folder = os.path.dirname(os.path.realpath(script))
    sys.path[:1] = [folder]
    capped = config.epoch_cap(epochs) if epochs is not None else contextlib.nullcontext()
    try:
        with tflearn_aliases(), capped:
            runpy.run_path(script, run_name="__main__")
    except SystemExit as stop:
        return _exit_status(stop.code)
    except KeyboardInterrupt as error:
        _print_from_script(error, script)
        return 130
    except Exception as error:  # noqa: BLE001 - reported as Python reports it
        _print_from_script(error, script)
        return 1
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
    return 0


def _exit_status(code: object) -> int:
    """What Python's exit status is for `sys.exit(code)`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _print_from_script(error: BaseException, script: str) -> None:
    """Prints the traceback from the script's outermost frame on (the runner's are noise)."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != script:
        tb = tb.tb_next
    traceback.print_exception(type(error), error, tb or error.__traceback__)
