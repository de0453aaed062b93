"""Checks every tflearn example against stackit (by hand, not in CI) and prints a table.

    python tools/run_tflearn_examples.py PATH [--markdown] [--verbose] [--run [--epochs N]]

PATH is a tflearn checkout (a folder holding `examples/`) or a bare git mirror of one (its
`examples/` at HEAD is exported to a temporary folder). Every `examples/**/*.py` is scanned as
`python -m stackit --check` scans it; the table gives each script's status and the reason.
With `--run`, the clean scripts are also run (`python -m stackit --epochs N`, one subprocess
each, `--timeout` seconds at most): they may download their datasets.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from stackit.runner.scan import Report, scan_file


def examples_folder(path: Path, scratch: Path) -> Path:
    """The `examples/` folder of the checkout or bare mirror at `path`."""
    if (path / "examples").is_dir():
        return path / "examples"
    if (path / "HEAD").is_file() and (path / "objects").is_dir():  # a bare git repository
        archive = scratch / "examples.tar"
        with archive.open("wb") as out:
            subprocess.run(["git", "-C", str(path), "archive", "HEAD", "examples"], stdout=out,
                           check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(scratch, filter="data")
        return scratch / "examples"
    raise SystemExit(f"{path}: neither a tflearn checkout (no examples/) nor a bare git mirror.")


def status(report: Report) -> tuple[str, str]:
    """(status, reason) for the table."""
    if report.clean:
        return "clean", ""
    if report.findings[0].kind == "syntax":
        finding = report.findings[0]
        return "syntax", f"line {finding.line}: {finding.hint}"
    reasons = []
    if report.missing:
        names = list(dict.fromkeys(f.name for f in report.missing))
        more = f" (+{len(names) - 4} more)" if len(names) > 4 else ""
        reasons.append("lacks " + ", ".join(names[:4]) + more)
    if report.tensorflow:
        lines = sorted({f.line for f in report.tensorflow})
        reasons.append(f"TensorFlow on {len(lines)} line{'s' * (len(lines) != 1)}")
    kind = "+".join(k for k, present in (("missing", report.missing),
                                         ("tensorflow", report.tensorflow)) if present)
    return kind, "; ".join(reasons)


def run(script: Path, epochs: int, timeout: float) -> tuple[str, str]:
    """Runs a clean script through the runner; (status, last line of its output)."""
    try:
        done = subprocess.run([sys.executable, "-m", "stackit", "--epochs", str(epochs),
                               str(script)], cwd=script.parent, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return "timeout", f"still running after {timeout:.0f} s"
    tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or [""]
    return ("ran" if done.returncode == 0 else f"failed ({done.returncode})"), tail[0][:100]


def main(argv: list[str] | None = None) -> int:
    """Prints the table; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tflearn", type=Path, help="a tflearn checkout or bare git mirror")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--verbose", action="store_true", help="also print each full report")
    parser.add_argument("--run", action="store_true", help="run the clean scripts too")
    parser.add_argument("--epochs", type=int, default=1, help="epoch cap with --run (1)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per run (600)")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = examples_folder(options.tflearn, Path(scratch))
        rows = []
        for script in sorted(folder.rglob("*.py")):
            report = scan_file(script)
            state, reason = status(report)
            if options.run and report.clean:
                state, reason = run(script, options.epochs, options.timeout)
            rows.append((os.path.relpath(script, folder), state, reason))
            if options.verbose:
                print(report.format(), end="\n\n")
    _print_table(rows, options.markdown)
    counts: dict[str, int] = {}
    for _, state, _ in rows:
        counts[state] = counts.get(state, 0) + 1
    print("\n" + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    return 0


def _print_table(rows: list[tuple[str, str, str]], markdown: bool) -> None:
    header = ("script", "status", "reason")
    if markdown:
        print("| " + " | ".join(header) + " |\n|---|---|---|")
        for row in rows:
            print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
        return
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(2)]
    for row in [header, *rows]:
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}")


if __name__ == "__main__":
    sys.exit(main())
