#!/usr/bin/python3
"""Overhead of the Python binding on a 1,000-query search batch.

    /usr/bin/python3 bench/python_overhead.py [--module-dir build-py/python]

For each configuration, times Index._search_timed(), which returns the wall
time of the C++ TurboQuantIndex::Search call alone, from Python
(time.perf_counter around the whole call: argument checks, GIL release,
result arrays), and also times plain Index.search() calls interleaved with
them. Reports medians and overhead = python / C++ - 1 (target <= 5 %).
"""
import argparse
import glob
import os
import statistics
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--module-dir", default=None)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    dirs = [args.module_dir] if args.module_dir else [os.path.join(REPO, b, "python")
                                                      for b in ("build-py", "build")]
    for d in dirs:
        if d and glob.glob(os.path.join(d, "turboquant*.so")):
            sys.path.insert(0, d)
            break
    import turboquant as tq

    rng = np.random.default_rng(0)
    print(f"{'index':>22} {'threads':>7} {'C++ ms':>9} {'python ms':>10} {'overhead':>9} "
          f"{'search() ms':>11} {'overhead':>9}")
    for n, dim, bits, threads in [(10000, 128, 4, 1), (100000, 128, 4, 1), (100000, 128, 2, 1),
                                  (100000, 128, 4, 0), (20000, 768, 4, 1)]:
        base = rng.normal(size=(n, dim)).astype(np.float32)
        queries = rng.normal(size=(1000, dim)).astype(np.float32)
        index = tq.Index(dim, bits=bits, metric="ip")
        index.add(base)
        index.search(queries, 10, threads=threads)  # warm up
        cpp, wall, plain = [], [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            _, _, seconds = index._search_timed(queries, 10, threads=threads)
            wall.append(time.perf_counter() - start)
            cpp.append(seconds)
            start = time.perf_counter()
            index.search(queries, 10, threads=threads)
            plain.append(time.perf_counter() - start)
        c, w, p = (statistics.median(x) for x in (cpp, wall, plain))
        # Same-call overhead: median over calls of (wall - C++) / C++.
        same = statistics.median((wi - ci) / ci for wi, ci in zip(wall, cpp))
        print(f"{f'{n}x{dim} {bits}-bit':>22} {threads:>7} {c * 1e3:9.3f} {w * 1e3:10.3f} "
              f"{same * 100:8.3f}% {p * 1e3:11.3f} {(p / c - 1) * 100:8.3f}%")


if __name__ == "__main__":
    main()
