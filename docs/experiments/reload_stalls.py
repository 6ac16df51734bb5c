"""What a text-model reload costs a serving worker, phase by phase: wall time, and the longest time a
probe thread (standing in for the event loop) had to wait meanwhile. Also the model's size on disk and
in memory, and a full garbage collection's pause before and after `gc.freeze()`.

    GRIDSENSE_HOME=/tmp/demo_run5 python docs/experiments/reload_stalls.py 1     # a registered version
"""

from __future__ import annotations

import gc
import pickle
import shutil
import sys
import threading
import time
from collections.abc import Callable

from core.settings import Settings
from serving.main import freeze_long_lived_objects
from serving.model_prep import estimator_path
from serving.text_service import TEXT_ARTIFACT, MlflowTextModelSource, smoke_test


class StallProbe:
    """A thread that sleeps 1 ms at a time and records how late it wakes."""

    def __init__(self) -> None:
        self.gaps: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last = time.perf_counter()
        while not self._stop.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            self.gaps.append((now, now - last))
            last = now

    def __enter__(self) -> StallProbe:
        self._thread.start()
        time.sleep(0.2)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def measure(self, name: str, action: Callable[[], object]) -> object:
        started = time.perf_counter()
        result = action()
        ended = time.perf_counter()
        time.sleep(0.05)
        worst = max((gap for at, gap in self.gaps if started <= at <= ended + 0.05), default=0.0)
        took, waited = 1000 * (ended - started), 1000 * worst
        print(f"{name:44s} {took:8.1f} ms   longest wait of the probe {waited:6.1f} ms")
        return result


def main(version: str) -> None:
    source = MlflowTextModelSource(Settings())
    with StallProbe() as probe:
        probe.measure("import mlflow", lambda: __import__("mlflow"))
        probe.measure("an MlflowClient (opens the store, checks schema)", source._client)
        service = probe.measure("load from the registry (download + unpickle)", lambda: source.load(version))
        probe.measure("smoke test", lambda: smoke_test(service, "楼道里堆满杂物，消防通道被堵死了"))
        probe.measure("full gc.collect(), nothing frozen", gc.collect)
        freeze_long_lived_objects()
        probe.measure("full gc.collect() after gc.freeze()", gc.collect)
        shutil.rmtree(source.cache.path_of(version))
        probe.measure("reload, warm (cached client, imports done)", lambda: source.load(version))
    size_on_disk = estimator_path(source.cache.path_of(version), TEXT_ARTIFACT).stat().st_size
    size_in_memory = len(pickle.dumps(service.classifier))
    print(f"model file {size_on_disk / 1e6:.1f} MB; pickled in memory {size_in_memory / 1e6:.1f} MB")


if __name__ == "__main__":
    main(sys.argv[1])
