"""Batch inference: the weekly forecast with the risk champion and the dashboard tables serving reads."""
