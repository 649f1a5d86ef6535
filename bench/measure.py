"""Runs a command and prints one JSON line: wall seconds, CPU seconds
(user + system, the command and its children) and peak RSS.

    measure.py LABEL ROWS [--stdout FILE] [--timed] -- CMD ARGS...

ROWS turns seconds into rows/s. stdout goes to /dev/null unless --stdout.
--timed: the command times its own work and prints it as a JSON object with
"seconds" on its last line of stdout; that becomes "timed_seconds" and
"timed_rows_per_sec" (for work that must not count set-up, such as requests
encoded before the clock starts). A command that fails gets "failed": true
and no rows/s.
"""

import json
import os
import subprocess
import sys
import tempfile
import time


def last_json_line(path):
    with open(path, "rb") as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else {}


def main():
    args = sys.argv[1:]
    split = args.index("--")
    opts, cmd = args[:split], args[split + 1:]
    label, rows = opts[0], int(opts[1])
    timed = "--timed" in opts
    stdout_path = opts[opts.index("--stdout") + 1] if "--stdout" in opts else None
    scratch = None
    if stdout_path is None:
        if timed:
            scratch = tempfile.NamedTemporaryFile(prefix="measure-", delete=False)
            scratch.close()
            stdout_path = scratch.name
        else:
            stdout_path = os.devnull
    try:
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
        if code != 0:
            result["rows_per_sec"] = None
            result["failed"] = True
        elif timed:
            seconds = float(last_json_line(stdout_path)["seconds"])
            result["timed_seconds"] = round(seconds, 3)
            result["timed_rows_per_sec"] = round(rows / seconds, 1)
    finally:
        if scratch is not None:
            os.unlink(scratch.name)
    print(json.dumps(result))
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
