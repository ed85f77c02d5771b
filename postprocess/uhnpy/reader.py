"""One reader for every uhn file: it detects the file's kind and returns labelled
arrays, each dimension named and given coordinates from the HDF5 dimension scales
attached to it (h5py `dset.dims[i]`), never from positions or a list of names.

Kinds (KINDS): a capacity study's results (`uhn run`, or `uhn merge` of its parts;
title "uhn capacity study"), its checkpoint (OUT.partial, root attribute complete =
0), a `uhn recall` output, an encoder model (`uhn encode fit`, or
train_autoencoder.py's mlp), encodings (`uhn encode apply` / `encode text`), a `uhn
separability` output, a benchmark (`uhn bench --h5`) and the scaling benchmark of
postprocess/scaling.py.

A dimension without an attached scale is named by its label, else by the dataset's
`axes` attribute (comma-separated names, as uhn writes them on files without
scales), else dim_0, dim_1, ...; its coordinates are then 0, 1, ... .
"""
import os

import numpy as np

from .errors import UhnError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
KINDS = ("study", "checkpoint", "recall", "encoder_model", "encodings", "separability",
         "bench", "scaling")
DESCRIPTIONS = {
    "study": "capacity study results (uhn run)",
    "checkpoint": "capacity study checkpoint (uhn run, not finished)",
    "recall": "recall output (uhn recall)",
    "encoder_model": "encoder model (uhn encode fit / train_autoencoder.py)",
    "encodings": "encodings (uhn encode apply / encode text)",
    "separability": "separability of encodings (uhn separability)",
    "bench": "benchmark (uhn bench --h5)",
    "scaling": "scaling benchmark (postprocess/scaling.py)",
}
# The datasets each kind must hold (a file that lacks one is damaged).
REQUIRED = {
    "study": ("done", "frac_correct", "queries"),
    "checkpoint": ("done", "frac_correct", "queries"),
    "recall": ("output", "index", "weight"),
    "encodings": ("output",),
    "separability": ("self_hist", "cross_hist", "bin_edges", "dprime", "overlap", "top1"),
    "scaling": ("vs_n/time", "vs_ranks/time"),
}


def text(v):
    """An attribute or string element as str (bytes decoded, numpy scalars unwrapped)."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.shape == ():
        return text(v[()])
    return str(v)


def _value(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.generic):
        return v.item()
    return v


class Labelled:
    """A dataset with named dimensions: values (numpy array), dims (tuple of names),
    coords {dim: 1-D array of coordinates}, attrs {name: value} and units."""

    def __init__(self, name, values, dims, coords, attrs):
        self.name, self.values, self.dims = name, values, tuple(dims)
        self.coords, self.attrs = coords, attrs
        self.units = text(attrs.get("units", ""))

    @property
    def shape(self):
        return self.values.shape

    def axis(self, dim):
        """The position of a named dimension."""
        if dim not in self.dims:
            raise UhnError(f"{self.name} has no dimension {dim} (its dimensions: "
                           f"{', '.join(self.dims)})")
        return self.dims.index(dim)

    def sel(self, **where):
        """The sub-array at coordinate values {dim: value} (each dim dropped)."""
        index = [slice(None)] * len(self.dims)
        for dim, v in where.items():
            c = list(self.coords[dim])
            if v not in c:
                raise UhnError(f"{self.name}: {dim} has no value {v!r}")
            index[self.axis(dim)] = c.index(v)
        keep = [d for d, i in zip(self.dims, index) if isinstance(i, slice)]
        return Labelled(self.name, self.values[tuple(index)], keep,
                        {d: self.coords[d] for d in keep}, self.attrs)

    def __repr__(self):
        dims = ", ".join(f"{d}={n}" for d, n in zip(self.dims, self.values.shape))
        return f"<Labelled {self.name} [{dims}] {self.values.dtype}>"


def dimensions(dset):
    """[(name, coordinates or None)] of each dimension of an h5py dataset: the label or
    the attached scale's name, and that scale's values; without a scale the `axes`
    attribute's name or dim_i, and None."""
    named = [a.strip() for a in text(dset.attrs.get("axes", "")).split(",")]
    out = []
    for i in range(dset.ndim):
        dim = dset.dims[i]
        label = dim.label
        coords = None
        if len(dim) > 0:
            scale = dim[0]
            if not label:
                label = os.path.basename(scale.name)
            coords = np.array([_value(v) for v in scale[()].tolist()]) \
                if scale.dtype.kind in "OS" else scale[()]
        if not label:
            label = named[i] if len(named) == dset.ndim and named[i] else f"dim_{i}"
        out.append((label, coords))
    return out


def _signature(path):
    try:
        with open(path, "rb") as f:
            return f.read(8)
    except OSError:
        return b""


def detect_kind(f):
    """The kind of an open h5py.File, or None for a file of another tool."""
    at = f.attrs
    cmd = text(at.get("command", ""))
    if "effective_deck" in at and "done" in f:
        return "checkpoint" if int(at.get("complete", 1)) == 0 else "study"
    if cmd == "recall" or (not cmd and {"output", "index", "weight"} <= set(f.keys())):
        return "recall"
    if cmd == "separability":
        return "separability"
    if cmd.startswith("encode apply") or cmd.startswith("encode text"):
        return "encodings"
    if (cmd.startswith("encode fit") or text(at.get("uhn_model", "")) == "encoder"
            or ("encoder" in at and "output" not in f)):
        return "encoder_model"
    if cmd == "bench" or text(at.get("title", "")).startswith("uhn bench"):
        return "bench"
    if text(at.get("description", "")).startswith("uhn scaling benchmark"):
        return "scaling"
    return None


