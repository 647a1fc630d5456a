# Thin wrapper over CMake. The two commands a new user needs:
#   make demo   install missing Debian packages, build, run the demo on Fashion-MNIST
#   make test   install missing Debian packages, build, run every test through ctest
#               (Release, then AddressSanitizer+UBSan, ThreadSanitizer on the
#               concurrency test, and a bounded libFuzzer run)
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
FUZZ_SECONDS ?= 22

.PHONY: all deps build demo test test-release test-asan test-tsan fuzz clean

all: build

deps:
	@tools/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	$(BUILD_DIR)/tools/tqindex demo

# Sanitizer and fuzz runs first, so that the closing lines are the Release
# ctest summary.
test: fuzz test-tsan test-asan test-release

test-release: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# The same suite under AddressSanitizer + UBSan, in its own build directory.
test-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTQ_SANITIZE=address \
	  -DTQ_BUILD_BENCHMARKS=OFF $(CMAKE_FLAGS)
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)

# Readers racing writers that add, remove, seal and compact (and the library's
# background thread, group commit, the search thread pool, and writers
# appending to the vectors log while it is synced).
test-tsan: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTQ_SANITIZE=thread \
	  -DTQ_BUILD_BENCHMARKS=OFF -DTQ_BUILD_TOOLS=OFF $(CMAKE_FLAGS)
	cmake --build build-tsan -j $(JOBS) --target concurrency_test background_work_test search_path_test \
	  vectors_log_test
	cd build-tsan && ctest --output-on-failure -R 'ConcurrencyTest|BackgroundWorkTest|ThreadPoolTest|SnapshotHolderTest|VectorsLogTest'

# Every parser of untrusted bytes under libFuzzer (Debian clang, ASan+UBSan):
# segment files, catalog records, npy, IDX, TEXMEX, .bin and HDF5. Each runs
# FUZZ_SECONDS on a copy of tests/fuzz/corpus/<name>/ (7 targets, about 3
# minutes in all); the make fails if any crashes, leaks or hangs. Logs and
# failing inputs: build-fuzz/fuzz-run/<name>/
fuzz: deps
	cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DTQ_SANITIZE=address -DTQ_BUILD_FUZZERS=ON -DTQ_BUILD_TESTS=OFF -DTQ_BUILD_TOOLS=OFF \
	  -DTQ_BUILD_BENCHMARKS=OFF $(CMAKE_FLAGS)
	cmake --build build-fuzz -j $(JOBS) --target fuzzers
	tests/fuzz/run_fuzzers.sh build-fuzz $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan build-fuzz
