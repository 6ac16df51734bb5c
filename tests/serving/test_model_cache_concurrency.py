"""The model cache shared by a server's workers (issue 10, item 2 sibling): workers marking versions at
the same time never leave `last_good.json` naming a copy that another worker pruned."""

from __future__ import annotations

import threading

import pytest

from serving.model_cache import ModelCache

pytestmark = pytest.mark.slow  # loads models or MLflow: `make test-fast` skips it


def _download(destination):
    destination.mkdir(parents=True)
    (destination / "MLmodel").write_text("model")
    return destination


def _mark(cache: ModelCache, start: threading.Barrier, version: str) -> None:
    start.wait()
    cache.mark_good(version)


def test_concurrent_marks_keep_the_named_copy(tmp_path):
    for round_number in range(20):
        cache = ModelCache(tmp_path / str(round_number), "gridsense-text")
        versions = [str(v) for v in range(1, 7)]
        for version in versions:
            cache.fetch(version, _download)
        start = threading.Barrier(len(versions))
        threads = [threading.Thread(target=_mark, args=(cache, start, version)) for version in versions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert cache.last_good() is not None, f"round {round_number}: the last good copy is gone"
        kept = sorted(p.name for p in cache.dir.iterdir() if p.is_dir())
        assert cache.last_good()[0] in kept and 1 <= len(kept) <= 2