class UhnFile:
    """An open uhn file: path, kind, attrs (root attributes), h5 (the h5py.File).
    Use as a context manager, or call close()."""

    def __init__(self, path, kinds=None):
        import h5py

        self.path = path
        if not os.path.exists(path):
            hint = ""
            if os.path.exists(path + ".partial"):
                hint = f" (the checkpoint {path}.partial exists: read that)"
            raise UhnError(f"no such file: {path}{hint}")
        if os.path.isdir(path):
            raise UhnError(f"{path} is a directory, not a uhn file")
        try:
            self.h5 = h5py.File(path, "r")
        except OSError as e:
            if _signature(path) == HDF5_SIGNATURE:
                why = str(e).split("(")[0].strip().rstrip(":") or "unreadable"
                raise UhnError(f"{path} is a truncated or damaged HDF5 file ({why})")
            raise UhnError(f"{path} is not a uhn file (not an HDF5 file)")
        try:
            self.kind = detect_kind(self.h5)
            if self.kind is None:
                names = sorted(self.h5.keys())
                held = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
                raise UhnError(f"{path} is not a uhn file (an HDF5 file of another tool: "
                               f"{'datasets ' + held if names else 'empty'})")
            for name in REQUIRED.get(self.kind, ()):
                if name not in self.h5:
                    raise UhnError(f"{path} is a damaged {DESCRIPTIONS[self.kind]} file "
                                   f"(no dataset {name})")
            if kinds is not None and self.kind not in kinds:
                raise UhnError(f"{path} is a {DESCRIPTIONS[self.kind]} file, not "
                               + " or ".join(DESCRIPTIONS[k] for k in kinds))
        except Exception:
            self.h5.close()
            raise
        self.attrs = {k: _value(v) for k, v in self.h5.attrs.items()}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.h5.close()

    def datasets(self):
        """The paths of every dataset that is not a dimension scale, in file order."""
        out = []

        def visit(name, obj):
            import h5py

            if isinstance(obj, h5py.Dataset) and \
                    text(obj.attrs.get("CLASS", "")) != "DIMENSION_SCALE":
                out.append(name)

        self.h5.visititems(visit)
        return out

    def has(self, name):
        return name in self.h5

    def read(self, name):
        """The dataset `name` as a Labelled array (its dims from the dimension scales)."""
        if name not in self.h5:
            raise UhnError(f"{self.path} has no dataset {name}")
        d = self.h5[name]
        dims, coords = [], {}
        for i, (label, c) in enumerate(dimensions(d)):
            if label in dims:  # two dimensions on one scale: keep them apart
                label = f"{label}_{i}"
            dims.append(label)
            coords[label] = c if c is not None else np.arange(d.shape[i])
        values = d[()]
        if isinstance(values, bytes):
            values = values.decode()
        elif isinstance(values, np.ndarray) and values.dtype.kind in "OS":
            values = np.array([_value(v) for v in values.ravel().tolist()],
                              dtype=object).reshape(values.shape)
        return Labelled(name, values, dims, coords,
                        {k: _value(v) for k, v in d.attrs.items()
                         if k not in ("DIMENSION_LIST", "REFERENCE_LIST")})

    def sweep_axes(self, name="frac_correct"):
        """[(axis name, list of values)] of the dimensions of `name` that have a scale
        (a study's sweep axes, in order), stopping at `trial`."""
        out = []
        for label, c in dimensions(self.h5[name]):
            if c is None or label == "trial":
                break
            out.append((label, [_value(v) for v in np.asarray(c).tolist()]))
        return out

    def provenance(self):
        """{key: value} of the `provenance` group's attributes (empty when absent)."""
        if "provenance" not in self.h5:
            return {}
        return {k: _value(v) for k, v in self.h5["provenance"].attrs.items()}


def open_file(path, kinds=None):
    """Open any uhn file (UhnFile); kinds: the kinds accepted (others: UhnError)."""
    return UhnFile(path, kinds)


def read(path, name):
    """One dataset of a uhn file as a Labelled array."""
    with open_file(path) as f:
        return f.read(name)


def to_xarray(path, group=None):
    """The file (or one group) as an xarray.Dataset through h5netcdf, its coordinates
    the dimension scales (for a group, the root's scales of its dimension names).
    Checks that the file is a uhn file first."""
    with open_file(path):
        pass
    import xarray

    try:
        ds = xarray.open_dataset(path, engine="h5netcdf", group=group).load()
    except (OSError, ValueError, KeyError) as e:
        raise UhnError(f"{path}: xarray cannot read {'group ' + group if group else 'it'} "
                       f"({str(e).splitlines()[0] if str(e) else type(e).__name__})")
    if group:
        # A group's dimensions are named after the root's scales (per_trial/ of a study:
        # the sweep axes and trial), which netCDF does not see from inside the group:
        # give each dimension without coordinates the root dataset of its name and length.
        import h5py

        coords = {}
        with h5py.File(path, "r") as f:
            for dim, size in ds.sizes.items():
                d = f.get(dim)
                if dim in ds.coords or not isinstance(d, h5py.Dataset) or d.shape != (size,):
                    continue
                v = d[()]
                coords[dim] = ([_value(x) for x in v.tolist()] if v.dtype.kind in "OS" else v)
        ds = ds.assign_coords(coords)
    return ds
