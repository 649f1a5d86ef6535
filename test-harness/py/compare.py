"""Compares a milvus-dump output with the live collection, value by value,
reading the collection through pymilvus (an independent client).

    compare.py --uri URI --name NAME (--jsonl FILE | --parquet FILE | --set DIR)
    compare.py --uri URI --name NAME --copy COPY [--copy-uri URI] [--copy-db DB]

The second form compares two live collections (a milvus-load restore with its
original): rows value by value, and the schema (fields with their types and
parameters, dynamic field), indexes and properties.

Exit 0 when every row and value is equal (floats bit-exact, NaN == NaN),
1 with the differences listed otherwise.
"""

import argparse
import json
import logging
import math
import os
import struct
import sys

import ml_dtypes
import numpy as np
import pyarrow.parquet as pq
from pymilvus import DataType, MilvusClient

# pymilvus logs the errors we expect and handle (ShowPartitions on Milvus Lite 2.5).
logging.getLogger("pymilvus").setLevel(logging.CRITICAL)

NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


# Any NaN compares equal to any NaN: Milvus 2.3.5 rewrites NaN payloads
# (0x7ff8000000000000 becomes Go's 0x7ff8000000000001) when it seals a segment,
# so a flushed copy differs from a growing original in the payload alone.
def f32_bits(v):
    return b"NaN" if v != v else struct.pack("<f", v)


def f64_bits(v):
    return b"NaN" if v != v else struct.pack("<d", v)


def decode_float(v):
    return NON_FINITE.get(v, v) if isinstance(v, str) else v


class Schema:
    def __init__(self, client, name):
        desc = client.describe_collection(name)
        self.fields = {f["name"]: f for f in desc["fields"]}
        self.pk = next(f["name"] for f in desc["fields"] if f.get("is_primary"))
        self.dynamic = desc.get("enable_dynamic_field", False)


def canon_live(schema, row):
    """A pymilvus query row in canonical form."""
    out = {}
    for k, v in row.items():
        f = schema.fields.get(k)
        out[k] = canon_value(f, v, live=True)
    return out


def canon_value(f, v, live, parquet=False):
    if v is None:
        return None
    if f is None:  # dynamic key
        return ("json", json.dumps(v, sort_keys=True))
    t = f["type"]
    if t == DataType.FLOAT:
        return ("f32", f32_bits(decode_float(v)))
    if t == DataType.DOUBLE:
        return ("f64", f64_bits(decode_float(v)))
    if t == DataType.JSON:
        # Parquet: JSON text in a string column. JSONL: the value itself, except
        # that a string is JSON text (Milvus's JSON-import convention).
        if not live and (parquet or isinstance(v, str)):
            v = json.loads(v)
        return ("json", json.dumps(v, sort_keys=True))
    if t == DataType.FLOAT_VECTOR:
        return ("f32v", b"".join(f32_bits(decode_float(x)) for x in v))
    if t in (DataType.FLOAT16_VECTOR, DataType.BFLOAT16_VECTOR):
        if live:
            v = v[0] if isinstance(v, list) else v
            return ("raw", bytes(v))
        if isinstance(v, (bytes, bytearray)):
            return ("raw", bytes(v))
        if v and isinstance(v[0], int) and not isinstance(v[0], bool) and len(v) == 2 * f["params"]["dim"]:
            return ("raw", bytes(v))  # Parquet: raw bytes
        dtype = np.float16 if t == DataType.FLOAT16_VECTOR else ml_dtypes.bfloat16
        return ("raw", np.array([decode_float(x) for x in v], dtype=np.float32).astype(dtype).tobytes())
    if t == DataType.BINARY_VECTOR:
        if live:
            v = v[0] if isinstance(v, list) else v
        return ("raw", bytes(v))
    if t == DataType.SPARSE_FLOAT_VECTOR:
        if isinstance(v, str):
            v = json.loads(v)
        return ("sparse", sorted((int(k), f32_bits(decode_float(x))) for k, x in v.items()))
    if t == DataType.ARRAY:
        et = f.get("element_type")
        if et == DataType.FLOAT:
            return ("f32a", [f32_bits(decode_float(x)) for x in v])
        if et == DataType.DOUBLE:
            return ("f64a", [f64_bits(decode_float(x)) for x in v])
        return ("list", list(v))
    if t == DataType.INT8_VECTOR:
        return ("raw", np.array(v, dtype=np.int8).tobytes() if not isinstance(v, bytes) else v)
    return v


