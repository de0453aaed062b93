"""The command line: `stackit run [options] script.py [args...]` and
`python -m stackit [options] script.py [args...]`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

__all__ = ["main", "module_main"]

_DESCRIPTION = """\
Runs a tflearn script unedited on stackit: its `tflearn` imports are served by stackit for
this run. A static scan runs first; if the script uses tflearn names stackit lacks, or calls
TensorFlow, it lists them all and stops (unless --force)."""


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text!r}")
    return int(text)


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=_DESCRIPTION)
    parser.add_argument("--check", action="store_true",
                        help="only scan: print the report, exit 0 if clean, 1 otherwise")
    parser.add_argument("--force", action="store_true",
                        help="run even when the scan finds something")
    parser.add_argument("--epochs", type=_positive_int, metavar="N",
                        help="cap the epochs of every fit at N (smoke runs)")
    parser.add_argument("--stand-in-data", action="store_true",
                        help="dataset loaders return a few synthetic samples of the right "
                             "shapes, with a warning (smoke runs without the data; "
                             "STACKIT_STANDIN_SAMPLES sets how many, 64 by default)")
    parser.add_argument("script", help="the tflearn script")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    return parser


def _run(argv: Sequence[str], prog: str) -> int:
    options = _parser(prog).parse_args(list(argv))
    if not os.path.isfile(options.script):
        print(f"{prog}: no script at {options.script!r}", file=sys.stderr)
        return 2
    from stackit.runner.scan import scan_file  # imports stackit: after the arguments are good

    report = scan_file(options.script)
    if options.check:
        print(report.format())
        return 0 if report.clean else 1
    if not report.clean:
        print(report.format(), file=sys.stderr)
        if not options.force:
            print(f"stackit: not running {options.script}: fix the lines above, or pass --force "
                  f"to run it anyway.", file=sys.stderr)
            return 1
    from stackit.runner.run import run_script

    if options.stand_in_data:
        from stackit.datasets._standin import STANDIN_ENV

        os.environ[STANDIN_ENV] = "1"  # read by every stackit.datasets loader
    return run_script(options.script, options.args, epochs=options.epochs)


def main(argv: Sequence[str] | None = None) -> int:
    """The `stackit` console script: `stackit run [--check] [--force] [--epochs N]
    [--stand-in-data] script.py [args...]`. Returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "run":
        return _run(argv[1:], "stackit run")
    if argv and argv[0] in ("-V", "--version"):
        from stackit import __version__

        print(f"stackit {__version__}")
        return 0
    print("usage: stackit run [--check] [--force] [--epochs N] [--stand-in-data] script.py "
          "[args ...]\n"
          "       (stackit run --help for more)", file=sys.stderr)
    return 0 if argv and argv[0] in ("-h", "--help") else 2


def module_main(argv: Sequence[str] | None = None) -> int:
    """`python -m stackit [--check] [--force] [--epochs N] [--stand-in-data] script.py
    [args...]` (a leading `run` is accepted too). Returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "run":
        argv = argv[1:]
    return _run(argv, "python -m stackit")
