"""Measurement: rolling-origin backtests, text/risk/panel/redaction benchmarks and the HTTP load generator."""
