"""Makes `import turboquant` work under ctest (PYTHONPATH is set there) and
when pytest is run by hand from the repository (looks in build-py/ and build/)."""
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _find_module_dir():
    for build in ("build-py", "build"):
        d = os.path.join(REPO, build, "python")
        if os.path.isdir(d) and any(f.startswith("turboquant.") and f.endswith(".so")
                                    for f in os.listdir(d)):
            return d
    return None


try:
    import turboquant  # noqa: F401
except ImportError:
    found = _find_module_dir()
    if found:
        sys.path.insert(0, found)

SHARED_DATA = os.environ.get("TQ_SHARED_DATA_DIR",
                             os.path.join(os.path.dirname(REPO), "shared", "data"))