def partition_of(client, name, pk):
    """pk -> partition name, for every row (Milvus cannot return it with the row).
    With a partition key Milvus routes rows itself (and refuses partition names in
    queries): every row counts as "_default" then."""
    where = {}
    if any(f.get("is_partition_key") for f in client.describe_collection(name)["fields"]):
        return {r[pk]: "_default" for r in read_live(client, name, fields=[pk])}
    try:
        partitions = client.list_partitions(name)
    except Exception:  # Milvus Lite 2.5 has no partitions (ShowPartitions unimplemented)
        partitions = [None]
    for partition in partitions:
        if partition is None:
            return {r[pk]: "_default" for r in read_live(client, name, fields=[pk])}
        for r in read_live(client, name, partitions=[partition], fields=[pk]):
            where[r[pk]] = partition
    return where


def canon_dump_row(schema, row, parquet):
    out = {}
    for k, v in row.items():
        out[k] = canon_value(schema.fields.get(k), v, live=False, parquet=parquet)
    return out


def read_jsonl(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    assert lines[-1] == "", "stream does not end with a newline"
    lines = lines[:-1]
    header = json.loads(lines[0])["$milvus_dump"]
    trailer = json.loads(lines[-1])["$milvus_dump_end"]
    for line in lines[1:-1]:
        rows.append(json.loads(line))
    if trailer["rows"] != len(rows):
        raise SystemExit(f"trailer says {trailer['rows']} rows, stream has {len(rows)}")
    return header, rows


# The documented Parquet layout (README, "The record stream").
PARQUET_TYPES = {
    DataType.BOOL: "bool", DataType.INT8: "int8", DataType.INT16: "int16", DataType.INT32: "int32",
    DataType.INT64: "int64", DataType.FLOAT: "float", DataType.DOUBLE: "double",
    DataType.VARCHAR: "string", DataType.JSON: "string", DataType.FLOAT_VECTOR: "list<item: float>",
    DataType.BINARY_VECTOR: "list<item: uint8>", DataType.FLOAT16_VECTOR: "list<item: uint8>",
    DataType.BFLOAT16_VECTOR: "list<item: uint8>", DataType.INT8_VECTOR: "list<item: int8>",
    DataType.SPARSE_FLOAT_VECTOR: "string", DataType.GEOMETRY: "string", DataType.TIMESTAMPTZ: "string",
}
ELEMENT_TYPES = {DataType.BOOL: "bool", DataType.INT8: "int8", DataType.INT16: "int16",
                 DataType.INT32: "int32", DataType.INT64: "int64", DataType.FLOAT: "float",
                 DataType.DOUBLE: "double", DataType.VARCHAR: "string"}
SCHEMA = None  # set in main: the live schema, to check Parquet column types


def check_parquet_types(schema, table):
    problems = []
    for column in table.schema:
        if column.name in ("$meta", "$partition"):
            want = "string"
        else:
            f = schema.fields[column.name]
            if f["type"] == DataType.ARRAY:
                want = f"list<item: {ELEMENT_TYPES[f['element_type']]}>"
            else:
                want = PARQUET_TYPES[f["type"]]
        got = str(column.type).replace(" not null", "")
        if got != want:
            problems.append(f"column {column.name!r}: Parquet type {got}, documented {want}")
    return problems


def read_parquet(path):
    table = pq.read_table(path)
    problems = check_parquet_types(SCHEMA, table)
    if problems:
        raise SystemExit("\n".join(problems))
    rows = []
    for r in table.to_pylist():
        meta = r.pop("$meta", None)
        if meta:
            r.update(json.loads(meta))
        rows.append(r)
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--uri", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--jsonl")
    p.add_argument("--parquet")
    p.add_argument("--set")
    p.add_argument("--filter", default="")
    p.add_argument("--db", default="")
    p.add_argument("--copy")
    p.add_argument("--copy-uri")
    p.add_argument("--copy-db", default="")
    p.add_argument("--cross-version", action="store_true",
                   help="servers of different versions: skip the collection settings and index "
                        "keys they report differently (shards, consistency, partitions, dim)")
    args = p.parse_args()
    if args.copy:
        return compare_live(args)

    client = connect(args.uri, args.db)
    schema = Schema(client, args.name)
    global SCHEMA
    SCHEMA = schema
    if args.jsonl:
        dumped = [(r, False) for r in read_jsonl(args.jsonl)[1]]
    elif args.parquet:
        dumped = [(r, True) for r in read_parquet(args.parquet)]
    else:
        manifest = json.load(open(f"{args.set}/manifest.json"))
        entry = next(c for c in manifest["collections"] if c["header"]["collection"]["name"] == args.name)
        dumped = []
        runs = []  # parts of one partition follow each other, keys ascending
        for part in entry["parts"]:
            path = f"{args.set}/{part['path']}"
            is_parquet = ".parquet" in path
            rows = read_parquet(path) if is_parquet else read_jsonl(path)[1]
            if len(rows) != part["rows"]:
                raise SystemExit(f"{path}: {len(rows)} rows, manifest says {part['rows']}")
            if "partition" in part:
                # A part of one partition: the manifest names it, the file has no column.
                if any("$partition" in r for r in rows):
                    raise SystemExit(f"{path}: a $partition column in a part of one partition")
                for r in rows:
                    r["$partition"] = part["partition"]
            if not runs or runs[-1][0] != part.get("partition"):
                runs.append((part.get("partition"), []))
            runs[-1][1].extend(r[schema.pk] for r in rows)
            dumped += [(r, is_parquet) for r in rows]

    live = read_live(client, args.name, args.filter)

    live_by_pk = {r[schema.pk]: canon_live(schema, r) for r in live}
    dumped_pks = [r[schema.pk] for r, _ in dumped]
    if not args.set:
        runs = [(None, dumped_pks)]
    problems = []
    for partition, pks in runs:
        if pks != sorted(pks):
            problems.append(f"dump is not in ascending primary-key order (partition {partition})")
    if len(set(dumped_pks)) != len(dumped_pks):
        problems.append("dump has duplicate primary keys")
    if set(dumped_pks) != set(live_by_pk):
        problems.append(f"keys differ: {len(dumped_pks)} dumped, {len(live_by_pk)} live, "
                        f"missing {sorted(set(live_by_pk) - set(dumped_pks))[:5]}, "
                        f"extra {sorted(set(dumped_pks) - set(live_by_pk))[:5]}")
    labelled = [r for r, _ in dumped if "$partition" in r]
    if labelled:
        where = partition_of(client, args.name, schema.pk)
        for r in labelled:
            if where.get(r[schema.pk]) != r["$partition"]:
                problems.append(f"pk {r[schema.pk]!r}: $partition {r['$partition']!r}, "
                                f"live in {where.get(r[schema.pk])!r}")
        if len(labelled) != len(dumped):
            problems.append(f"{len(dumped) - len(labelled)} rows without $partition")
    for r, _ in dumped:
        r.pop("$partition", None)
    compared = 0
    for r, parquet in dumped:
        want = live_by_pk.get(r[schema.pk])
        if want is None:
            continue
        got = canon_dump_row(schema, r, parquet)
        for k in set(want) | set(got):
            if want.get(k) != got.get(k):
                problems.append(f"pk {r[schema.pk]!r} field {k!r}: live {want.get(k)!r} dump {got.get(k)!r}")
            else:
                compared += 1
    for line in problems[:30]:
        print(line, file=sys.stderr)
    print(f"compared {len(dumped)} rows, {compared} values, {len(problems)} differences", file=sys.stderr)
    return 1 if problems or not dumped else 0


