"""`gridsense taxonomy import | check`: a city's category tree into taxonomy YAML; a log's categories
against a taxonomy."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from cli.console import console
from cli.options import EncodingOption, TaxonomyOption

app = typer.Typer(
    help="Import a category tree as a taxonomy; check a log's categories.", no_args_is_help=True
)


@app.command("import")
def import_tree(
    tree: Annotated[
        Path, typer.Argument(help="CSV tree: 一级分类[,二级分类[,三级分类]] or level1[,level2[,level3]].")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Taxonomy YAML to write.")],
    mapping: Annotated[
        Path | None,
        typer.Option(help="YAML: name, version, departments and risk_groups per path, their defaults."),
    ] = None,
    encoding: EncodingOption = None,
) -> None:
    """Turn a CSV category tree (1 to 3 levels) and a mapping of departments and risk groups into taxonomy
    YAML, validated by the loader every command uses (pass it with --taxonomy)."""
    from features.taxonomy_import import import_taxonomy, write_taxonomy

    started = time.perf_counter()
    result = import_taxonomy(tree, mapping, encoding or "auto")
    taxonomy = write_taxonomy(result, out)
    seconds = time.perf_counter() - started
    console.print(
        f"  wrote {out}: {result.leaves:,} leaves, {len(taxonomy.level1)} first-level categories, "
        f"depth {taxonomy.depth}, from {result.rows_read:,} rows ({seconds:.2f}s)",
        markup=False,
        soft_wrap=True,
    )
    skipped = [(result.duplicate_rows, "repeated rows"), (result.prefix_rows, "rows naming an inner node")]
    for count, what in skipped:
        if count:
            console.print(f"  counted once or folded in: {count:,} {what}", markup=False)
    groups = ", ".join(f"{name} {count:,}" for name, count in result.risk_group_leaves.items())
    console.print(f"  leaves per risk group: {groups}", markup=False)
    declared = ", ".join(f"{group} ({label})" for group, label in taxonomy.group_labels("en").items())
    console.print(f"  risk groups declared: {declared or 'none (a text-only taxonomy)'}", markup=False)
    if result.default_department_leaves:
        console.print(
            f"  {result.default_department_leaves:,} leaves have the default department "
            f"(map them in --mapping under departments:)",
            markup=False,
            soft_wrap=True,
        )


@app.command("check")
def check(
    events: Annotated[
        Path, typer.Argument(help="Event log (CSV/Parquet, category_l1[/l2/l3]) or labelled CSV.")
    ],
    taxonomy: TaxonomyOption = None,
    encoding: EncodingOption = None,
) -> None:
    """List the category paths of a log that the taxonomy lacks, with counts and the closest known path;
    exit code 1 when any is missing."""
    from features.taxonomy import load_taxonomy
    from features.taxonomy_import import check_log

    tax = load_taxonomy(taxonomy)
    result = check_log(tax, events, encoding or "auto")
    console.print(
        f"  {result.rows:,} rows, {result.rows_with_path:,} with a category; "
        f"taxonomy {tax.name} {tax.version} "
        f"knows {result.known_paths:,} of their paths, misses {len(result.missing):,} "
        f"({result.missing_rows:,} rows)",
        markup=False,
        soft_wrap=True,
    )
    for item in result.missing:
        console.print(f"  {_missing_line(item)}", markup=False, soft_wrap=True)
    if result.missing:
        raise typer.Exit(1)


def _missing_line(item) -> str:
    what = f"not a leaf: {item.leaves_below:,} leaves below it" if item.leaves_below else "missing"
    closest = f"; closest known: {item.suggestion}" if item.suggestion else "; nothing close"
    return f"{item.count:>7,}  {item.path}  ({what}{closest})"
