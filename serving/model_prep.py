"""A fast-loading copy of a cached text model.

The registered classifier is a zlib-compressed joblib file (~94 MB compressed, ~290 MB of arrays for
the demo model): loading it costs seconds of CPU, and doing that inside a serving worker, while it
answers requests, stalls them (the alias-swap benchmark showed it). So a separate low-priority process
(`python -m serving.model_prep <model dir> <artifact>`) decompresses it once into an uncompressed copy
beside it in the model cache, and workers load that copy memory-mapped: near-instant, and the arrays
are shared by every worker through the page cache. Any failure falls back to the normal pyfunc load.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import yaml

from core.atomic_files import atomic_write_with

FAST_SUFFIX = ".uncompressed.joblib"
PREP_TIMEOUT_SECONDS = 600
NICENESS = 10  # about a tenth of a core against busy normal-priority processes; 19 could starve it


def estimator_path(model_dir: Path, artifact: str) -> Path:
    """Where the pyfunc model directory keeps the estimator artifact (from its MLmodel file)."""
    spec = yaml.safe_load((model_dir / "MLmodel").read_text(encoding="utf-8"))
    relative = spec["flavors"]["python_function"]["artifacts"][artifact]["path"]
    return model_dir / relative


def fast_copy_path(model_dir: Path, artifact: str) -> Path:
    return model_dir / f"{artifact}{FAST_SUFFIX}"


def ensure_fast_copy(model_dir: Path, artifact: str) -> Path:
    """The uncompressed copy, made by a niced subprocess if it is not there yet. A file lock makes the
    workers of one server prepare it once: the others wait, then load the same copy."""
    target = fast_copy_path(model_dir, artifact)
    if target.is_file():
        return target
    with open(model_dir / ".prep.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not target.is_file():
            subprocess.run(
                [sys.executable, "-m", "serving.model_prep", str(model_dir), artifact],
                check=True,
                timeout=PREP_TIMEOUT_SECONDS,
                capture_output=True,
            )
    return target


def load_fast(model_dir: Path, artifact: str):
    import joblib

    return joblib.load(ensure_fast_copy(model_dir, artifact), mmap_mode="r")


def write_fast_copy(model_dir: Path, artifact: str) -> Path:
    import joblib

    estimator = joblib.load(estimator_path(model_dir, artifact))
    target = fast_copy_path(model_dir, artifact)
    # temporary file + rename: a reader never sees half a file, a failed dump leaves nothing behind
    atomic_write_with(target, lambda path: joblib.dump(estimator, path, compress=0), mode=0o644)
    return target


def main(argv: list[str] | None = None) -> None:
    model_dir, artifact = (argv or sys.argv[1:])[:2]
    os.nice(NICENESS)  # the serving workers come first
    write_fast_copy(Path(model_dir), artifact)


if __name__ == "__main__":
    main()
