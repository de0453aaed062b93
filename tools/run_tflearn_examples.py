"""Checks every tflearn example against stackit (by hand, not in CI) and prints a table.

    python tools/run_tflearn_examples.py PATH [--markdown] [--verbose]
    python tools/run_tflearn_examples.py PATH --run [--epochs N] [--samples N] [--timeout S]
                                              [--only NAME ...] [--real-data]

PATH is a tflearn checkout (a folder holding `examples/`) or a bare git mirror of one (its
`examples/` at HEAD is exported to a temporary folder). Every `examples/**/*.py` is scanned as
`python -m stackit --check` scans it; the table gives each script's status and the reason.

With `--run`, every clean script is also run: `python -m stackit --epochs N --stand-in-data
script.py`, one subprocess each, in a scratch working folder, `--timeout` seconds at most.
`--stand-in-data` makes stackit's dataset loaders return `--samples` synthetic samples of the
right shapes (MNIST: the first digits of the sample shipped with stackit), with a warning
(`HEAVY` scripts get fewer samples and more time); the
few scripts that read a text file of their own get a small stand-in text written beside them
(`STAND_INS`). `--real-data` runs without stand-ins (the loaders download). Headless, the
matplotlib figures of a script are drawn off screen and `waitforbuttonpress` returns at once.
The run table (`--markdown` for docs/tflearn_compatibility.md) says, per script: runs, runs on
stand-in data, too slow here (the time limit was hit), fails (with the known cause from
`KNOWN`, else the last line of the error), or why it was not run (TensorFlow calls, missing
tflearn names).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from stackit.runner.scan import Report, scan_file

#: The prelude of a headless run (a `sitecustomize` on PYTHONPATH, only for scripts that use
#: matplotlib): figures render off screen, and waiting for a key press returns at once.
_HEADLESS = """\
import os
os.environ.setdefault("MPLBACKEND", "Agg")
try:
    import matplotlib.figure
    import matplotlib.pyplot
except ImportError:
    pass
else:
    matplotlib.pyplot.waitforbuttonpress = lambda *args, **kwargs: None
    matplotlib.figure.Figure.waitforbuttonpress = lambda *args, **kwargs: None
