"""`summary FILE`: what a uhn file holds, its deck and provenance, in a few lines."""
import numpy as np

from .reader import DESCRIPTIONS, dimensions, open_file, text

PROVENANCE_KEYS = ("uhn_version", "git_commit", "command_line", "ranks", "start_time",
                   "end_time")


def _fmt(v, axis=None):
    if axis == "cue_only" and not isinstance(v, str):
        return "on" if v else "off"
    if isinstance(v, float):
        return "auto" if np.isnan(v) else f"{v:g}"
    return str(v)


def summary(path):
    """The summary as a list of lines."""
    with open_file(path) as f:
        at = f.attrs
        lines = [f"{path}: {DESCRIPTIONS[f.kind]}"]
        if f.kind in ("study", "checkpoint"):
            lines.append(f"deck: {text(at.get('deck_name', '?'))}; "
                         f"{int(at.get('points_done', 0))} of {int(at.get('points_total', 0))} "
                         f"points done; {int(at.get('trials', 0))} "
                         f"trial{'' if int(at.get('trials', 0)) == 1 else 's'}; data "
                         f"{text(at.get('data_source', '?'))}")
            axes = f.sweep_axes("done")
            lines.append("axes: " + "; ".join(f"{a} = {', '.join(_fmt(v, a) for v in vals)}"
                                              for a, vals in axes if len(vals) > 1))
            fixed = [f"{a} = {_fmt(vals[0], a)}" for a, vals in axes if len(vals) == 1]
            if fixed:
                lines.append("fixed: " + ", ".join(fixed))
        else:
            keys = [k for k in ("command", "encoder", "similarity", "separation", "beta",
                                "n_memories", "n_queries", "dim", "description") if k in at]
            if keys:
                lines.append("; ".join(f"{k} = {_fmt(at[k])}" for k in keys))
        names = f.datasets()
        shown = []
        for n in names:
            if f.kind in ("study", "checkpoint") and "/" in n:
                continue  # the groups (per_trial, images, ...) are listed by name below
            if f.kind in ("study", "checkpoint"):
                shown.append(n)  # every one over the axes above
                continue
            dims = [label for label, _ in dimensions(f.h5[n])]
            shown.append(f"{n}[{','.join(dims)}]" if dims else n)
        lines.append(f"datasets ({len(names)}): " + " ".join(shown))
        groups = sorted({n.split("/")[0] for n in names if "/" in n})
        if groups:
            lines.append("groups: " + ", ".join(groups))
        prov = f.provenance()
        if prov:
            lines.append("provenance: " + "; ".join(f"{k} = {_fmt(prov[k])}"
                                                    for k in PROVENANCE_KEYS if k in prov))
    return lines
