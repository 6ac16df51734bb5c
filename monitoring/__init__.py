"""Drift monitoring: compare recent classified traffic with the text model's training reference.

- :mod:`monitoring.scoring`: reports -> :class:`ScoredReports` (predicted L1 and leaf, confidence,
  needs_review, text length, share of character n-grams outside the model's training vocabulary).
- :mod:`monitoring.signals`: the reference (:class:`DriftReference`), PSI, and one comparison of a window of
  reports with it (:func:`compare`), each signal against its threshold (:class:`DriftThresholds`).
- :mod:`monitoring.traffic`: where traffic comes from (a CSV/Parquet of reports, or the API's drift log)
  and its windows of N reports (consecutive, or the latest N every `step` reports).
- :mod:`monitoring.report`: the Markdown report with PNG plots and a JSON summary (`gridsense monitor`).

The package sits between `models` and `serving`/`batch` in the import layers: the API's live gauges and
the CLI job use the same signals. Only numpy and scipy (docs/BENCHMARKS.md, "Drift monitoring" has why no
drift library).
"""
