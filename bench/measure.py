"""Runs a command and prints one JSON line: wall seconds, CPU seconds
(user + system, the command and its children), peak RSS, the bytes it
wrote to local disk (the kernel's block-output count, ru_oublock × 512:
file writes, not pipes or sockets), and the bytes it read ("read_mib": the
kernel's rchar of the command's own process, files and sockets alike,
sampled every 20 ms until it exits).

    measure.py LABEL ROWS [--stdout FILE] [--timed] [--repeat N] [--report FILE] -- CMD ARGS...

ROWS turns seconds into rows/s. stdout goes to /dev/null unless --stdout.
--repeat N: run N times and report the fastest run (this machine is shared
with the server and figures move by ±15% between runs), with every run's
seconds in "runs_seconds" and the highest peak RSS of all runs.
--report FILE: the --report file the command writes: milvus-dump's
"read_seconds" (the read phase alone) becomes "read_seconds" and
"read_rows_per_sec"; milvus-load's phase that puts the rows in (reading and
inserting them, or the server importing them; without the flush, index
build and load after) becomes "insert_seconds" and "insert_rows_per_sec",
and its "phases" (seconds of each) are copied.
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
import threading
import time


def last_json_line(path):
    with open(path, "rb") as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else {}


def watch_reads(pid, read):
    """Keeps the last rchar of /proc/PID/io in read["bytes"] until PID is gone."""
    while True:
        try:
            with open(f"/proc/{pid}/io") as f:
                for line in f:
                    if line.startswith("rchar:"):
                        read["bytes"] = int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            return
        time.sleep(0.02)


def run_once(cmd, rows, stdout_path, timed, report):
    with open(stdout_path, "wb") as out:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out)
        read = {"bytes": 0}
        watcher = threading.Thread(target=watch_reads, args=(proc.pid, read), daemon=True)
        watcher.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        watcher.join()
    code = os.waitstatus_to_exitcode(status)
    result = {
        "seconds": round(wall, 3),
        "rows_per_sec": round(rows / wall, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "disk_written_mib": round(usage.ru_oublock * 512 / (1 << 20), 1),
        "read_mib": round(read["bytes"] / (1 << 20), 1),
        "exit": code,
    }
    if code != 0:
        result["rows_per_sec"] = None
        result["failed"] = True
        return result
    if timed:
        seconds = float(last_json_line(stdout_path)["seconds"])
        result["timed_seconds"] = round(seconds, 3)
        result["timed_rows_per_sec"] = round(rows / seconds, 1)
    if report:
        with open(report) as f:
            summary = json.load(f)
        if "phases" in summary:
            phase, seconds = "insert", summary["phases"]["rows"]
            result["phases"] = {k: round(v, 3) for k, v in summary["phases"].items()}
        else:
            phase, seconds = "read", sum(c["read_seconds"] for c in summary["collections"])
        result[f"{phase}_seconds"] = round(seconds, 3)
        result[f"{phase}_rows_per_sec"] = round(rows / seconds, 1)
    return result


def main():
    args = sys.argv[1:]
    split = args.index("--")
    opts, cmd = args[:split], args[split + 1:]
    label, rows = opts[0], int(opts[1])
    timed = "--timed" in opts

    def option(name, default=None):
        return opts[opts.index(name) + 1] if name in opts else default

    stdout_path = option("--stdout")
    repeat = int(option("--repeat", "1"))
    report = option("--report")
    scratch = None
    if stdout_path is None:
        if timed:
            scratch = tempfile.NamedTemporaryFile(prefix="measure-", delete=False)
            scratch.close()
            stdout_path = scratch.name
        else:
            stdout_path = os.devnull
    try:
        runs = []
        for _ in range(repeat):
            runs.append(run_once(cmd, rows, stdout_path, timed, report))
            if runs[-1]["exit"] != 0:
                break
    finally:
        if scratch is not None:
            os.unlink(scratch.name)
    failed = [r for r in runs if r["exit"] != 0]
    result = dict(failed[0] if failed else min(runs, key=lambda r: r["seconds"]))
    if len(runs) > 1:
        result["runs_seconds"] = [r["seconds"] for r in runs]
        result["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    print(json.dumps({"label": label, "rows": rows, **result}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
