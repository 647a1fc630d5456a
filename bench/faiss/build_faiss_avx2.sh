#!/usr/bin/env bash
# Build FAISS 1.7.3 from Debian's own source package with AVX2 enabled, for benchmarks only.
#
# Why: Debian's libfaiss-dev is compiled for baseline x86-64 (get_compile_options() says
# "OPTIMIZE GENERIC"), so its PQ fast-scan and SQ kernels run without SIMD. Comparing against that
# would flatter TurboQuant. This script builds the very same source (Debian patches applied) with
# the flags FAISS itself uses for its AVX2 variant, and installs it into a private prefix that
# bench/compare/CMakeLists.txt picks up (TQ_FAISS_DIR). It never touches the system libfaiss and is
# never used by `make test`.
#
# Usage:  bench/faiss/build_faiss_avx2.sh            (idempotent; re-running reuses what exists)
# Env:    TQ_FAISS_CACHE  cache folder (default ~/.cache/turboquant/faiss-avx2)
#         JOBS            parallel compile jobs (default: nproc)
#         TQ_FAISS_BLAS   private (default) | system
#                         private: Debian's libopenblas0-openmp binary package is fetched with
#                           `apt-get download` and unpacked into the cache (not installed), and FAISS
#                           links to it through its RUNPATH. The system BLAS alternatives stay as
#                           they are, yet IndexFlat gets a multi-threaded SIMD sgemm (the reference
#                           BLAS is single-threaded and ~10x slower, which would handicap FAISS).
#                           The OpenMP variant obeys omp_set_num_threads(), like FAISS itself.
#                         system: link whatever libblas.so/liblapack.so the system provides
#                           (installs libblas-dev + liblapack-dev if missing).
#         TQ_FAISS_CLEAN=1  wipe the build folder first.
set -euo pipefail

CACHE_DIR="${TQ_FAISS_CACHE:-$HOME/.cache/turboquant/faiss-avx2}"
SRC_ROOT="$CACHE_DIR/src"
BUILD_DIR="$CACHE_DIR/build"
PREFIX="$CACHE_DIR/install"
JOBS="${JOBS:-$(nproc)}"
BLAS_CHOICE="${TQ_FAISS_BLAS:-private}"
WANT_VERSION="1.7.3"

log() { printf '[build_faiss_avx2] %s\n' "$*" >&2; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
START=$(date +%s)

# FAISS's AVX2 variant (target faiss_avx2 in faiss/CMakeLists.txt) is the plain library compiled with
# exactly these flags. With FAISS_OPT_LEVEL=avx2, 1.7.3 compiles the whole library twice (generic
# `faiss` + `faiss_avx2`), which doubles the build time. We compile it once, as the `faiss` target,
# with the same flags; the result reports get_compile_options() == "OPTIMIZE AVX2".
AVX2_FLAGS="-mavx2 -mfma -mf16c -mpopcnt"

if ! grep -q -m1 -w -E 'avx2' /proc/cpuinfo; then
  log "this CPU has no AVX2; the build would not run here. Aborting."
  exit 1
fi

# ---------------------------------------------------------------- 1. deb-src entries
has_deb_src() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && grep -q -E '^[[:space:]]*deb-src[[:space:]]' "$f" && return 0
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && grep -q -E '^Types:.*\bdeb-src\b' "$f" && return 0
  done
  return 1
}

if has_deb_src; then
  log "deb-src entries already configured"
else
  tmp="$(mktemp)"
  # deb822 files (*.sources): copy every Debian stanza whose Types has "deb", as deb-src.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = ""; ORS = "\n\n" }
         $0 ~ /Types:[^\n]*deb/ && $0 ~ /URIs:[^\n]*debian/ {
           sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f" >> "$tmp"
  done
  if [ -s "$tmp" ]; then
    $SUDO install -m 0644 "$tmp" /etc/apt/sources.list.d/turboquant-deb-src.sources
    log "wrote /etc/apt/sources.list.d/turboquant-deb-src.sources"
  fi
  : > "$tmp"
  # one-line format (sources.list, *.list): "deb ..." -> "deb-src ..." for Debian mirrors.
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    grep -E '^[[:space:]]*deb[[:space:]].*debian' "$f" |
      sed -E 's/^[[:space:]]*deb[[:space:]]/deb-src /' >> "$tmp" || true
  done
  if [ -s "$tmp" ]; then
    $SUDO install -m 0644 "$tmp" /etc/apt/sources.list.d/turboquant-deb-src.list
    log "wrote /etc/apt/sources.list.d/turboquant-deb-src.list"
  fi
  rm -f "$tmp"
  has_deb_src || { log "could not derive deb-src entries from the apt configuration"; exit 1; }
fi

# ---------------------------------------------------------------- 2. tools and BLAS
pkg_ok() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
need=()
for p in dpkg-dev cmake g++ make; do pkg_ok "$p" || need+=("$p"); done
case "$BLAS_CHOICE" in
  private) for p in libgomp1 libgfortran5; do pkg_ok "$p" || need+=("$p"); done ;;
  system) for p in libblas-dev liblapack-dev; do pkg_ok "$p" || need+=("$p"); done ;;
  *) log "TQ_FAISS_BLAS must be private or system"; exit 1 ;;
esac
log "apt-get update"
$SUDO apt-get update -qq
if [ "${#need[@]}" -gt 0 ]; then
  log "installing: ${need[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# ---------------------------------------------------------------- 3. Debian source package
