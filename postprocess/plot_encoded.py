#!/usr/bin/python3
"""plot_encoded.py trajectory|separability|table RESULTS.h5 ...

The command of uhnpy.encoded (postprocess/uhnpy/encoded.py), under its old name:
its documentation is that module's (`plot_encoded.py --help`)."""
import os
import sys

# The code is the uhnpy package's (postprocess/uhnpy/encoded.py; also
# `python3 -m uhnpy images --trajectory`, `separability`); this script keeps its
# name, command line and output.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uhnpy.encoded import *  # noqa: E402,F401,F403
from uhnpy.encoded import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(prog="plot_encoded.py"))
