"""Creates an empty target collection for a load measurement, with the schema
of `test-harness/py/seed.py bench` (INT64 pk `id`, no auto_id; FLOAT_VECTOR
`embedding`; VARCHAR `text`, max_length 512; no dynamic field). Drops it first
if it exists.

    make_target.py URI NAME DIM
    make_target.py --drop URI NAME...    (drops the collections that exist)

No index and not loaded: every load in the benchmark inserts into an
unindexed, unloaded collection, so the server does no index building and no
query-node work while the inserts are timed.
"""

import logging
import os
import sys

from pymilvus import DataType, MilvusClient

logging.getLogger("pymilvus").setLevel(logging.ERROR)


def main():
    if sys.argv[1] == "--drop":
        client = MilvusClient(uri=sys.argv[2], token=os.environ.get("MILVUS_TOKEN", ""))
        for name in sys.argv[3:]:
            if client.has_collection(name):
                client.drop_collection(name)
        return
    uri, name, dim = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = MilvusClient(uri=uri, token=os.environ.get("MILVUS_TOKEN", ""))
    if client.has_collection(name):
        client.drop_collection(name)
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("text", DataType.VARCHAR, max_length=512)
    # No index_params: MilvusClient creates the collection without an index
    # and does not load it.
    client.create_collection(name, schema=schema)


if __name__ == "__main__":
    main()
