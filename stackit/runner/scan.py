"""A static scan of a tflearn script: what it uses that stackit lacks, and its TensorFlow calls.

Nothing runs: the script is parsed with `ast`, and every `tflearn` module, name and argument it
uses is looked up in the stackit modules that will serve it (`stackit.runner.aliases`), so one
report lists every gap at once instead of the run failing on the first.

What is checked:
- imports: `import tflearn...`, `from tflearn... import name` (and `*`);
- attribute chains from those names: `tflearn.layers.conv.conv_2d`, `mnist.load_data`;
- call arguments: keywords and the number of positional arguments, against stackit's signature
  (for tflearn functions and classes, and methods of a variable assigned a tflearn class:
  `model = tflearn.DNN(net)`, then `model.fit(..., snapshot_step=500)`);
- names a `from tflearn... import *` must provide;
- every use of `tensorflow` (imported under any name), by line.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import inspect
import re
import sys
import types
from pathlib import Path
from typing import Any

from stackit.runner.aliases import ALIASES, TFLEARN_MODULES, Aliases, is_tflearn, name_hint
from stackit.runner.report import ARGUMENT, MISSING, SYNTAX, TENSORFLOW, Finding, Report

__all__ = ["Finding", "Report", "scan_source", "scan_file"]

_TF_HINTS = {
    "variable_scope": "tflearn.variable_scope (same reuse= rule)",
    "Graph": "not needed: stackit has no graph (tflearn.reset_default_graph() restarts layer "
             "naming)",
    "reset_default_graph": "tflearn.reset_default_graph()",
    "concat": "tflearn.merge([a, b], 'concat', axis=...)",
    "reshape": "tflearn.reshape",
}
_MATH_OPS = ("log", "exp", "sqrt", "square", "abs", "reduce_mean", "reduce_sum", "add",
             "subtract", "multiply", "divide", "negative")


def scan_file(path: str | Path) -> Report:
    """Scans the script at `path` (see the module docstring).

    Raises:
        OSError: If the file cannot be read.
    """
    source = Path(path).read_bytes()
    return scan_source(source, str(path))


def scan_source(source: str | bytes, path: str = "<script>") -> Report:
    """Scans a script's source text; `path` only names it in the report."""
    text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
    lines = text.splitlines()
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as error:
        finding = Finding(SYNTAX, error.lineno or 0, "SyntaxError",
                          f"{error.msg}; is it a Python 2 script?")
        return Report(path, [finding], lines)
    scanner = _Scanner(ALIASES, tree)
    scanner.visit(tree)
    findings = sorted(dict.fromkeys(scanner.findings), key=lambda f: (f.line, f.kind != SYNTAX))
    return Report(path, findings, lines)


@dataclasses.dataclass(frozen=True)
class _Missing:
    path: str  # the tflearn path that does not resolve, e.g. 'tflearn.foo'
    hint: str = ""


_UNKNOWN = object()  # resolved as far as a static scan can (e.g. an instance's attribute)


