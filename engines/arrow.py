"""Arrow tables as Spark's Arrow UDFs accept them: polars writes large strings; Spark wants plain ones."""

from __future__ import annotations

import polars as pl


def spark_arrow(frame: pl.DataFrame):
    """``frame`` as a pyarrow Table with ``string``/``binary`` instead of their large variants."""
    import pyarrow as pa

    table = frame.to_arrow(compat_level=pl.CompatLevel.oldest())
    fields = [pa.field(f.name, _plain(f.type), f.nullable) for f in table.schema]
    return table.cast(pa.schema(fields))


def spark_schema(frame: pl.DataFrame):
    """The Spark schema of ``frame`` (via :func:`spark_arrow`'s types)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(spark_arrow(frame.clear()).schema)


def _plain(dtype):
    import pyarrow as pa

    if pa.types.is_large_string(dtype):
        return pa.string()
    if pa.types.is_large_binary(dtype):
        return pa.binary()
    if pa.types.is_large_list(dtype):
        return pa.list_(_plain(dtype.value_type))
    return dtype
