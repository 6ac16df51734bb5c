"""Save and load fitted estimators (joblib). The file carries everything needed to predict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib


def save_estimator(estimator: Any, path: str | Path, compress: int = 3) -> Path:
    """Write ``estimator`` to ``path`` (parent directories created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, path, compress=compress)
    return path


def load_estimator(path: str | Path) -> Any:
    """Load an estimator written by :func:`save_estimator`. Only load files you trust (pickle)."""
    return joblib.load(Path(path))
