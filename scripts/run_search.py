#!/usr/bin/env python
"""Run (or join, or resume) an Optuna study over the FER pipeline; see ``--help``."""

import sys

from fer_estimator.cli import search_main

if __name__ == "__main__":
    sys.exit(search_main())
