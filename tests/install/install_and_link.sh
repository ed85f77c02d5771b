#!/usr/bin/env bash
# Installs uhn into a scratch prefix, then builds and runs an outside program
# against the installed headers and library through pkg-config, at 1 and 3 ranks.
# Usage: install_and_link.sh BUILD_DIR SOURCE_FILE MPIEXEC
set -euo pipefail
build=$1 src=$2 mpiexec=$3
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" > /dev/null
for f in bin/uhn include/uhn/uhn.h include/uhn/engine.h include/uhn/version.h lib/pkgconfig/uhn.pc; do
  [ -e "$prefix/$f" ] || { echo "install_and_link: $f was not installed"; exit 1; }
done
ls "$prefix"/lib/libuhn.so* > /dev/null
"$prefix/bin/uhn" --version | grep -q "^uhn " || { echo "installed uhn --version failed"; exit 1; }
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
# shellcheck disable=SC2046
mpicc -std=c11 -Wall -Werror "$src" $(pkg-config --cflags --libs uhn) -o "$prefix/link_example"
for np in 1 3; do
  out=$("$mpiexec" --oversubscribe -n $np "$prefix/link_example")
  echo "np=$np: $out"
  [[ $out == "rc 0 index 2 out 4 5"* ]] || { echo "unexpected output at $np ranks"; exit 1; }
done
