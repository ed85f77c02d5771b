"""uhnpy: the analysis commands of uhn's HDF5 files.

    PYTHONPATH=postprocess /usr/bin/python3 -m uhnpy COMMAND FILE [options]

summary FILE                      what the file holds, its deck and provenance
capacity RESULTS [--y M] --out P  M (frac_correct) against n, mean ± sd over trials,
                                  a line per similarity / separation / encoder / ...
noise RESULTS [--y M] --out P     M against the corruption level (noise variance or
                                  masked fraction: query.level)
beta RESULTS --out P              MSE and 1 − SSIM against beta (two panels)
table RESULTS [--x A] [--y M] [--format md|csv]   the table on stdout
bench FILE [--format md|csv]      the table of a `uhn bench --h5` file on stdout
images RESULTS --out P [--trajectory [--query J]]  image grid / trajectory strip
recall FILE --out P [--queries Q] [--shape HxW]   a `uhn recall` output: per query the
                                  query, the output z and the stored row n* (the
                                  queries and memories files named by its attributes)
separability FILE --out P         self/cross cosine histograms (a `uhn separability`
                                  file, or a study with output.separability = on)
scaling FILE [--outdir D]         plot_scaling.py's plots, tables and model (time per
                                  step and its parts against N and ranks), and
                                  scaling_efficiency.png (parallel efficiency)
xarray FILE [--group G]           print the file as an xarray Dataset (h5netcdf)

The figure commands take --dpi N (default 100). Every command that reads a study
takes --where AXIS=V1[,V2...] (repeatable). Axes are read from the dimension
scales. Errors: one line on stderr ("uhnpy: error: ..."), exit status 2.
"""
import argparse
import sys

from .errors import UhnError

PROG = "uhnpy"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UhnError(message)


def _save(fig, out, dpi=100):
    import matplotlib.pyplot as plt

    fig.savefig(out, dpi=dpi)
    plt.close(fig)


def cmd_summary(a):
    from .summary import summary

    print("\n".join(summary(a.file)))


def cmd_capacity(a):
    from .plots import sweep_figure

    fig, info = sweep_figure(a.file, a.y, a.x or "n", a.where)
    _save(fig, a.out, a.dpi)
    print(f"{PROG}: wrote {a.out}: {a.y} vs {info['x']}, {info['lines']} lines", file=sys.stderr)


def cmd_noise(a):
    from .plots import sweep_figure

    fig, info = sweep_figure(a.file, a.y, "level", a.where, need="corruption level")
    _save(fig, a.out, a.dpi)
    print(f"{PROG}: wrote {a.out}: {a.y} vs level, {info['lines']} lines", file=sys.stderr)


def cmd_beta(a):
    from .plots import beta_figure

    fig, _ = beta_figure(a.file, a.where)
    _save(fig, a.out, a.dpi)
    print(f"{PROG}: wrote {a.out}: mse and dssim vs beta", file=sys.stderr)


def cmd_table(a):
    from . import study as st
    from .plots import open_study
    from .tables import study_table

    if a.y not in st.METRIC_TABLE:
        raise UhnError(f"unknown metric '{a.y}' (metrics: {', '.join(st.METRICS)})")
    s = open_study(a.file, a.y)
    keep = st.selection(s, a.where)
    print(study_table(s, keep, st.choose_x(keep, a.x), a.y, a.format))


def cmd_bench(a):
    from .tables import bench_table

    print(bench_table(a.file, a.format))


def cmd_images(a):
    from .plots import images_figure

    fig, _ = images_figure(a.file, a.where, a.points, a.queries, a.trajectory, a.query)
    _save(fig, a.out, a.dpi)
    print(f"{PROG}: wrote {a.out}", file=sys.stderr)


def cmd_recall(a):
    from .plots import recall_figure

    fig, info = recall_figure(a.file, a.queries, a.shape)
    _save(fig, a.out, a.dpi)
    print(f"{PROG}: wrote {a.out}: {info['queries']} queries", file=sys.stderr)


