"""`gridsense benchmark redaction`: redaction speed and what it does to the demo city's reports.

The seeded demo city (``demo_city``) is generated into a temporary folder; its report texts and
titles (the first ``texts`` of them) are redacted by the current ``features.text`` and by the version of
``features/text.py`` at ``--baseline-ref`` (loaded from git into this process, same data, same run):

- throughput in reports/s: ``redact_pii`` per text (Python), ``redact_pii_expr`` on the column (polars),
  ``prepare_texts`` on the whole batch (the model input), and the median latency of ``prepare_texts`` for
  one report (the serving path); medians of ``repeats`` runs;
- what the current rules replace, by rule, and which replacements are not of a shape the demo generator
  writes personal data in (phone/ID/card numbers of 7+ digits, its plates, surname + form of address):
  candidates for false redactions, listed for review;
- what is left after redaction in those shapes (missed personal data), for both versions.
"""

from __future__ import annotations

import importlib.util
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl

DEMO_TITLES = "先生|女士|阿姨|大爷|师傅|大姐|老师|奶奶|爷爷|小姐|阿婆|老伯|老太"


def demo_texts(limit: int, seed: int = 7) -> list[str]:
    """Report texts, then titles, of the seeded demo city (two years, 360 grids: about 51,000 reports)."""
    from demo_city import generate_demo_city

    with tempfile.TemporaryDirectory() as folder:
        city = generate_demo_city(Path(folder), seed=seed)
        events = pl.read_parquet(city.events_path, columns=["text", "title"])
    texts = events["text"].drop_nulls().to_list() + events["title"].drop_nulls().to_list()
    return texts[:limit]


def baseline_module(ref: str) -> ModuleType:
    """``features/text.py`` as it was at git `ref`, imported under another name."""
    source = subprocess.run(
        ["git", "show", f"{ref}:features/text.py"], capture_output=True, text=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "baseline_text.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("baseline_text", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_text"] = module
    spec.loader.exec_module(module)
    return module


def _median_seconds(run: Callable[[], Any], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def throughput(module: Any, texts: list[str], repeats: int) -> dict[str, float]:
    """Reports per second for each entry point, and the one-report prepare latency in ms."""
    column = pl.DataFrame({"text": texts})
    one = texts[len(texts) // 2]
    seconds = {
        "redact_pii (Python, per text)": _median_seconds(
            lambda: [module.redact_pii(t) for t in texts], repeats
        ),
        "redact_pii_expr (polars, batch)": _median_seconds(
            lambda: column.select(module.redact_pii_expr("text")), repeats
        ),
        "prepare_texts (batch)": _median_seconds(lambda: module.prepare_texts(texts), repeats),
    }
    result = {name: len(texts) / value for name, value in seconds.items()}
    latencies = [_median_seconds(lambda: module.prepare_texts([one]), 1) for _ in range(200)]
    result["prepare_texts, 1 report (ms)"] = statistics.median(latencies) * 1000
    return result


def leftovers(redacted: list[str]) -> Counter:
    """Personal data in the demo generator's shapes still in the redacted texts."""
    from demo_city.slots import SURNAMES

    shapes = {
        "name": re.compile(f"[{SURNAMES}](?:{DEMO_TITLES})"),
        "number (7+ digits)": re.compile(r"(?<![\dA-Z-])\d(?:[ -]?\d){6,}"),  # not the sensors' YG-330104
        "plate": re.compile(r"[浙苏沪皖赣闽][A-K]·?[0-9A-Z]{5}"),
    }
    return Counter({kind: sum(bool(shape.search(t)) for t in redacted) for kind, shape in shapes.items()})


def review(texts: list[str]) -> tuple[Counter, Counter]:
    """Replacements by rule, and the ones not in a demo personal-data shape (value -> count): a number of
    7+ digits, a plate, or one of the generator's surnames with one of its forms of address."""
    from core.pii import redaction_matches
    from demo_city.slots import SURNAMES

    demo_pii = re.compile(
        rf"(?:.*\d(?:\D?\d){{6,}}.*|[浙苏沪皖赣闽][A-K]·?[0-9A-Z]{{5,6}}|[{SURNAMES}](?:{DEMO_TITLES})?)"
    )
    by_rule, suspects = Counter(), Counter()
    for text in texts:
        for rule, value in redaction_matches(text):
            by_rule[rule] += 1
            if not demo_pii.fullmatch(value):
                suspects[f"{rule}: {value}"] += 1
    return by_rule, suspects


def report(texts: int = 50_000, baseline_ref: str = "1107a8e", repeats: int = 3, seed: int = 7) -> None:
    """Redaction throughput (reports/s) before/after on demo reports, and its false and missed redactions."""
    import features.text as current

    corpus = demo_texts(texts, seed)
    baseline = baseline_module(baseline_ref)
    print(f"# redaction benchmark, {date.today()}: {len(corpus):,} demo reports, baseline {baseline_ref}")
    before, after = throughput(baseline, corpus, repeats), throughput(current, corpus, repeats)
    print("\n| entry point | baseline | current | current / baseline |\n|---|---:|---:|---:|")
    for name in before:
        print(f"| {name} | {before[name]:,.1f} | {after[name]:,.1f} | {after[name] / before[name]:.2f} |")

    redacted = {
        "baseline": [baseline.redact_pii(t) for t in corpus],
        "current": [current.redact_pii(t) for t in corpus],
    }
    print("\n| | baseline | current |\n|---|---:|---:|")
    changed = {version: _changed(corpus, values) for version, values in redacted.items()}
    print(f"| reports changed | {changed['baseline']:,} | {changed['current']:,} |")
    left = {version: leftovers(values) for version, values in redacted.items()}
    for kind in left["current"]:
        print(f"| reports still holding a {kind} | {left['baseline'][kind]:,} | {left['current'][kind]:,} |")

    by_rule, suspects = review(corpus)
    print("\nReplacements by rule: " + ", ".join(f"{rule} {n:,}" for rule, n in by_rule.most_common()))
    print(f"\nNot in a demo personal-data shape: {sum(suspects.values()):,} replacements (review them):")
    for value, count in suspects.most_common(40):
        print(f"- {count} x {value}")


def _changed(original: list[str], redacted: list[str]) -> int:
    return sum(a != b for a, b in zip(original, redacted, strict=True))
