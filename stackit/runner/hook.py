"""The import hook that serves `tflearn` and `tflearn.*` from stackit, for one run only.

`import stackit` never installs it; `tflearn_aliases()` does, for the length of a `with` block
(the runner's script). `import tflearn.layers.core` then binds the module `stackit.layers.core`
itself (no copy), so a script that mixes `tflearn` and `stackit` imports sees one set of layers,
one layer-name registry and one default seed.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Iterator, Sequence

from stackit.runner.aliases import ALIASES, Aliases, AliasModule, is_tflearn

__all__ = ["TflearnFinder", "tflearn_aliases", "installed"]


class _AliasLoader(importlib.abc.Loader):
    """Hands the import system a module that already exists (the stackit module, or its
    AliasModule) instead of executing a file."""

    def __init__(self, module: types.ModuleType):
        self._module = module
        self._spec = getattr(module, "__spec__", None)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return self._module

    def exec_module(self, module: types.ModuleType) -> None:
        # The import system has just set `__spec__` to the alias's spec; a stackit module keeps
        # its own (its name, file and loader stay those of `stackit.*`).
        if not isinstance(module, AliasModule):
            module.__spec__ = self._spec


class TflearnFinder(importlib.abc.MetaPathFinder):
    """A meta path finder for `tflearn` and `tflearn.*`: each resolves to the stackit module
    that serves it (see `stackit.runner.aliases`), or fails with a `ModuleNotFoundError` saying
    why stackit lacks it."""

    def __init__(self, aliases: Aliases = ALIASES):
        self._aliases = aliases

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        del path, target
        if not is_tflearn(fullname):
            return None
        module = self._aliases.module(fullname)
        return importlib.util.spec_from_loader(fullname, _AliasLoader(module),
                                               is_package=hasattr(module, "__path__"))


def installed() -> bool:
    """Whether a `TflearnFinder` is on `sys.meta_path` now."""
    return any(isinstance(finder, TflearnFinder) for finder in sys.meta_path)


@contextlib.contextmanager
def tflearn_aliases() -> Iterator[TflearnFinder]:
    """Serves `import tflearn...` from stackit inside the block; on exit removes the hook and
    the `tflearn` entries it added to `sys.modules`."""
    finder = TflearnFinder()
    before = {name for name in sys.modules if is_tflearn(name)}
    sys.meta_path.insert(0, finder)
    try:
        yield finder
    finally:
        sys.meta_path.remove(finder)
        for name in [n for n in sys.modules if is_tflearn(n) and n not in before]:
            del sys.modules[name]