"""


def _stand_in_text(n_words: int = 120) -> str:
    """A small text of made-up lines, for the character-level generators."""
    words = ("the", "river", "stone", "of", "light", "and", "wind", "over", "green", "hills",
             "falls", "north", "city", "lake", "port", "san", "new", "fort", "spring", "field")
    out, line = [], []
    for i in range(n_words):
        line.append(words[(i * 7 + i // 5) % len(words)])
        if len(line) == 6:
            out.append(" ".join(line).capitalize())
            line = []
    return "\n".join(out) + "\n"


class StandIn(NamedTuple):
    """What a script needs beside the dataset loaders: files in its working folder and
    command-line arguments."""

    files: tuple[str, ...] = ()
    args: tuple[str, ...] = ()


#: Scripts that read a text file of their own (downloaded when missing): a stand-in is written.
STAND_INS = {
    "nlp/lstm_generator_cityname.py": StandIn(files=("US_Cities.txt",)),
    "nlp/lstm_generator_shakespeare.py": StandIn(files=("shakespeare_input.txt",)),
    "nlp/lstm_generator_textfile.py": StandIn(files=("stand_in.txt",), args=("stand_in.txt",)),
}

#: Scripts that need more time than `--timeout` on a 2-core CPU, and fewer stand-in samples:
#: (seconds at least, stand-in samples at most). The large ImageNet-style networks compile for
#: minutes; the character generators train 50 times and write 1,200 characters each time.
HEAVY = {
    "images/alexnet.py": (600, 16),
    "images/googlenet.py": (600, 16),
    "images/inception_resnet_v2.py": (600, 16),
    "images/vgg_network.py": (600, 16),
    "nlp/lstm_generator_shakespeare.py": (1200, 64),
    "nlp/lstm_generator_textfile.py": (1200, 64),
}

#: Why a script cannot run anywhere as it is: (status, reason, a text its error must contain).
#: A failure without that text is reported as it is, so a new stackit failure is not masked.
KNOWN = {
    "basics/finetuning.py": (
        "needs your data", "a template: it calls `your_dataset()`, which it never defines, "
        "and loads `cifar10_cnn`, a model no example saves", "your_dataset"),
    "images/vgg_network_finetuning.py": (
        "needs your data", "a template: it reads your image list from `/path/to/your/...` and "
        "loads VGG-16 weights saved by tflearn (a TensorFlow checkpoint, which stackit cannot "
        "read)", "/path/to/your"),
    "images/VGG19.py": (
        "fails in tflearn too", "`fully_connected(..., activation='rmsprop')`: 'rmsprop' is an "
        "optimizer, not an activation (tflearn refuses it as well)", "'rmsprop'"),
    "nlp/lstm_generator_cityname.py": (
        "fails in tflearn too", "Python 2 only: `open(path).read().decode('utf-8')` (a Python 3 "
        "`str` has no `decode`)", "no attribute 'decode'"),
    "basics/use_dask.py": (
        "fails in tflearn too", "run from its folder, `import dask.array` finds the stub "
        "`dask.py` beside it instead of the dask package (dask arrays themselves train "
        "streamed)", "'dask' is not a package"),
}


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
    """(status, reason) of a scan, for the scan table."""
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


def not_run_status(report: Report) -> tuple[str, str]:
    """(status, reason) of a script the scan stops, for the run table: which TensorFlow calls
    and which missing tflearn names."""
    if report.findings[0].kind == "syntax":
        return status(report)
    reasons = []
    if report.missing:
        names = list(dict.fromkeys(f.name for f in report.missing))
        reasons.append("lacks " + ", ".join(f"`{n}`" for n in names))
    if report.tensorflow:
        calls = []
        for finding in report.tensorflow:
            name = re.sub(r"^(import|from) ", "", finding.name).split(" ")[0]
            if not finding.name.startswith(("import ", "from ")):
                calls.append(f"`{name}`")
        calls = list(dict.fromkeys(calls))
        more = f" (+{len(calls) - 8} more)" if len(calls) > 8 else ""
        reasons.append("TensorFlow: " + (", ".join(calls[:8]) + more if calls else "imports it"))
    kind = "needs TensorFlow directly" if report.tensorflow else "needs a missing API"
    if report.tensorflow and report.missing:
        kind = "needs TensorFlow and a missing API"
    return kind, "; ".join(reasons)


class Run(NamedTuple):
    """The outcome of one run."""

    returncode: int | None  # None: stopped at the time limit
    seconds: float
    stderr: str
    stdout: str


def run(script: Path, relative: str, options: argparse.Namespace, scratch: Path) -> Run:
    """Runs one script through the runner in its own working folder under `scratch`."""
    work = scratch / relative.replace("/", "__").removesuffix(".py")
    work.mkdir(parents=True, exist_ok=True)
    stand_in = STAND_INS.get(relative, StandIn()) if not options.real_data else StandIn()
    for name in stand_in.files:
        (work / name).write_text(_stand_in_text())
    timeout, samples = HEAVY.get(relative, (options.timeout, options.samples))
    timeout, samples = max(timeout, options.timeout), min(samples, options.samples)
    env = dict(os.environ, STACKIT_STANDIN_SAMPLES=str(samples), PYTHONUNBUFFERED="1")
    env.pop("STACKIT_MAX_EPOCHS", None)
    if "matplotlib" in script.read_text(errors="replace"):
        (work / "_headless").mkdir(exist_ok=True)
        (work / "_headless" / "sitecustomize.py").write_text(_HEADLESS)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(work / "_headless"),
                                                          env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "stackit", "--epochs", str(options.epochs)]
    command += [] if options.real_data else ["--stand-in-data"]
    command += [str(script), *stand_in.args]
    start = time.monotonic()
    try:
        done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as stop:
        out = stop.stdout.decode(errors="replace") if isinstance(stop.stdout, bytes) else ""
        err = stop.stderr.decode(errors="replace") if isinstance(stop.stderr, bytes) else ""
        return Run(None, time.monotonic() - start, err, out)
    return Run(done.returncode, time.monotonic() - start, done.stderr, done.stdout)


def run_status(relative: str, outcome: Run, epochs: int = 1) -> tuple[str, str]:
    """(status, reason) of a run (every fit capped at `epochs`), for the run table."""
    stand_in = "STAND-IN DATA" in outcome.stderr or relative in STAND_INS
    seconds = f"{outcome.seconds:.0f} s"
    if outcome.returncode == 0:
        what = "runs on stand-in data" if stand_in else "runs"
        return what, (f"{seconds} in all, each fit capped at {epochs} epoch{'s' * (epochs != 1)}"
                      + _stand_in_note(relative, outcome))
    if outcome.returncode is None:
        trained = len(re.findall(r"^Epoch \d+/\d+ \|", outcome.stdout, flags=re.MULTILINE))
        done = (f"after {trained} epoch{'s' * (trained != 1)} of training" if trained
                else "before the first epoch ended (built and compiling or training)")
        return "too slow here", f"stopped at the {seconds} limit {done}, on CPU"
    known = KNOWN.get(relative)
    if known is not None and known[2] in outcome.stderr:
        return known[0], known[1]
    lines = [line for line in outcome.stderr.strip().splitlines() if line.strip()]
    return "fails", (lines[-1][:160] if lines else f"exit status {outcome.returncode}")


def _stand_in_note(relative: str, outcome: Run) -> str:
    if relative in STAND_INS:
        return "; a small stand-in text in place of the file it downloads"
    if "STAND-IN DATA" in outcome.stderr and "mnist.load_data" in outcome.stderr:
        return "; the first digits of stackit's MNIST sample"
    return ""


def main(argv: list[str] | None = None) -> int:
    """Prints the table; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tflearn", type=Path, help="a tflearn checkout or bare git mirror")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--verbose", action="store_true",
                        help="also print each full report (and, with --run, each run's output)")
    parser.add_argument("--run", action="store_true", help="run the clean scripts too")
    parser.add_argument("--epochs", type=int, default=1, help="epoch cap with --run (1)")
    parser.add_argument("--samples", type=int, default=64,
                        help="stand-in samples per dataset with --run (64)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per run (300)")
    parser.add_argument("--only", nargs="+", default=(), metavar="NAME",
                        help="only the scripts whose path contains one of these")
    parser.add_argument("--real-data", action="store_true",
                        help="with --run: no stand-ins (the loaders download the datasets)")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = examples_folder(options.tflearn, Path(scratch))
        rows = []
        for script in sorted(folder.rglob("*.py")):
            relative = os.path.relpath(script, folder).replace(os.sep, "/")
            if options.only and not any(part in relative for part in options.only):
                continue
            report = scan_file(script)
            state, reason = status(report)
            if options.run:
                if report.clean:
                    outcome = run(script, relative, options, Path(scratch) / "runs")
                    state, reason = run_status(relative, outcome, options.epochs)
                    if options.verbose:
                        print(f"==== {relative}: exit {outcome.returncode}\n{outcome.stdout}"
                              f"\n{outcome.stderr}", file=sys.stderr)
                else:
                    state, reason = not_run_status(report)
                print(f"{relative}: {state}", file=sys.stderr, flush=True)
            rows.append((relative, state, reason))
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
