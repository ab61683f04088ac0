#!/usr/bin/env python3
"""Reads a Parquet file back with pyarrow, DuckDB and polars and prints JSON.

  readback.py values FILE    -> {"pyarrow": {"columns": [...], "rows": [[...]]}, "duckdb": ..., "polars": ...}
  readback.py metadata FILE  -> pyarrow.parquet.read_metadata as JSON (row groups, column chunks, statistics)

Values are normalized so the three readers (and the Swift tests) agree:
null -> null; scalars -> strings (ints in decimal, floats via repr with "NaN"/"inf"/"-inf",
decimals as str(Decimal) keeping the scale, bytes and UUIDs as lowercase hex, dates/times ISO,
timestamps ISO with microseconds, "Z" appended when time-zone aware (converted to UTC));
lists -> arrays; structs -> objects; maps -> arrays of [key, value] pairs.
"""
import datetime
import decimal
import json
import math
import sys
import uuid


def norm(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    if isinstance(v, uuid.UUID):
        return v.hex
    if isinstance(v, datetime.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(datetime.timezone.utc).replace(tzinfo=None)
            return v.isoformat(timespec="microseconds") + "Z"
        return v.isoformat(timespec="microseconds")
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, datetime.time):
        return v.isoformat(timespec="microseconds")
    if isinstance(v, datetime.timedelta):
        return str(v)
    if isinstance(v, dict):
        keys = set(v.keys())
        return {str(k): norm(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        # pyarrow maps: list of (key, value) tuples
        if v and all(isinstance(x, tuple) and len(x) == 2 for x in v):
            return [[norm(k), norm(x)] for k, x in v]
        return [norm(x) for x in v]
    if hasattr(v, "tolist"):
        return norm(v.tolist())
    return str(v)


def map_columns_pyarrow(schema):
    import pyarrow as pa
    return {f.name for f in schema if pa.types.is_map(f.type)}


def string_columns_pyarrow(schema):
    """Top-level columns pyarrow reads as text (string or the JSON extension): polars
    reads JSON as binary, so its bytes are decoded for these."""
    import pyarrow as pa
    out = set()
    for f in schema:
        t = f.type
        if hasattr(t, "storage_type"):
            t = t.storage_type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            out.add(f.name)
    return out


def fix_maps(row, names, map_cols):
    """duckdb returns MAP as {key: value} dicts (or {'key': [...], 'value': [...]}); polars as
    lists of {'key', 'value'} structs: turn both into [key, value] pairs for top-level map columns."""
    out = []
    for name, v in zip(names, row):
        if name in map_cols and v is not None:
            if isinstance(v, dict) and set(v.keys()) == {"key", "value"} and isinstance(v["key"], list):
                v = [[k, x] for k, x in zip(v["key"], v["value"])]
            elif isinstance(v, dict):
                v = [[k, x] for k, x in v.items()]
            elif isinstance(v, list):
                v = [[x["key"], x["value"]] if isinstance(x, dict) else x for x in v]
        out.append(v)
    return out


def read_pyarrow(path):
    import pyarrow.parquet as pq
    t = pq.read_table(path)
    names = t.column_names
    cols = [t.column(i).to_pylist() for i in range(t.num_columns)]
    rows = [list(r) for r in zip(*cols)] if cols else []
    info = (map_columns_pyarrow(t.schema), string_columns_pyarrow(t.schema))
    return names, [[norm(v) for v in r] for r in rows], info


def read_duckdb(path, info):
    map_cols = info[0]
    import duckdb
    con = duckdb.connect(); con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone='UTC'")
    # Time-zone-aware values would need pytz in Python: convert top-level TIMESTAMPTZ
    # columns to naive UTC in SQL and mark them with "Z" like the other readers.
    desc = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [path]).fetchall()
    tz_cols = {d[0] for d in desc if d[1].startswith("TIMESTAMP WITH TIME ZONE") or d[1].startswith("TIMESTAMPTZ")}
    select = ", ".join(
        (f'timezone(\'UTC\', "{d[0]}"::TIMESTAMPTZ) AS "{d[0]}"' if d[0] in tz_cols else f'"{d[0]}"') for d in desc
    )
    rel = con.execute(f"SELECT {select} FROM read_parquet(?)", [path])
    names = [d[0] for d in rel.description]
    rows = rel.fetchall()
    out = []
    for r in rows:
        nr = [norm(v) for v in fix_maps(r, names, map_cols)]
        nr = [(v + "Z" if (n in tz_cols and v is not None) else v) for n, v in zip(names, nr)]
        out.append(nr)
    return names, out


def read_polars(path, info):
    import polars as pl
    map_cols, str_cols = info
    df = pl.read_parquet(path)
    names = df.columns
    out = []
    for r in df.rows():
        r = [(v.decode("utf-8") if (n in str_cols and isinstance(v, (bytes, bytearray))) else v)
             for n, v in zip(names, r)]
        out.append([norm(v) for v in fix_maps(r, names, map_cols)])
    return names, out


def values(path):
    out = {}
    names, rows, info = read_pyarrow(path)
    out["pyarrow"] = {"columns": names, "rows": rows}
    for label, fn in (("duckdb", read_duckdb), ("polars", read_polars)):
        try:
            n, r = fn(path, info)
            out[label] = {"columns": n, "rows": r}
        except Exception as e:  # reported, the Swift side decides
            out[label] = {"error": f"{type(e).__name__}: {e}"}
    return out


def stat_value(v):
    return norm(v)


def metadata(path):
    import pyarrow.parquet as pq
    md = pq.read_metadata(path)
    out = {
        "num_rows": md.num_rows,
        "num_row_groups": md.num_row_groups,
        "num_columns": md.num_columns,
        "created_by": md.created_by,
        "format_version": md.format_version,
        "key_value": {k.decode(): v.decode() for k, v in (md.metadata or {}).items()},
        "schema": str(md.schema),
        "row_groups": [],
    }
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        cols = []
        for c in range(rg.num_columns):
            cc = rg.column(c)
            s = cc.statistics
            st = None
            if s is not None:
                st = {
                    "has_min_max": s.has_min_max,
                    "min": stat_value(s.min) if s.has_min_max else None,
                    "max": stat_value(s.max) if s.has_min_max else None,
                    "null_count": s.null_count if s.has_null_count else None,
                    "num_values": s.num_values,
                }
            cols.append({
                "path": cc.path_in_schema,
                "physical_type": cc.physical_type,
                "compression": cc.compression,
                "encodings": list(cc.encodings),
                "num_values": cc.num_values,
                "has_dictionary_page": cc.has_dictionary_page,
                "dictionary_page_offset": cc.dictionary_page_offset,
                "data_page_offset": cc.data_page_offset,
                "total_compressed_size": cc.total_compressed_size,
                "total_uncompressed_size": cc.total_uncompressed_size,
                "has_column_index": cc.has_column_index,
                "has_offset_index": cc.has_offset_index,
                "statistics": st,
            })
        out["row_groups"].append({"num_rows": rg.num_rows, "total_byte_size": rg.total_byte_size, "columns": cols})
    return out


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "values":
        print(json.dumps(values(path)))
    elif cmd == "metadata":
        print(json.dumps(metadata(path)))
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
