"""(a) Loading a Parquet file the pymilvus way: pyarrow reads it in batches of
5,000 rows, each batch becomes one `MilvusClient.insert`.

    pymilvus_insert.py URI COLLECTION PARQUET [--batch 5000]

Rows go in as a list of dicts, numpy float32 arrays as vectors (how
seed.py and pymilvus's own examples insert): MilvusClient takes only rows,
and the ORM's column-based `Collection.insert` (lists per field) was no faster
here (20,000 rows on Milvus 2.3.5: the same rows/s within noise, 15% more
CPU, 30% more memory) and is deprecated in pymilvus 3.

Prints one JSON line {"rows", "seconds", "rows_per_s"}; that clock covers
reading, converting and inserting, not start-up and connecting, and there is
no flush: as for the other loads of the benchmark, only inserting is timed.
"""

import argparse
import os
import json
import logging
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
from pymilvus import MilvusClient

logging.getLogger("pymilvus").setLevel(logging.ERROR)


def batches(path, size):
    """The file's rows in batches of exactly `size` rows (the last one fewer).
    pyarrow's own batches stop at row-group boundaries; the loads compared
    here all send the same 5,000-row requests."""
    pending, pending_rows = [], 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=size):
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= size:
            table = pa.Table.from_batches(pending).combine_chunks()
            yield table.slice(0, size)
            rest = table.slice(size)
            pending, pending_rows = rest.to_batches(), rest.num_rows
    if pending_rows:
        yield pa.Table.from_batches(pending).combine_chunks()


def rows_of(table):
    """A batch as pymilvus insert rows: {"id": int, "embedding": float32 array, "text": str}."""
    ids = table.column("id").to_numpy()
    vectors = table.column("embedding").combine_chunks()
    dim = len(vectors[0])
    vecs = vectors.flatten().to_numpy().reshape(-1, dim)
    texts = table.column("text").to_pylist()
    return [{"id": int(i), "embedding": v, "text": t} for i, v, t in zip(ids, vecs, texts)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("uri")
    p.add_argument("collection")
    p.add_argument("parquet")
    p.add_argument("--batch", type=int, default=5000)
    args = p.parse_args()
    client = MilvusClient(uri=args.uri, token=os.environ.get("MILVUS_TOKEN", ""))
    rows = 0
    started = time.monotonic()
    for table in batches(args.parquet, args.batch):
        n = client.insert(args.collection, rows_of(table))["insert_count"]
        if n != table.num_rows:
            sys.exit(f"pymilvus_insert: {table.num_rows} rows sent, {n} inserted")
        rows += n
    seconds = time.monotonic() - started
    print(json.dumps({"rows": rows, "seconds": round(seconds, 3),
                      "rows_per_s": round(rows / seconds, 1)}))


if __name__ == "__main__":
    main()
