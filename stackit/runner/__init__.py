"""Runs tflearn scripts unedited on stackit: `python -m stackit script.py [args...]`.

`scan_file` lists what a script uses that stackit lacks (and its TensorFlow calls) without
running it; `run_script` runs it with `tflearn` imports served by stackit (`tflearn_aliases`).
Importing this package installs nothing. See docs/porting.md.
"""

from stackit.runner.hook import installed, tflearn_aliases
from stackit.runner.run import run_script
from stackit.runner.scan import Finding, Report, scan_file, scan_source

__all__ = ["run_script", "scan_file", "scan_source", "Report", "Finding", "tflearn_aliases",
           "installed"]