def connect(uri, db):
    """A client, authenticated with $MILVUS_TOKEN when it is set (as the tools are)."""
    token = os.environ.get("MILVUS_TOKEN", "")
    return MilvusClient(uri=uri, db_name=db, token=token) if db else MilvusClient(uri=uri, token=token)


def read_live(client, name, flt="", partitions=None, fields=("*",)):
    rows = []
    it = client.query_iterator(name, batch_size=1000, filter=flt, output_fields=list(fields),
                               partition_names=partitions)
    while True:
        page = it.next()
        if not page:
            break
        rows += [dict(r) for r in page]
    it.close()
    return rows


FIELD_KEYS = ["type", "params", "is_primary", "auto_id", "nullable", "default_value",
              "element_type", "is_partition_key", "is_clustering_key", "is_function_output"]


def schema_problems(a_client, a_name, b_client, b_name, cross_version):
    a, b = a_client.describe_collection(a_name), b_client.describe_collection(b_name)
    problems = []
    a_fields = {f["name"]: f for f in a["fields"]}
    b_fields = {f["name"]: f for f in b["fields"]}
    if set(a_fields) != set(b_fields):
        problems.append(f"fields differ: {sorted(a_fields)} vs {sorted(b_fields)}")
    for name in set(a_fields) & set(b_fields):
        for key in FIELD_KEYS:
            va, vb = a_fields[name].get(key), b_fields[name].get(key)
            if cross_version and key == "params" and va and vb:
                # Milvus Lite 3 does not report max_length of VARCHAR arrays.
                common = set(va) & set(vb)
                va, vb = {k: va[k] for k in common}, {k: vb[k] for k in common}
            if va != vb:
                problems.append(f"field {name!r} {key}: {va!r} vs {vb!r}")
    settings = ["enable_dynamic_field"]
    if not cross_version:
        settings += ["num_partitions", "consistency_level", "num_shards"]
    for key in settings:
        if a.get(key) != b.get(key):
            problems.append(f"collection {key}: {a.get(key)!r} vs {b.get(key)!r}")
    def indexes(client, name):
        out = {}
        for index_name in client.list_indexes(name):
            d = dict(client.describe_index(name, index_name))
            out[index_name] = {k: v for k, v in d.items()
                               if k not in ("total_rows", "indexed_rows", "pending_index_rows", "state",
                                            "index_state_fail_reason")
                               and not (cross_version and k == "dim")}
        return out
    def functions(d):
        return sorted(
            (f.get("name"), str(f.get("type")), tuple(f.get("input_field_names", [])),
             tuple(f.get("output_field_names", [])), json.dumps(f.get("params", {}), sort_keys=True))
            for f in d.get("functions", []))
    if functions(a) != functions(b):
        problems.append(f"functions differ: {functions(a)} vs {functions(b)}")
    ia, ib = indexes(a_client, a_name), indexes(b_client, b_name)
    if ia != ib:
        problems.append(f"indexes differ: {ia} vs {ib}")
    pa = {k: v for k, v in (a.get("properties") or {}).items()}
    pb = {k: v for k, v in (b.get("properties") or {}).items()}
    if pa != pb and not cross_version:
        problems.append(f"properties differ: {pa} vs {pb}")
    return problems


