"""uhnpy: the analysis package of uhn's HDF5 files (h5py, NumPy, matplotlib).

    PYTHONPATH=postprocess /usr/bin/python3 -m uhnpy COMMAND ...

Modules: reader (open any uhn file, labelled arrays from the dimension scales,
to_xarray), idx (the IDX reader), outcome (the correctness rule of spec §7/§10),
study (capacity-study plots, tables, image grids: plot_study.py), encoded (trajectory
strips, separability panels: plot_encoded.py), scaling_plot (plot_scaling.py),
plots and tables (the figures and tables of the commands), summary.
"""
from .errors import UhnError
from .reader import Labelled, UhnFile, open_file, read, to_xarray

__all__ = ["UhnError", "Labelled", "UhnFile", "open_file", "read", "to_xarray"]
