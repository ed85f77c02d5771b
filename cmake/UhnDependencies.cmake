# Finds every library uhn needs, with a message naming the Debian package when
# one is missing. Defines the imported targets uhn::blas, uhn::scalapack,
# uhn::inih, uhn::nettle; MPI::MPI_C, OpenMP::OpenMP_C and hdf5 come from
# CMake's modules.
find_package(PkgConfig)

macro(uhn_missing what pkg)
  message(FATAL_ERROR "uhn: ${what} not found. On Debian 12: apt-get install ${pkg}")
endmacro()

find_package(MPI COMPONENTS C)
if(NOT MPI_C_FOUND)
  uhn_missing("MPI (Open MPI)" "libopenmpi-dev openmpi-bin")
endif()

find_package(OpenMP COMPONENTS C)
if(NOT OpenMP_C_FOUND)
  uhn_missing("OpenMP" "a compiler with OpenMP (gcc)")
endif()

set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 COMPONENTS C HL)
if(NOT HDF5_FOUND)
  uhn_missing("HDF5" "libhdf5-openmpi-dev")
endif()
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "uhn: HDF5 found at ${HDF5_INCLUDE_DIRS} is not the parallel build. "
                      "On Debian 12: apt-get install libhdf5-openmpi-dev")
endif()
add_library(uhn::hdf5 INTERFACE IMPORTED)
target_include_directories(uhn::hdf5 INTERFACE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
target_link_libraries(uhn::hdf5 INTERFACE ${HDF5_C_HL_LIBRARIES} ${HDF5_C_LIBRARIES})
target_compile_definitions(uhn::hdf5 INTERFACE ${HDF5_C_DEFINITIONS} H5_USE_110_API_DEFAULT=0)

if(NOT PKG_CONFIG_FOUND)
  uhn_missing("pkg-config" "pkg-config")
endif()

# OpenBLAS (CBLAS and the openblas_* thread controls).
pkg_check_modules(UHN_OPENBLAS IMPORTED_TARGET openblas)
if(NOT UHN_OPENBLAS_FOUND)
  uhn_missing("OpenBLAS" "libopenblas-dev")
endif()
add_library(uhn::blas ALIAS PkgConfig::UHN_OPENBLAS)

# Debian's ScaLAPACK CMake config names a library that is not installed, so
# pkg-config is the reliable route.
pkg_check_modules(UHN_SCALAPACK IMPORTED_TARGET scalapack-openmpi)
if(NOT UHN_SCALAPACK_FOUND)
  uhn_missing("ScaLAPACK" "libscalapack-openmpi-dev")
endif()
add_library(uhn::scalapack ALIAS PkgConfig::UHN_SCALAPACK)

pkg_check_modules(UHN_INIH IMPORTED_TARGET inih)
if(NOT UHN_INIH_FOUND)
  uhn_missing("libinih" "libinih-dev")
endif()
add_library(uhn::inih ALIAS PkgConfig::UHN_INIH)

# Nettle's SHA-256 for the text encoders (spec §13): a vetted hash, not our own.
pkg_check_modules(UHN_NETTLE IMPORTED_TARGET nettle)
if(NOT UHN_NETTLE_FOUND)
  uhn_missing("Nettle" "nettle-dev")
endif()
add_library(uhn::nettle ALIAS PkgConfig::UHN_NETTLE)

find_package(ZLIB)
if(NOT ZLIB_FOUND)
  uhn_missing("zlib" "zlib1g-dev")
endif()

find_library(UHN_LIBM m)