def compare_live(args):
    orig_client = connect(args.uri, args.db)
    copy_client = connect(args.copy_uri or args.uri, args.copy_db)
    schema = Schema(orig_client, args.name)
    problems = schema_problems(orig_client, args.name, copy_client, args.copy, args.cross_version)
    orig = {r[schema.pk]: canon_live(schema, r) for r in read_live(orig_client, args.name)}
    copy = {r[schema.pk]: canon_live(schema, r) for r in read_live(copy_client, args.copy)}
    where_orig = partition_of(orig_client, args.name, schema.pk)
    where_copy = partition_of(copy_client, args.copy, schema.pk)
    moved = [pk for pk in where_orig if where_orig[pk] != where_copy.get(pk)]
    if moved:
        problems.append(f"{len(moved)} rows in another partition, e.g. pk {moved[0]!r}: "
                        f"{where_orig[moved[0]]} vs {where_copy.get(moved[0])}")
    if set(orig) != set(copy):
        problems.append(f"keys differ: {len(orig)} original, {len(copy)} copy, "
                        f"missing {sorted(set(orig) - set(copy))[:5]}, extra {sorted(set(copy) - set(orig))[:5]}")
    compared = 0
    for pk, want in orig.items():
        got = copy.get(pk)
        if got is None:
            continue
        for k in set(want) | set(got):
            if want.get(k) != got.get(k):
                problems.append(f"pk {pk!r} field {k!r}: original {want.get(k)!r} copy {got.get(k)!r}")
            else:
                compared += 1
    for line in problems[:30]:
        print(line, file=sys.stderr)
    print(f"compared {len(orig)} rows, {compared} values, {len(problems)} differences", file=sys.stderr)
    return 1 if problems or not orig else 0


if __name__ == "__main__":
    sys.exit(main())
