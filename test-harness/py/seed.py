"""Seeds test collections through pymilvus (an independent client).

    seed.py types  --uri URI --name NAME --server lite25|lite3|milvus235 [--rows N]
    seed.py bench  --uri URI --name NAME --rows N [--dim 768]
    seed.py insert --uri URI --name NAME --start K --rows N   (more rows of `types`)
    seed.py release --uri URI --name NAME      (release a loaded collection)
    seed.py load-state --uri URI --name NAME   (prints Loaded, NotLoad, ...)
    seed.py append --uri URI --name NAME --start K --rows N [--dim D]  (more rows of `bench`)

Values are deterministic (row i gets the same values on every run) and
include edge cases: NaN/inf/-0.0, empty and long strings, unicode, nested
JSON, empty arrays, sparse vectors with zero and many entries, nulls.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
from pymilvus import DataType, MilvusClient

# Which types each test server supports.
CAPS = {
    "lite25": {"f16", "bf16", "sparse", "binary", "multi_vector", "array", "json_scalars",
               "empty_sparse"},
    # Milvus Lite 3.x: no binary/float16/bfloat16/int8 vectors; JSON values
    # must be objects or arrays (its WAL rejects top-level scalars).
    "lite3": {"sparse", "multi_vector", "array", "nullable", "geometry", "timestamptz"},
    "milvus235": {"array"},  # JSON values must be objects there too
}

DIM = 8
SPECIAL_FLOATS = [float("nan"), float("inf"), float("-inf"), -0.0, 1e-45, 3.4028234663852886e38]


def float_value(i, caps=()):
    if i % 17 < len(SPECIAL_FLOATS):
        v = SPECIAL_FLOATS[i % 17]
        # BulkWriter's Parquet (through pandas) turns NaN into null, and
        # Milvus's Import refuses NaN and infinities.
        return 0.5 if "bulk" in caps and not math.isfinite(v) else v
    return (i * 0.1) - 3.3


def text_value(i):
    choices = ["", "plain ascii", "ünïcödé ✓ 日本語 🚀", 'quote " backslash \\ newline \n tab \t',
               "x" * 1000]
    return f"{choices[i % len(choices)]}#{i}"


def json_value(i, caps):
    if "json_scalars" not in caps and i % 5 in (1, 2, 3):
        return {"scalar": i, "arr": [i, "x"]}
    if i % 5 == 0:
        return {"nested": {"list": [1, 2.5, "three", None, {"deep": [True, False]}]}, "i": i}
    if i % 5 == 1:
        return [i, "arr", {"k": -0.5}]
    if i % 5 == 2:
        return '"just a string"'  # pymilvus takes str as JSON text
    if i % 5 == 3:
        return i * 1.5
    return {}


def connect(uri):
    """A client for `uri`, or for {"uri": ..., "db_name": ...} (see --db),
    authenticated with $MILVUS_TOKEN when it is set (as the tools are)."""
    options = uri if isinstance(uri, dict) else {"uri": uri}
    return MilvusClient(token=os.environ.get("MILVUS_TOKEN", ""), **options)


def build_schema(client, caps):
    schema = client.create_schema(auto_id=False, enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("f_bool", DataType.BOOL)
    schema.add_field("f_int8", DataType.INT8)
    schema.add_field("f_int16", DataType.INT16)
    schema.add_field("f_int32", DataType.INT32)
    schema.add_field("f_int64", DataType.INT64)
    schema.add_field("f_float", DataType.FLOAT)
    schema.add_field("f_double", DataType.DOUBLE)
    schema.add_field("f_varchar", DataType.VARCHAR, max_length=2048)
    schema.add_field("f_json", DataType.JSON)
    if "array" in caps:
        schema.add_field("a_int64", DataType.ARRAY, element_type=DataType.INT64, max_capacity=8)
        schema.add_field("a_varchar", DataType.ARRAY, element_type=DataType.VARCHAR,
                         max_capacity=8, max_length=64)
        schema.add_field("a_double", DataType.ARRAY, element_type=DataType.DOUBLE, max_capacity=8)
        schema.add_field("a_bool", DataType.ARRAY, element_type=DataType.BOOL, max_capacity=8)
        schema.add_field("a_float", DataType.ARRAY, element_type=DataType.FLOAT, max_capacity=8)
        schema.add_field("a_int8", DataType.ARRAY, element_type=DataType.INT8, max_capacity=8)
        schema.add_field("a_int16", DataType.ARRAY, element_type=DataType.INT16, max_capacity=8)
        schema.add_field("a_int32", DataType.ARRAY, element_type=DataType.INT32, max_capacity=8)
    schema.add_field("v_float", DataType.FLOAT_VECTOR, dim=DIM)
    if "multi_vector" in caps:
        if "binary" in caps:
            schema.add_field("v_binary", DataType.BINARY_VECTOR, dim=16)
        if "f16" in caps:
            schema.add_field("v_f16", DataType.FLOAT16_VECTOR, dim=DIM)
        if "bf16" in caps:
            schema.add_field("v_bf16", DataType.BFLOAT16_VECTOR, dim=DIM)
        if "sparse" in caps:
            schema.add_field("v_sparse", DataType.SPARSE_FLOAT_VECTOR)
        if "int8vec" in caps:
            schema.add_field("v_int8", DataType.INT8_VECTOR, dim=DIM)
    if "nullable" in caps:
        schema.add_field("n_int32", DataType.INT32, nullable=True)
        schema.add_field("n_varchar", DataType.VARCHAR, max_length=64, nullable=True)
        schema.add_field("n_json", DataType.JSON, nullable=True)
        schema.add_field("n_double", DataType.DOUBLE, nullable=True)
        schema.add_field("d_int64", DataType.INT64, default_value=42)
        schema.add_field("d_varchar", DataType.VARCHAR, max_length=64, default_value="dflt",
                         nullable=True)
    if "geometry" in caps:
        schema.add_field("g_geo", DataType.GEOMETRY)
    if "timestamptz" in caps:
        schema.add_field("t_ts", DataType.TIMESTAMPTZ)
    return schema


def row(i, caps):
    rng = np.random.default_rng(i)
    r = {
        "id": i * 3 - 1000,
        "f_bool": i % 3 == 0,
        "f_int8": [-128, 127, 0][i % 3] if i % 4 == 0 else (i % 200) - 100,
        "f_int16": [-32768, 32767][i % 2] if i % 5 == 0 else i,
        "f_int32": [-2**31, 2**31 - 1][i % 2] if i % 6 == 0 else -i,
        "f_int64": [-2**63, 2**63 - 1][i % 2] if i % 7 == 0 else i * 1_000_000_007,
        "f_float": float_value(i, caps),
        "f_double": float_value(i + 1, caps) if i % 9 else math.pi * i,
        "f_varchar": text_value(i),
        "f_json": json_value(i, caps),
        "v_float": rng.standard_normal(DIM).astype(np.float32).tolist(),
        # Dynamic fields of mixed types (absent on some rows).
    }
    if i % 2 == 0:
        r["dyn_int"] = i
    if i % 3 == 0:
        r["dyn_str"] = f"dyn-{i}"
    if i % 4 == 0:
        r["dyn_obj"] = {"a": [1, {"b": None}], "f": 0.25}
    if "array" in caps:
        n = i % 5  # 0..4 elements, so empty arrays occur
        r["a_int64"] = [i * 10 + k for k in range(n)]
        r["a_varchar"] = [f"s{k}-ü" for k in range(n)]
        r["a_double"] = [k / 3 for k in range(n)]
        r["a_bool"] = [k % 2 == 0 for k in range(n)]
        r["a_float"] = [k * 0.1 for k in range(n)]
        r["a_int8"] = [-k for k in range(n)]
        r["a_int16"] = [k * 300 for k in range(n)]
        r["a_int32"] = [k * 70000 for k in range(n)]
    if "multi_vector" in caps:
        if "binary" in caps:
            r["v_binary"] = rng.integers(0, 256, 2, dtype=np.uint8).tobytes()
        if "f16" in caps:
            r["v_f16"] = rng.standard_normal(DIM).astype(np.float16)
        if "bf16" in caps:
            import ml_dtypes
            r["v_bf16"] = rng.standard_normal(DIM).astype(ml_dtypes.bfloat16)
        if "sparse" in caps:
            # 0: an empty sparse vector (Milvus Lite 3 refuses them).
            n = [1, 3, 200, 0][i % 4] if "empty_sparse" in caps else [1, 3, 200][i % 3]
            idx = sorted(set(int(x) for x in rng.integers(0, 1_000_000, n)))
            r["v_sparse"] = {k: float(np.float32(abs(rng.standard_normal()))) for k in idx}
        if "int8vec" in caps:
            r["v_int8"] = rng.integers(-128, 128, DIM, dtype=np.int8)
    if "nullable" in caps:
        r["n_int32"] = None if i % 2 else i
        r["n_varchar"] = None if i % 3 else f"nv{i}"
        r["n_json"] = None if i % 4 else {"n": i}
        r["n_double"] = None if i % 5 else i / 7
        if i % 2:
            r["d_int64"] = i  # other rows take the default
        if i % 3 == 1:
            r["d_varchar"] = None
    if "geometry" in caps:
        r["g_geo"] = f"POINT ({i} {i * 0.5})"
    if "timestamptz" in caps:
        r["t_ts"] = f"2025-0{1 + i % 9}-1{i % 10}T12:34:56Z"
    return r


def insert_rows(client, name, caps, start, rows, batch=500, partitions=()):
    """Rows start..start+rows; with partitions, row i goes to partitions[i % (n+1) - 1]
    (every (n+1)th row stays in _default)."""
    targets = ["_default", *partitions]
    for lo in range(start, start + rows, batch):
        hi = min(lo + batch, start + rows)
        for k, target in enumerate(targets):
            chunk = [row(i, caps) for i in range(lo, hi) if i % len(targets) == k]
            if chunk:
                client.insert(name, chunk, partition_name=target)


def create_types(client, name, caps, partitions):
    if client.has_collection(name):
        client.drop_collection(name)
    schema = build_schema(client, caps)
    index_params = client.prepare_index_params()
    for f in schema.fields:
        if f.dtype in (DataType.FLOAT_VECTOR, DataType.FLOAT16_VECTOR, DataType.BFLOAT16_VECTOR,
                       DataType.INT8_VECTOR):
            index_params.add_index(f.name, index_type="FLAT", metric_type="L2")
        elif f.dtype == DataType.BINARY_VECTOR:
            index_params.add_index(f.name, index_type="BIN_FLAT", metric_type="HAMMING")
        elif f.dtype == DataType.SPARSE_FLOAT_VECTOR:
            index_params.add_index(f.name, index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    client.create_collection(name, schema=schema, index_params=index_params)
    for p in partitions:
        client.create_partition(name, p)
    return schema


def cmd_empty_types(args):
    """The `types` collection without rows (a target for bulk-import files)."""
    client = connect(args.uri)
    create_types(client, args.name, caps_of(args), [])
    client.load_collection(args.name)


def cmd_bulk_files(args):
    """Writes the `types` rows with pymilvus's LocalBulkWriter (--format parquet|json)
    under --out, and prints the file paths, one per line."""
    from pymilvus.bulk_writer import BulkFileType, LocalBulkWriter
    caps = caps_of(args)
    schema = build_schema(connect(args.uri), caps)
    kind = {"parquet": BulkFileType.PARQUET, "json": BulkFileType.JSON}[args.format]
    os.makedirs(args.out, exist_ok=True)
    writer = LocalBulkWriter(schema=schema, local_path=args.out, file_type=kind)
    for i in range(args.rows):
        writer.append_row(row(i, caps))
    writer.commit()
    for batch in writer.batch_files:
        for path in batch:
            print(path)


def caps_of(args):
    """The server's types; --bulk-compatible drops what BulkWriter or Milvus's
    Import refuses (JSON scalars, empty sparse vectors, NaN and infinities)."""
    caps = set(CAPS[args.server])
    if args.bulk_compatible:
        caps.discard("json_scalars")
        caps.discard("empty_sparse")
        caps.add("bulk")
    return caps


def cmd_types(args):
    caps = caps_of(args)
    client = connect(args.uri)
    create_types(client, args.name, caps, args.partitions)
    insert_rows(client, args.name, caps, 0, args.rows, partitions=args.partitions)
    client.load_collection(args.name)


def cmd_insert(args):
    client = connect(args.uri)
    insert_rows(client, args.name, CAPS[args.server], args.start, args.rows)


def cmd_bench(args):
    """The benchmark shape: INT64 pk + DIM-float vector + 200-char VARCHAR."""
    client = connect(args.uri)
    if client.has_collection(args.name):
        client.drop_collection(args.name)
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=args.dim)
    schema.add_field("text", DataType.VARCHAR, max_length=512)
    index_params = client.prepare_index_params()
    index_params.add_index("embedding", index_type="FLAT", metric_type="L2")
    if args.text_index:
        index_params.add_index("text", index_type=args.text_index)
    client.create_collection(args.name, schema=schema, index_params=index_params)
    for partition in args.partitions:  # created empty: the rows go to _default
        client.create_partition(args.name, partition)
    rng = np.random.default_rng(7)
    batch = 2000
    for lo in range(0, args.rows, batch):
        n = min(batch, args.rows - lo)
        vecs = rng.standard_normal((n, args.dim), dtype=np.float32)
        client.insert(args.name, [
            {"id": lo + k, "embedding": vecs[k], "text": (f"row {lo + k} " + "lorem ipsum " * 20)[:200]}
            for k in range(n)
        ])
    client.flush(args.name)
    client.load_collection(args.name)


def cmd_append(args):
    """More rows of the `bench` shape, ids start..start+rows."""
    client = connect(args.uri)
    rng = np.random.default_rng(args.start)
    vecs = rng.standard_normal((args.rows, args.dim), dtype=np.float32)
    client.insert(args.name, [
        {"id": args.start + k, "embedding": vecs[k], "text": f"appended {args.start + k}"}
        for k in range(args.rows)
    ])


def cmd_release(args):
    connect(args.uri).release_collection(args.name)


def cmd_load_state(args):
    state = connect(args.uri).get_load_state(args.name)["state"]
    print(getattr(state, "name", state))


def cmd_auto_id(args):
    """An auto-id INT64 key, a 4-dim vector and a VARCHAR, --rows rows."""
    client = connect(args.uri)
    if client.has_collection(args.name):
        client.drop_collection(args.name)
    schema = client.create_schema(auto_id=True, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True, auto_id=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("text", DataType.VARCHAR, max_length=64)
    index_params = client.prepare_index_params()
    index_params.add_index("v", index_type="FLAT", metric_type="L2")
    client.create_collection(args.name, schema=schema, index_params=index_params)
    client.insert(args.name, [{"v": [i, 0.5, -1.0, 2.0], "text": f"auto {i}"} for i in range(args.rows)])
    client.flush(args.name)
    client.load_collection(args.name)


def cmd_delete(args):
    """Deletes the rows matching --filter."""
    connect(args.uri).delete(args.name, filter=args.filter)


def cmd_features(args):
    """Collection-level settings to restore: a partition key with 8 partitions, TTL and
    mmap properties, 2 shards, Strong consistency, a description, a clustering key where
    the server has one, 64 KiB VARCHAR values, dynamic keys."""
    client = connect(args.uri)
    if client.has_collection(args.name):
        client.drop_collection(args.name)
    schema = client.create_schema(auto_id=False, enable_dynamic_field=True,
                                  description="settings a restore must keep")
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("tenant", DataType.VARCHAR, max_length=64, is_partition_key=True)
    schema.add_field("big", DataType.VARCHAR, max_length=65535)
    schema.add_field("ts", DataType.INT64, is_clustering_key=args.server != "milvus235")
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    index_params = client.prepare_index_params()
    index_params.add_index("v", index_type="FLAT", metric_type="COSINE")
    client.create_collection(args.name, schema=schema, index_params=index_params, num_partitions=8,
                             num_shards=2, consistency_level="Strong",
                             properties={"collection.ttl.seconds": "86400", "mmap.enabled": "true"})
    big = "ü" * 21845  # 65,535 bytes of UTF-8: the VARCHAR maximum
    client.insert(args.name, [
        {"id": i, "tenant": f"t{i % 5}", "big": big if i % 3 == 0 else "", "ts": 1_700_000_000 + i,
         "v": [float(i), 0.5, -1.0, 2.0], **({"extra": [i, "x"]} if i % 2 else {})}
        for i in range(args.rows)])
    client.load_collection(args.name)


def cmd_bm25(args):
    """A BM25 function: VARCHAR `text` (analyzer on) → SPARSE `sparse`, indexed for BM25."""
    from pymilvus import Function, FunctionType
    client = connect(args.uri)
    if client.has_collection(args.name):
        client.drop_collection(args.name)
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=1000, enable_analyzer=True)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                 input_field_names=["text"], output_field_names=["sparse"]))
    index_params = client.prepare_index_params()
    index_params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection(args.name, schema=schema, index_params=index_params)
    words = ["vector", "backup", "restore", "milvus", "shell", "pipeline", "ünïcödé"]
    client.insert(args.name, [
        {"id": i, "text": " ".join(words[(i + k) % len(words)] for k in range(1 + i % 5))}
        for i in range(args.rows)])
    client.load_collection(args.name)


def cmd_count(args):
    """Prints the row count (count(*), Strong), or "missing" when there is no such collection."""
    client = connect(args.uri)
    if not client.has_collection(args.name):
        print("missing")
        return
    rows = client.query(args.name, filter="", output_fields=["count(*)"], consistency_level="Strong")
    print(rows[0]["count(*)"])


def cmd_aliases(args):
    """Prints the collection an alias points at."""
    print(connect(args.uri).describe_alias(args.name)["collection_name"])


def cmd_index_types(args):
    """Prints {field: index type} as JSON."""
    client = connect(args.uri)
    described = [client.describe_index(args.name, i) for i in client.list_indexes(args.name)]
    print(json.dumps({d["field_name"]: d["index_type"] for d in described}, sort_keys=True))


def cmd_add_alias(args):
    """Points alias --alias at the collection."""
    connect(args.uri).create_alias(args.name, args.alias)


def cmd_varchar_pk(args):
    """A VARCHAR primary key with awkward keys (quotes, backslashes, unicode)."""
    client = connect(args.uri)
    if client.has_collection(args.name):
        client.drop_collection(args.name)
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=128)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    index_params = client.prepare_index_params()
    index_params.add_index("v", index_type="FLAT", metric_type="L2")
    client.create_collection(args.name, schema=schema, index_params=index_params)
    keys = [f"key-{i:06d}" for i in range(args.rows)]
    keys += ['quo"te', "back\\slash", "ünï", "new\nline", "", " space"]
    client.insert(args.name, [{"pk": k, "v": [float(i), 0.5, -1.0, 2.0]} for i, k in enumerate(keys)])
    client.load_collection(args.name)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("types", "insert", "bench", "append", "varchar-pk", "release", "load-state", "count",
                 "alias-target", "empty-types", "bulk-files", "auto-id", "delete", "features",
                 "bm25", "add-alias", "index-types"):
        s = sub.add_parser(name)
        s.add_argument("--uri", required=True)
        s.add_argument("--name", required=True)
        s.add_argument("--server", choices=sorted(CAPS), default="lite25")
        s.add_argument("--rows", type=int, default=100)
        s.add_argument("--start", type=int, default=0)
        s.add_argument("--dim", type=int, default=768)
        s.add_argument("--partitions", nargs="*", default=[])
        s.add_argument("--db", default="", help="database (created if missing)")
        s.add_argument("--out", help="bulk-files: output directory")
        s.add_argument("--filter", default="", help="delete: which rows")
        s.add_argument("--alias", help="add-alias: the alias")
        s.add_argument("--text-index", help="bench: an index type for the VARCHAR field too")
        s.add_argument("--format", default="parquet", help="bulk-files: parquet or json")
        s.add_argument("--bulk-compatible", action="store_true",
                       help="types, empty-types, bulk-files: only values BulkWriter accepts")
    args = p.parse_args()
    if args.db:
        root = connect(args.uri)
        if args.db not in root.list_databases():
            root.create_database(args.db)
        # Every command connects through this URI; the database goes with it.
        args.uri = {"uri": args.uri, "db_name": args.db}
    {"types": cmd_types, "insert": cmd_insert, "bench": cmd_bench, "append": cmd_append,
     "varchar-pk": cmd_varchar_pk, "release": cmd_release,
     "load-state": cmd_load_state, "count": cmd_count, "alias-target": cmd_aliases,
     "empty-types": cmd_empty_types, "bulk-files": cmd_bulk_files, "auto-id": cmd_auto_id,
     "delete": cmd_delete, "features": cmd_features, "bm25": cmd_bm25,
     "add-alias": cmd_add_alias, "index-types": cmd_index_types}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
