"""s3-put / s3-get versus boto3 (and the aws CLI) on one S3 server, same run.

Each contender runs as its own child process; wall time is measured around
it and peak RSS comes from os.wait4's rusage (ru_maxrss) of that child.
Prints a Markdown table (median of --reps runs) and writes it to --out.
"""

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid

BOTO_UP = r"""
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1]).upload_file(sys.argv[2], sys.argv[3], sys.argv[4])
"""
BOTO_DOWN = r"""
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1]).download_file(sys.argv[3], sys.argv[4], sys.argv[2])
"""


def run(cmd, stdin=None, stdout=None):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=stdin, stdout=stdout)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"bench: {' '.join(cmd)} exited {code}")
    return dt, ru.ru_maxrss * 1024  # Linux reports KiB


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--bin", required=True, help="directory holding s3-put and s3-get")
    ap.add_argument("--file", required=True, help="the input (random bytes)")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--part-size", default="16MiB")
    ap.add_argument("--concurrency", default="4")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    size = os.path.getsize(a.file)
    want = sha256_file(a.file)
    bucket = "bench-" + uuid.uuid4().hex[:12]
    py = sys.executable
    aws = shutil.which("aws")
    put, get = os.path.join(a.bin, "s3-put"), os.path.join(a.bin, "s3-get")
    tune = ["--part-size", a.part_size, "--concurrency", a.concurrency, "-q"]
    os.environ["AWS_ENDPOINT_URL"] = a.endpoint
    results = {}

    def record(name, dt, rss):
        results.setdefault(name, []).append((dt, rss))

    out_file = os.path.join(a.workdir, "download.bin")
    for rep in range(a.reps):
        k = f"r{rep}"
        # Uploads (each to its own key).
        record("upload: boto3 upload_file", *run([py, "-c", BOTO_UP, a.endpoint, a.file, bucket, f"{k}/boto3"]))
        with open(a.file, "rb") as f:
            record("upload: s3-put", *run([put, f"s3://{bucket}/{k}/s3-put", *tune], stdin=f, stdout=subprocess.DEVNULL))
        if aws:
            with open(a.file, "rb") as f:
                record("upload: aws s3 cp -", *run([aws, "--endpoint-url", a.endpoint, "s3", "cp", "--only-show-errors", "-", f"s3://{bucket}/{k}/aws"], stdin=f))
        # Downloads of the same object, to a file on the same disk.
        for name, cmd in [
            ("download: boto3 download_file", [py, "-c", BOTO_DOWN, a.endpoint, out_file, bucket, f"{k}/s3-put"]),
            ("download: s3-get -o FILE", [get, f"s3://{bucket}/{k}/s3-put", "-o", out_file, *tune]),
        ] + ([("download: aws s3 cp", [aws, "--endpoint-url", a.endpoint, "s3", "cp", "--only-show-errors", f"s3://{bucket}/{k}/s3-put", out_file])] if aws else []):
            if os.path.exists(out_file):
                os.remove(out_file)
            record(name, *run(cmd))
            got = sha256_file(out_file)
            if got != want:
                sys.exit(f"bench: {name} produced a different file ({got} != {want})")
        print(f"bench: rep {rep + 1}/{a.reps} done", file=sys.stderr)

    mib = 1 << 20
    lines = [
        f"{size / mib:.0f} MiB of random bytes, median of {a.reps} runs; s3-put/s3-get with --part-size {a.part_size} --concurrency {a.concurrency} (boto3: default TransferConfig, 8 MiB × 10 threads)",
        "",
        "| operation | MiB/s | seconds | peak RSS (MiB) |",
        "|---|---:|---:|---:|",
    ]
    med = {}
    for name, runs in results.items():
        dt = statistics.median(r[0] for r in runs)
        rss = max(r[1] for r in runs)
        med[name] = dt
        lines.append(f"| {name} | {size / mib / dt:.0f} | {dt:.2f} | {rss / mib:.1f} |")
    up = med["upload: boto3 upload_file"] / med["upload: s3-put"]
    down = med["download: boto3 download_file"] / med["download: s3-get -o FILE"]
    lines += ["", f"s3-put vs boto3 upload_file: {up:.2f}×; s3-get vs boto3 download_file: {down:.2f}× (throughput ratio, higher is better)"]
    text = "\n".join(lines) + "\n"
    print(text)
    with open(a.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
