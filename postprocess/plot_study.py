#!/usr/bin/python3
"""plot_study.py RESULTS.h5 [--x AXIS] [--y METRIC] [--out PNG] [--table] ...

The command of uhnpy.study (postprocess/uhnpy/study.py), under its old name:
its documentation is that module's (`plot_study.py --help`)."""
import os
import sys

# The code is the uhnpy package's (postprocess/uhnpy/study.py; also
# `python3 -m uhnpy capacity|noise|table|images`); this script keeps its name,
# command line and output. Its names stay importable (plot_study.Study, ...).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uhnpy.study import *  # noqa: E402,F401,F403
from uhnpy.study import _str, main  # noqa: E402,F401

if __name__ == "__main__":
    sys.exit(main(prog="plot_study.py"))