mkdir -p "$SRC_ROOT"
SRC_DIR="$(find "$SRC_ROOT" -maxdepth 1 -type d -name "faiss-$WANT_VERSION*" | head -n1)"
if [ -z "$SRC_DIR" ]; then
  log "apt-get source faiss (into $SRC_ROOT)"
  (cd "$SRC_ROOT" && apt-get source -qq "faiss" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
  SRC_DIR="$(find "$SRC_ROOT" -maxdepth 1 -type d -name "faiss-$WANT_VERSION*" | head -n1)"
fi
if [ -z "$SRC_DIR" ] || [ ! -f "$SRC_DIR/CMakeLists.txt" ]; then
  log "no faiss-$WANT_VERSION source found under $SRC_ROOT (got: $(ls "$SRC_ROOT" | tr '\n' ' '))"
  exit 1
fi
DSC="$(ls "$SRC_ROOT"/faiss_*.dsc 2>/dev/null | head -n1 || true)"
log "source: $SRC_DIR ${DSC:+($(basename "$DSC"))}"

# ---------------------------------------------------------------- 4. configure, build, install
[ "${TQ_FAISS_CLEAN:-0}" = 1 ] && rm -rf "$BUILD_DIR"
blas_args=(-DBLA_VENDOR=Generic)
BLAS_DESC="system libblas.so.3/liblapack.so.3 ($(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo '?'))"
if [ "$BLAS_CHOICE" = private ]; then
  OB_ROOT="$CACHE_DIR/openblas"
  OB_DIR="$OB_ROOT/root/usr/lib/x86_64-linux-gnu/openblas-openmp"
  if [ ! -e "$OB_DIR/libopenblas.so.0" ]; then
    log "apt-get download libopenblas0-openmp (unpacked into $OB_ROOT, not installed)"
    rm -rf "$OB_ROOT"; mkdir -p "$OB_ROOT"
    (cd "$OB_ROOT" && apt-get download -qq libopenblas0-openmp 2>&1 |
       grep -v '^W: Download is performed unsandboxed' >&2 || true)
    deb="$(ls "$OB_ROOT"/libopenblas0-openmp_*.deb 2>/dev/null | head -n1 || true)"
    [ -n "$deb" ] || { log "apt-get download libopenblas0-openmp failed"; exit 1; }
    dpkg-deb -x "$deb" "$OB_ROOT/root"
  fi
  # libopenblas.so.0 holds BLAS and LAPACK (sgemm_, sgesvd_, ssyev_ ...).
  blas_args=(-DBLAS_LIBRARIES="$OB_DIR/libopenblas.so.0" -DLAPACK_LIBRARIES="$OB_DIR/libopenblas.so.0"
             -DCMAKE_INSTALL_RPATH="$OB_DIR")
  BLAS_DESC="private OpenBLAS (OpenMP) $(basename "$(ls "$OB_ROOT"/libopenblas0-openmp_*.deb | head -n1)")"
fi
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ] || [ "$(cat "$BUILD_DIR/.tq_blas" 2>/dev/null)" != "$BLAS_CHOICE" ]; then
  rm -f "$BUILD_DIR/CMakeCache.txt"
  log "configuring (BLAS: $BLAS_CHOICE, flags: $AVX2_FLAGS)"
  cmake -S "$SRC_DIR" -B "$BUILD_DIR" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" \
    -DCMAKE_INSTALL_LIBDIR=lib \
    -DCMAKE_CXX_FLAGS="$AVX2_FLAGS" \
    -DFAISS_OPT_LEVEL=generic \
    -DFAISS_ENABLE_GPU=OFF \
    -DFAISS_ENABLE_PYTHON=OFF \
    -DFAISS_ENABLE_C_API=OFF \
    -DBUILD_TESTING=OFF \
    -DBUILD_SHARED_LIBS=ON \
    "${blas_args[@]}" >&2
  echo "$BLAS_CHOICE" > "$BUILD_DIR/.tq_blas"
fi
log "building with $JOBS jobs (nice 19)"
nice -n 19 cmake --build "$BUILD_DIR" --target faiss -j "$JOBS" >&2
cmake --install "$BUILD_DIR" >&2

# ---------------------------------------------------------------- 5. check and record
CHECK_DIR="$CACHE_DIR/check"
mkdir -p "$CHECK_DIR"
cat > "$CHECK_DIR/check.cc" <<'CC'
#include <cstdio>
#include <faiss/utils/utils.h>
int main() { std::printf("%s\n", faiss::get_compile_options().c_str()); return 0; }
CC
g++ -std=c++17 -O1 -I"$PREFIX/include" "$CHECK_DIR/check.cc" -L"$PREFIX/lib" -Wl,-rpath,"$PREFIX/lib" -lfaiss -o "$CHECK_DIR/check"
OPTS="$("$CHECK_DIR/check")"
log "libfaiss.so resolves BLAS to: $(ldd "$PREFIX/lib/libfaiss.so" | grep -E 'blas|lapack' | awk '{print $3}' | tr '\n' ' ')"
END=$(date +%s)
{
  echo "faiss_version=$WANT_VERSION"
  echo "debian_source=$(basename "${DSC:-unknown}")"
  echo "compile_options=$OPTS"
  echo "cxx_flags=$AVX2_FLAGS (+ CMAKE_BUILD_TYPE=Release: -O3 -DNDEBUG)"
  echo "blas=$BLAS_DESC"
  echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "build_seconds=$((END - START))"
  echo "jobs=$JOBS"
} > "$PREFIX/BUILD_INFO"
log "done in $((END - START)) s; get_compile_options() = '$OPTS'"
log "installed in $PREFIX (see $PREFIX/BUILD_INFO)"
case "$OPTS" in *AVX2*) ;; *) log "WARNING: the library does not report AVX2"; exit 2 ;; esac
