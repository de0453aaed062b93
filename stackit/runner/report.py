"""What a scan found: `Finding`s, and the `Report` that prints them as one message."""

from __future__ import annotations

import dataclasses
from pathlib import Path

__all__ = ["Finding", "Report", "MISSING", "ARGUMENT", "TENSORFLOW", "SYNTAX"]

MISSING, ARGUMENT, TENSORFLOW, SYNTAX = "missing", "argument", "tensorflow", "syntax"


@dataclasses.dataclass(frozen=True)
class Finding:
    """One thing the script uses that stackit cannot run.

    Attributes:
        kind: `'missing'` (a tflearn module or name), `'argument'` (a call argument stackit's
            function does not take), `'tensorflow'` (a TensorFlow use) or `'syntax'`.
        line: The line number in the script.
        name: What was used, as the script spells it (`'tflearn.summaries.foo'`,
            `'model.fit(excl_trainops=)'`, `'tf.reduce_mean'`).
        hint: Why it is missing, or what to use instead ('' when nothing is known).
    """

    kind: str
    line: int
    name: str
    hint: str = ""


@dataclasses.dataclass
class Report:
    """The scan of one script: its findings, in line order."""

    path: str
    findings: list[Finding]
    lines: list[str] = dataclasses.field(default_factory=list, repr=False)

    @property
    def clean(self) -> bool:
        """True when the script uses only what stackit provides and no TensorFlow."""
        return not self.findings

    @property
    def missing(self) -> list[Finding]:
        """Missing modules and names, unsupported arguments, syntax errors."""
        return [f for f in self.findings if f.kind != TENSORFLOW]

    @property
    def tensorflow(self) -> list[Finding]:
        """TensorFlow uses."""
        return [f for f in self.findings if f.kind == TENSORFLOW]

    def format(self) -> str:
        """The report as one message: what stackit lacks, then the TensorFlow lines."""
        name = Path(self.path).name
        if self.clean:
            return (f"stackit: {name}: clean: every tflearn name it uses is in stackit, and it "
                    f"makes no TensorFlow calls.")
        out = [f"stackit: {name} uses what stackit cannot run:"]
        if self.missing:
            out.append(f"  tflearn modules, names and arguments stackit lacks "
                       f"({len(self.missing)}):")
            out += [f"    line {f.line}: {f.name}" + (f" ({f.hint})" if f.hint else "")
                    for f in self.missing]
        if self.tensorflow:
            by_line: dict[int, list[Finding]] = {}
            for finding in self.tensorflow:
                by_line.setdefault(finding.line, []).append(finding)
            lines = f"{len(by_line)} line" + "s" * (len(by_line) != 1)
            out.append(f"  TensorFlow, on {lines} (stackit runs tflearn's API, not TensorFlow; "
                       f"write these with tflearn's layers):")
            for line, found in by_line.items():
                names = ", ".join(dict.fromkeys(f.name for f in found))
                out.append(f"    line {line}: {self._source(line) or names}")
                out += [f"      {f.name} -> {f.hint}" for f in
                        dict((f.name, f) for f in found if f.hint).values()]
        return "\n".join(out)

    def _source(self, line: int, width: int = 72) -> str:
        if not 0 < line <= len(self.lines):
            return ""
        text = self.lines[line - 1].strip()
        return text if len(text) <= width else text[:width - 3] + "..."
