"""Tables of a capacity study: markdown (plot_study.py --table's) and CSV."""
import csv
import io

import numpy as np

from . import study as st


def study_table(s, keep, x, metric, fmt="md"):
    """The table of METRIC against x (one row per combination of the other kept axes
    with more than one value). md: plot_study.py's markdown ("mean ± std" cells, "—"
    for a point not done); csv: one row per point, the line axes, x, the metric and
    its standard deviation (empty when the metric has none or the point is not done),
    at full precision."""
    if fmt == "md":
        return st.table(s, keep, x, metric)
    lines = st.line_axes(keep, x)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(lines + [x, metric, metric + "_std"])
    for idx, vals in st.combinations(s, keep, lines):
        for xi in keep[x]:
            p = st.point_index(keep, x, xi, lines, idx)
            m, sd = s.mean[p], s.std[p]
            w.writerow([st.fmt_value(a, v) for a, v in zip(lines, vals)]
                       + [st.fmt_value(x, s.values[x][xi]),
                          repr(float(m)) if np.isfinite(m) else "",
                          repr(float(sd)) if s.has_std and np.isfinite(sd) else ""])
    return out.getvalue().rstrip("\n")


BENCH_COLUMNS = (  # (heading, dataset, format)
    ("B", "queries", "int"), ("T", "steps", "int"), ("best", "best", "time"),
    ("median", "median", "time"), ("step", "step_time", "ms"), ("rate", "rate", "rate"),
    ("rate median", "rate_median", "rate"), ("unit", "unit", "text"),
    ("% of limit", "percent_of_limit", "percent"), ("target", "target", "target"),
    ("compute", "compute", "time"), ("reduce", "reduce", "time"), ("check", "check", "text"),
)


def fmt_time(seconds):
    """A time in s, ms or µs with 3 significant digits ("—" when not finite)."""
    s = float(seconds)
    if not np.isfinite(s):
        return "—"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if abs(s) >= scale or unit == "µs":
            return f"{s / scale:.3g} {unit}"


def _bench_cell(kind, v):
    if kind == "text":
        return str(v).replace("|", "\\|")  # a markdown cell
    v = float(v)
    if kind == "int":
        return str(int(v))
    if not np.isfinite(v):
        return "—"
    if kind == "time":
        return fmt_time(v)
    if kind == "ms":
        return fmt_time(v * 1e-3)
    if kind == "rate":
        return f"{v:.3g}"
    if kind == "percent":
        return f"{v:.1f} %"
    return f"{v:g} %" if v > 0 else "—"  # target: 0 = none


def _csv_cell(kind, v):
    if kind == "text":
        return str(v)
    return str(int(v)) if kind == "int" else repr(float(v))


def bench_table(path, fmt="md"):
    """The table of a `uhn bench --h5` file, one row per case (the `case` scale): md, a
    line naming the problem and the machine limits then the markdown table (times in
    s/ms/µs, rates in the row's unit); csv, every column at full precision."""
    from .errors import UhnError
    from .reader import open_file

    with open_file(path, kinds=("bench",)) as f:
        at = f.attrs
        missing = [d for _, d, _ in BENCH_COLUMNS if not f.has(d)]
        if missing:
            raise UhnError(f"{path} is a damaged benchmark (uhn bench --h5) file "
                           f"(no dataset {missing[0]})")
        cols = {d: f.read(d) for _, d, _ in BENCH_COLUMNS}
    cases = [str(c) for c in cols["best"].coords["case"]]
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["case"] + [d for _, d, _ in BENCH_COLUMNS])
        for i, c in enumerate(cases):
            w.writerow([c] + [_csv_cell(k, cols[d].values[i]) for _, d, k in BENCH_COLUMNS])
        return out.getvalue().rstrip("\n")

    def num(key, form="{:g}"):
        return form.format(at[key]) if key in at else "?"

    head = (f"uhn bench: N = {num('n')}, K = {num('k')}, {num('ranks')} ranks × "
            f"{num('threads')} threads, {at.get('date', '?')}, {at.get('host', '?')}, "
            f"commit {at.get('git_commit', '?')}; limits: read "
            f"{num('read_bandwidth_GBps', '{:.3g}')} GB/s, SGEMM "
            f"{num('sgemm_GFLOPps', '{:.3g}')} GFLOP/s, L1 "
            f"{num('l1_rate_Gelemps', '{:.3g}')} Gelem/s")
    lines = [head, "",
             "| case | " + " | ".join(h for h, _, _ in BENCH_COLUMNS) + " |",
             "|---|" + "---|" * len(BENCH_COLUMNS)]
    for i, c in enumerate(cases):
        lines.append("| " + " | ".join([c] + [_bench_cell(k, cols[d].values[i])
                                             for _, d, k in BENCH_COLUMNS]) + " |")
    return "\n".join(lines)
