"""`gridsense benchmark text` end to end on a toy train/test pair with a tiny BERT (Plan B encoder)."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from cli import benchmarks

pytestmark = pytest.mark.slow  # loads models or MLflow: `make test-fast` skips it

pytest.importorskip("torch")

WORDS = {
    "甲": ["煤气味", "燃气泄漏", "液化气"],
    "乙": ["邻居吵架", "半夜吵闹", "摔东西"],
    "丙": ["占道摆摊", "流动摊贩", "烧烤摊"],
}


@pytest.fixture()
def toy_csvs(tmp_path, tiny_bert_builder):
    taxonomy = tmp_path / "flat3.yaml"
    taxonomy.write_text(
        "name: flat3\nversion: '1'\ncategories:\n"
        + "".join(
            f"  - name: {label}\n    department: 部门{label}\n    risk_group: none\n" for label in WORDS
        ),
        encoding="utf-8",
    )
    rng = np.random.default_rng(1)
    rows = [
        {
            "id": f"{label}{i}",
            "title": "" if i % 3 else "来电",
            "text": f"小区{rng.choice(words)}，第{i}次反映",
            "label": label,
        }
        for label, words in WORDS.items()
        for i in range(30)
    ]
    frame = pl.DataFrame(rows)
    paths = tmp_path / "train.csv", tmp_path / "test.csv"
    frame.filter(pl.int_range(pl.len()) % 5 != 0).write_csv(paths[0])
    frame.filter(pl.int_range(pl.len()) % 5 == 0).write_csv(paths[1])
    encoder = tiny_bert_builder(tmp_path / "tiny", frame["text"].to_list())
    return paths, taxonomy, encoder


def test_benchmark_reports_every_model_in_one_run(toy_csvs, tmp_path):
    (train, test), taxonomy, encoder = toy_csvs
    app = typer.Typer()
    app.command()(benchmarks.text)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        app,
        [
            "--train",
            str(train),
            "--test",
            str(test),
            "--taxonomy",
            str(taxonomy),
            "--out",
            str(out),
            "--model",
            "all",
            "--encoder-dir",
            str(encoder),
            "--epochs",
            "2",
            "--cascade-threshold",
            "0.8",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert set(report["models"]) == {"tfidf", "transformer", "cascade"}
    assert report["test_rows"] == 18 and report["train_rows"] == 72
    for name, figures in report["models"].items():
        assert 0 <= figures["macro_f1"] <= 1 and 0 <= figures["accuracy"] <= 1, name
        assert set(figures["per_class_f1"]) == set(WORDS)
        assert (
            figures["throughput_batch32_rps"] > 0 and figures["latency_p99_ms"] >= figures["latency_p50_ms"]
        )
        assert figures["peak_rss_mb"] > 0 and figures["train_seconds"] >= 0
        assert figures["evidence_latency_p99_ms"] >= figures["evidence_latency_p50_ms"] > 0
    routing = report["models"]["cascade"]["routing"]
    assert 0 <= routing["share_to_transformer"] <= 1
    assert "macro-F1" in result.output


def test_unknown_model_is_a_usage_error(toy_csvs, tmp_path):
    (train, test), taxonomy, _ = toy_csvs
    app = typer.Typer()
    app.command()(benchmarks.text)
    result = CliRunner().invoke(
        app,
        ["--train", str(train), "--test", str(test), "--out", str(tmp_path / "r.json"), "--model", "bert"],
    )
    assert result.exit_code != 0
    assert not (tmp_path / "r.json").exists()