def cmd_separability(a):
    from .plots import separability_figure

    fig, _ = separability_figure(a.file, a.where)
    _save(fig, a.out, a.dpi)
    print(f"{PROG}: wrote {a.out}", file=sys.stderr)


def cmd_scaling(a):
    import os

    from . import scaling_plot
    from .plots import efficiency_figure
    from .reader import open_file

    with open_file(a.file, kinds=("scaling",)):
        pass
    argv = [a.file] + (["--outdir", a.outdir] if a.outdir else [])
    rc = scaling_plot.main(argv)
    if rc:
        return rc
    fig, _ = efficiency_figure(a.file)
    out = os.path.join(a.outdir or os.path.dirname(os.path.abspath(a.file)),
                       "scaling_efficiency.png")
    _save(fig, out)
    print(f"wrote {out}")
    return 0


def cmd_xarray(a):
    from .reader import to_xarray

    print(to_xarray(a.file, a.group))


COMMANDS = {
    "summary": (cmd_summary, "what a uhn file holds, its deck and provenance"),
    "capacity": (cmd_capacity, "a metric against n, a line per other swept axis"),
    "noise": (cmd_noise, "a metric against the corruption level / masked fraction"),
    "beta": (cmd_beta, "MSE and 1 - SSIM against beta"),
    "table": (cmd_table, "a table of a metric (markdown or CSV)"),
    "bench": (cmd_bench, "the table of a `uhn bench --h5` file (markdown or CSV)"),
    "images": (cmd_images, "image grid, or trajectory strip"),
    "recall": (cmd_recall, "a `uhn recall` output: query, output and stored row n*"),
    "separability": (cmd_separability, "histograms of self and cross cosines"),
    "scaling": (cmd_scaling, "scaling plots and tables (plot_scaling.py)"),
    "xarray": (cmd_xarray, "the file as an xarray Dataset"),
}


def _dpi(text):
    try:
        v = int(text)
    except ValueError:
        v = 0
    if not 10 <= v <= 600:
        raise UhnError(f"--dpi {text}: expected an integer in [10, 600]")
    return v


def parser():
    ap = _Parser(prog=PROG, description=__doc__,
                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (fn, text) in COMMANDS.items():
        sp = sub.add_parser(name, help=text, description=text)
        sp.set_defaults(func=fn)
        sp.add_argument("file")
        if name in ("capacity", "noise", "beta", "images", "separability", "recall"):
            sp.add_argument("--out", required=True, metavar="PNG")
            sp.add_argument("--dpi", type=_dpi, default=100, help="resolution (default 100)")
        if name in ("capacity", "noise", "beta", "table", "images", "separability"):
            sp.add_argument("--where", action="append", default=[], metavar="AXIS=VALUE")
        if name in ("capacity", "noise", "table"):
            sp.add_argument("--y", default="frac_correct", metavar="METRIC")
        if name in ("capacity", "table"):
            sp.add_argument("--x", default=None, metavar="AXIS")
        if name in ("table", "bench"):
            sp.add_argument("--format", choices=("md", "csv"), default="md")
        if name == "images":
            sp.add_argument("--points", type=int, default=4)
            sp.add_argument("--queries", type=int, default=4)
            sp.add_argument("--trajectory", action="store_true")
            sp.add_argument("--query", type=int, default=0)
        if name == "recall":
            sp.add_argument("--queries", type=int, default=8)
            sp.add_argument("--shape", default=None, metavar="HxW")
        if name == "scaling":
            sp.add_argument("--outdir", default=None)
        if name == "xarray":
            sp.add_argument("--group", default=None)
    return ap


def main(argv=None):
    try:
        a = parser().parse_args(argv)
        if a.command is None:
            raise UhnError("a command is required: " + ", ".join(COMMANDS))
        return a.func(a) or 0
    except UhnError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
