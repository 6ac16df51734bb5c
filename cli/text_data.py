"""`gridsense build-text`: the text training set from a labelled CSV (no event log, grids or dates)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.console import console, timed
from cli.data import _date_window, _encoding, _print_load_report, _split_counts
from cli.options import EncodingOption, RawRejectsOption, SiteOption, TaxonomyOption
from core.home import project_root
from core.sites import Site, load_site


def build_text(
    data: Annotated[Path, typer.Option(help="Labelled CSV: id,title,text,label[,reported_at].")],
    taxonomy: TaxonomyOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Output folder (default: the site's features folder; for the demo site "
            "datasets/<file name>/features)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the grouped random split (used when undated).")] = 0,
    encoding: EncodingOption = None,
    raw_rejects: RawRejectsOption = False,
    site: SiteOption = None,
) -> None:
    """Validate a labelled CSV and write the text training set (text.parquet) that `train text` reads."""
    from core.errors import DataFileError
    from features.labelled_text import load_labelled_text
    from features.taxonomy import load_taxonomy
    from features.text_dataset import build_text_dataset, split_method

    current = load_site(site)
    taxonomy = taxonomy or current.taxonomy
    tax = load_taxonomy(taxonomy)
    loaded = timed(
        "load + validate labelled text",
        lambda: load_labelled_text(data, tax, encoding=_encoding(encoding), window=_date_window(None, None)),
    )
    out_dir = out or _default_out(current, data)
    out_dir.mkdir(parents=True, exist_ok=True)
    _print_load_report(loaded, out_dir / "rejects.csv", raw_rejects)
    if loaded.events.is_empty():
        raise DataFileError(f"{data}: no usable labelled rows", _empty_hint(loaded.counts, tax.name, out_dir))
    text = timed("text training set", lambda: build_text_dataset(loaded.events, seed=seed))
    text.write_parquet(out_dir / "text.parquet")
    console.print(f"  split: {split_method(text)}; {_split_counts(text)}")
    console.print(f"  wrote {out_dir / 'text.parquet'} ({text.height:,} rows)", markup=False, soft_wrap=True)
    if out is None and not current.is_demo:
        command = f"gridsense train text --site {current.name}"
    else:
        hint = "" if taxonomy is None else f" --taxonomy {taxonomy}"
        command = f"gridsense train text --data {out_dir / 'text.parquet'}{hint}"
    console.print(f"  next: {command}", markup=False, soft_wrap=True)


def _default_out(site: Site, data: Path) -> Path:
    """The site's features folder, where `train text --site` reads it; for the demo site a folder of its
    own (datasets/<file name>/features), never the demo city's."""
    return project_root() / "datasets" / _stem(data) / "features" if site.is_demo else site.paths.features


def _stem(path: Path) -> str:
    return path.name.split(".")[0] or "labelled_text"


def _empty_hint(counts: dict, taxonomy_name: str, out_dir: Path) -> str:
    if counts.get("reasons", {}).get("unknown label", 0):
        return (
            f"no label names a leaf of the taxonomy {taxonomy_name!r}; pass yours with --taxonomy "
            f"(e.g. features/taxonomies/tipdm_flat7.yaml); reasons in {out_dir / 'rejects.csv'}"
        )
    return f"see the reasons in {out_dir / 'rejects.csv'}"
