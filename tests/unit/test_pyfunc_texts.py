"""The MLflow pyfunc's text input is total over any str, like features.text (a lone surrogate in a pandas
column made polars raise)."""

from __future__ import annotations

import pandas as pd

from features.text import prepare_text
from models.pyfunc import report_texts


def test_report_texts_take_lone_surrogates_and_controls() -> None:
    frame = pd.DataFrame(  # object columns: pandas' arrow-backed strings cannot hold a surrogate at all
        {"title": ["标题\ud800", None, 3], "text": ["abc\ud800def，电话13812345678", "\x00漏水\udfff", "x"]},
        dtype=object,
    )
    titles = ["标题\ud800", None, "3"]
    assert report_texts(frame) == [prepare_text(t, x) for t, x in zip(titles, frame["text"], strict=True)]
    assert report_texts(frame)[0] == "标题\ufffd。abc\ufffddef，电话<PHONE>"