class _Scanner(ast.NodeVisitor):
    """Walks the tree in source order, tracking which local names hold tflearn modules or
    objects (`tfl`), TensorFlow (`tf`), or instances of tflearn classes (`instances`)."""

    def __init__(self, aliases: Aliases, tree: ast.Module):
        self.aliases = aliases
        self.findings: list[Finding] = []
        self.tfl: dict[str, str] = {}  # local name -> tflearn path
        self.tf: set[str] = set()
        self.instances: dict[str, type] = {}
        self.bound = _bound_names(tree)
        self.star = [(node.lineno, node.module) for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module and not node.level
                     and is_tflearn(node.module) and any(a.name == "*" for a in node.names)]

    # -- results -----------------------------------------------------------------------------
    def missing(self, node: ast.stmt | ast.expr, path: str, hint: str = "") -> None:
        self.findings.append(Finding(MISSING, node.lineno, path, hint or name_hint(path)))

    def tensorflow(self, node: ast.stmt | ast.expr, name: str) -> None:
        last = name.rsplit(".", 1)[-1]
        hint = _TF_HINTS.get(last, f"stackit.layers.math_ops.{last}" if last in _MATH_OPS
                             else "")
        self.findings.append(Finding(TENSORFLOW, node.lineno, name, hint))

    # -- resolution --------------------------------------------------------------------------
    def resolve(self, path: str) -> Any:
        """The object serving the tflearn path, a `_Missing`, or `_UNKNOWN`."""
        parts = path.split(".")
        obj: Any = self._module(parts[0])
        for i in range(1, len(parts)):
            here = ".".join(parts[: i + 1])
            if isinstance(obj, types.ModuleType):
                obj = self._module_attribute(obj, here, parts[i])
                if isinstance(obj, _Missing):
                    return obj
            elif inspect.isclass(obj):
                if parts[i] not in _instance_attributes(obj):
                    return _Missing(here)
                obj = getattr(obj, parts[i], _UNKNOWN)
                if obj is _UNKNOWN:
                    return _UNKNOWN
            else:
                return _UNKNOWN
        return obj

    def _module(self, path: str) -> Any:
        """The module serving the tflearn module `path`, or a `_Missing` saying why not."""
        try:
            return self.aliases.module(path)
        except ImportError:
            return _Missing(path)
        except Exception as error:  # noqa: BLE001 - a stackit module that fails to import
            return _Missing(path, f"stackit failed to import it: {error!r}")

    def _module_attribute(self, module: types.ModuleType, path: str, attr: str) -> Any:
        if is_tflearn(module.__name__):  # an AliasModule: submodule, attribute, extra, re-export
            try:
                return getattr(module, attr)
            except AttributeError:
                return _Missing(path)
            except Exception as error:  # noqa: BLE001 - a stackit module that fails to import
                return _Missing(path, f"stackit failed to import it: {error!r}")
        if path not in TFLEARN_MODULES and hasattr(module, attr):
            return getattr(module, attr)
        return self._module(path)  # a submodule (maybe not imported yet)

    def expression(self, node: ast.expr) -> tuple[str, str, Any] | None:
        """For `name.a.b`: (what the script wrote, kind, object). kind is `'tflearn'` (object
        resolved or `_Missing`), `'tf'`, `'instance'` (object: the attribute on the class, or
        `_Missing`), or None when the expression is none of these."""
        chain: list[str] = []
        while isinstance(node, ast.Attribute):
            chain.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        chain.reverse()
        written = ".".join([node.id, *chain])
        if node.id in self.tf or (node.id == "tf" and self.star and node.id not in self.bound):
            return written, "tf", None  # tflearn's `import *` also gave TensorFlow as `tf`
        if node.id in self.tfl:
            return written, "tflearn", self.resolve(".".join([self.tfl[node.id], *chain]))
        if node.id in self.instances and chain:
            cls = self.instances[node.id]
            if chain[0] not in _instance_attributes(cls):
                return written, "instance", _Missing(f"{node.id}.{chain[0]}")
            return written, "instance", getattr(cls, chain[0], _UNKNOWN) if len(chain) == 1 \
                else _UNKNOWN
        if (self.star and not chain and node.id not in self.bound
                and not hasattr(builtins, node.id)):
            return written, "star", self._star_name(node.id)
        return None

    def _star_name(self, name: str) -> Any:
        for _, module in self.star:
            obj = self.resolve(f"{module}.{name}")
            if not isinstance(obj, _Missing):
                return obj
        return _Missing(name)

    # -- imports -----------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            top = alias.name.split(".")[0]
            bound = alias.asname or top
            if top == "tensorflow":
                self.tf.add(bound)
                self.tensorflow(node, f"import {alias.name}"
                                + (f" as {alias.asname}" if alias.asname else ""))
            elif top == "tflearn":
                found = self.resolve(alias.name)
                if isinstance(found, _Missing):
                    self.missing(node, found.path, found.hint)
                self.tfl[bound] = alias.name if alias.asname else "tflearn"
            else:
                self._forget(bound)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        top = module.split(".")[0]
        if node.level or top not in ("tflearn", "tensorflow"):
            for alias in node.names:
                self._forget(alias.asname or alias.name)
            return
        if top == "tensorflow":
            self.tensorflow(node, f"from {module} import "
                            + ", ".join(a.name for a in node.names))
            self.tf.update(alias.asname or alias.name for alias in node.names)
            return
        found = self.resolve(module)
        if isinstance(found, _Missing):
            self.missing(node, found.path, found.hint)
            return
        for alias in node.names:
            if alias.name == "*":
                continue
            path = f"{module}.{alias.name}"
            found = self.resolve(path)
            if isinstance(found, _Missing):
                self.missing(node, found.path, found.hint)
            self.tfl[alias.asname or alias.name] = path

    def _forget(self, name: str) -> None:
        self.tfl.pop(name, None)
        self.tf.discard(name)
        self.instances.pop(name, None)

    def _scope(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        """Visits a function: its arguments hide outer names inside it, and nothing bound
        inside leaks out."""
        saved = dict(self.tfl), set(self.tf), dict(self.instances)
        for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs,
                    node.args.vararg, node.args.kwarg]:
            if arg is not None:
                self._forget(arg.arg)
        self.generic_visit(node)
        self.tfl, self.tf, self.instances = saved

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _scope

    # -- uses --------------------------------------------------------------------------------
    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, ast.Load):
            self._use(node)
        else:  # `obj.new_attribute = ...` may add what the class does not have
            self.visit(node.value)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._use(node)

    def _use(self, node: ast.expr) -> Any:
        found = self.expression(node)
        if found is None:
            if isinstance(node, ast.Attribute):
                self.visit(node.value)
            return None
        written, kind, obj = found
        if kind == "tf":
            self.tensorflow(node, written)
        elif isinstance(obj, _Missing):
            if kind == "star":
                where = ", ".join(f"line {line}: from {m} import *" for line, m in self.star)
                self.missing(node, written, f"not defined, and not given by stackit's {where}")
            else:
                self.missing(node, obj.path, obj.hint)
        return obj

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, (ast.Name, ast.Attribute)):
            obj = self._use(node.func)
            if obj is not None and not isinstance(obj, _Missing) and obj is not _UNKNOWN:
                self._check_arguments(node, obj)
        else:
            self.visit(node.func)
        for arg in node.args:
            self.visit(arg)
        for keyword in node.keywords:
            self.visit(keyword.value)

    def _check_arguments(self, node: ast.Call, obj: Any) -> None:
        if not callable(obj):
            return
        try:
            signature = inspect.signature(obj)
        except (TypeError, ValueError):
            return
        params = list(signature.parameters.values())
        written = _written(node.func)
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
                and node.func.value.id in self.instances and inspect.isfunction(obj):
            params = params[1:]  # `self`, bound by the instance
        kinds = {p.kind for p in params}
        if inspect.Parameter.VAR_KEYWORD not in kinds:
            accepted = {p.name for p in params if p.kind in (
                inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
            for keyword in node.keywords:
                if keyword.arg is not None and keyword.arg not in accepted:
                    self.findings.append(Finding(
                        ARGUMENT, node.lineno, f"{written}({keyword.arg}=)",
                        f"stackit's {_qualname(obj)} has no argument {keyword.arg!r}"))
        positional = [p for p in params if p.kind in (
            inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        starred = any(isinstance(a, ast.Starred) for a in node.args)
        if (inspect.Parameter.VAR_POSITIONAL not in kinds and not starred
                and len(node.args) > len(positional)):
            self.findings.append(Finding(
                ARGUMENT, node.lineno, f"{written}() with {len(node.args)} positional arguments",
                f"stackit's {_qualname(obj)} takes at most {len(positional)}"))

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        cls = None
        if isinstance(node.value, ast.Call):
            found = self.expression(node.value.func)
            if found is not None and found[1] in ("tflearn", "star") and inspect.isclass(found[2]):
                cls = found[2]
        for target in node.targets:
            if isinstance(target, ast.Name):
                self._forget(target.id)
                if cls is not None:
                    self.instances[target.id] = cls
            else:
                self.visit(target)


def _written(node: ast.expr) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001 - only used for a label
        return "call"


def _qualname(obj: Any) -> str:
    return str(getattr(obj, "__qualname__", None) or getattr(obj, "__name__", "")
               or type(obj).__name__)


def _bound_names(tree: ast.Module) -> set[str]:
    """Every name the script binds anywhere (assignments, defs, arguments, imports, ...), plus
    the module globals Python provides; what is left is a star import's or undefined."""
    names = {"__name__", "__file__", "__doc__", "__builtins__", "__spec__", "__loader__",
             "__package__", "__annotations__", "__cached__"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif sys.version_info >= (3, 10) and isinstance(node, (ast.MatchAs, ast.MatchStar)):
            if node.name:
                names.add(node.name)
    return names


_SELF_ATTR = re.compile(r"\bself\.(\w+)\s*(?::[^=\n]+)?=(?!=)")


_ATTRIBUTES: dict[type, frozenset[str]] = {}


def _instance_attributes(cls: type) -> frozenset[str]:
    """What `obj.<name>` may read on an instance of a stackit class: the class's names, plus the
    attributes its methods (and its bases') assign on `self`."""
    if cls in _ATTRIBUTES:
        return _ATTRIBUTES[cls]
    names: set[str] = set(dir(cls))
    for klass in inspect.getmro(cls):
        if not klass.__module__.startswith("stackit"):
            continue
        try:
            names.update(_SELF_ATTR.findall(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
    _ATTRIBUTES[cls] = frozenset(names)
    return _ATTRIBUTES[cls]

