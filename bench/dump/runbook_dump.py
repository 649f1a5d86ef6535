"""The runbook's approach, for comparison: pymilvus query_iterator (batch
5,000) writing Parquet with pyarrow.

    runbook_dump.py URI COLLECTION OUT.parquet [FILTER]
"""

import logging
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq
from pymilvus import MilvusClient

logging.getLogger("pymilvus").setLevel(logging.ERROR)


def main():
    uri, collection, out = sys.argv[1:4]
    expr = sys.argv[4] if len(sys.argv) > 4 else ""
    client = MilvusClient(uri=uri, token=os.environ.get("MILVUS_TOKEN", ""))
    it = client.query_iterator(collection, batch_size=5000, filter=expr, output_fields=["*"])
    writer = None
    rows = 0
    while True:
        page = it.next()
        if not page:
            break
        table = pa.Table.from_pylist([dict(r) for r in page])
        if writer is None:
            writer = pq.ParquetWriter(out, table.schema)
        # Rows are dicts: keep the first page's column order.
        table = table.select(writer.schema.names)
        writer.write_table(table)
        rows += len(page)
    it.close()
    if writer:
        writer.close()
    print(rows, file=sys.stderr)


if __name__ == "__main__":
    main()
