# shellcheck shell=bash
# Sourced by the benchmark scripts: sets `uhn` to the uhn program ($UHN, else
# build/uhn, else the first build-*/uhn below $root) or stops the script with
# exit 2 and one line naming it.
uhn=${UHN:-}
if [[ -z $uhn ]]; then
    for cand in "$root"/build/uhn "$root"/build-*/uhn; do
        if [[ -x $cand ]]; then uhn=$cand; break; fi
    done
fi
if [[ -z $uhn || ! -x $uhn ]]; then
    echo "$(basename "$0"): no uhn program found; build it (cmake -S . -B build && cmake --build build) or set UHN" >&2
    exit 2
fi
