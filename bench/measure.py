"""Runs a command and prints one JSON line: wall seconds, CPU seconds
(user + system, the command and its children) and peak RSS.

    measure.py LABEL ROWS [--stdout FILE] -- CMD ARGS...

ROWS turns seconds into rows/s. stdout goes to /dev/null unless --stdout.
"""

import json
import os
import subprocess
import sys
import time


def main():
    args = sys.argv[1:]
    split = args.index("--")
    opts, cmd = args[:split], args[split + 1:]
    label, rows = opts[0], int(opts[1])
    stdout_path = opts[opts.index("--stdout") + 1] if "--stdout" in opts else os.devnull
    with open(stdout_path, "wb") as out:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    result = {
        "label": label,
        "rows": rows,
        "seconds": round(wall, 3),
        "rows_per_sec": round(rows / wall, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "exit": code,
    }
    print(json.dumps(result))
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
