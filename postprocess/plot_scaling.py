#!/usr/bin/env python3
"""plot_scaling.py SCALING.h5 [--outdir DIR] ...

The command of uhnpy.scaling_plot (postprocess/uhnpy/scaling_plot.py), under its old name:
its documentation is that module's (`plot_scaling.py --help`)."""
import os
import sys

# The code is the uhnpy package's (postprocess/uhnpy/scaling_plot.py; also
# `python3 -m uhnpy scaling`); this script keeps its name, command line and output.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uhnpy.scaling_plot import *  # noqa: E402,F401,F403
from uhnpy.scaling_plot import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
