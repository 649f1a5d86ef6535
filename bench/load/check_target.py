"""After a load measurement (outside its timing): flushes the target, checks
that it holds exactly ROWS rows, then drops it (so the server does not carry
one more collection into the next measurement).

    check_target.py URI NAME ROWS

Exit 1 on a mismatch: a load that silently inserted nothing (or too much)
cannot report a number. The count is the flushed segments' row count
(`num_entities`): the collection is not loaded, so count(*) is not available;
no row is ever deleted here, so the two agree.
"""

import logging
import os
import sys

from pymilvus import MilvusClient

logging.getLogger("pymilvus").setLevel(logging.ERROR)


def main():
    uri, name, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = MilvusClient(uri=uri, token=os.environ.get("MILVUS_TOKEN", ""))
    client.flush(name)
    count = int(client.get_collection_stats(name)["row_count"])
    client.drop_collection(name)
    if count != rows:
        print(f"check_target: {name} holds {count} rows, expected {rows}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
