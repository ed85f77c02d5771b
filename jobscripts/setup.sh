#!/usr/bin/env bash
# Sets uhn up on Debian 12: installs the Debian packages it needs (as root, or
# through sudo) and builds it with CMake. Usage: jobscripts/setup.sh [BUILD_DIR]
# Extra CMake options may be given in UHN_CMAKE_ARGS (e.g. -DUHN_SANITIZE=ON);
# UHN_SETUP_BUILD=0 installs the packages only (jobscripts/test.sh).
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$src/build}

packages=(build-essential cmake pkg-config git
          libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
          libscalapack-openmpi-dev libopenblas-dev libinih-dev nettle-dev zlib1g-dev
          dataset-fashion-mnist
          python3-h5py python3-numpy python3-matplotlib python3-pytest
          python3-skimage python3-torch python3-faiss python3-xarray python3-h5netcdf
          slurm-wlm munge
          clang libclang-rt-14-dev libomp-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ "${UHN_SETUP_BUILD:-1}" = 0 ] && exit 0
# shellcheck disable=SC2086
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release ${UHN_CMAKE_ARGS:-}
cmake --build "$build" -j"$(nproc)"
echo "setup: built $build/uhn"
