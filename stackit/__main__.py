"""`python -m stackit [--check] [--force] [--epochs N] [--stand-in-data] script.py [args...]`:
runs a tflearn script unedited on stackit (see docs/porting.md)."""

import sys

from stackit.runner.cli import module_main

if __name__ == "__main__":
    sys.exit(module_main())
