"""Summarises section (e) of bench/dump/run.sh: in each round, milvus-dump
--jobs 4's rows/s over each 4-connection ceiling's, then the median of the
rounds and the pooled ratio (all rows over all seconds).

    rounds.py ROUNDS.jsonl

Whole runs are compared with the eventually and snapshot ceilings (both
timed from process start to exit); the dump's read phase (--report's
read_seconds) with the caught-up ceiling (timed after its one consistency
wait). Prints one JSON line.
"""

import json
import statistics
import sys


def main(path):
    with open(path) as f:
        lines = [json.loads(line) for line in f if line.startswith("{")]
    # Each round ends with the dump's line; the ceilings come before it.
    rounds, current = [], {}
    for line in lines:
        if "milvus-dump" in line["label"]:
            rounds.append((current, line))
            current = {}
        else:
            reads = line["label"].rsplit(", ", 1)[1].removesuffix(" reads")
            current[reads] = line
    summary = {"rounds": len(rounds)}
    for reads in sorted({r for ceilings, _ in rounds for r in ceilings}):
        caught_up = reads == "caught-up"
        ceiling_key = "timed_seconds" if caught_up else "seconds"
        dump_key = "read_seconds" if caught_up else "seconds"
        pairs = [
            (dump[dump_key], ceilings[reads][ceiling_key])
            for ceilings, dump in rounds
            if reads in ceilings
        ]
        # Equal rows on both sides: the rows/s ratio is the inverse seconds ratio.
        ratios = [ceiling / dump for dump, ceiling in pairs]
        summary[f"jobs4_over_{reads}"] = {
            "compares": "read phase" if caught_up else "whole run",
            "per_round": [round(r, 2) for r in ratios],
            "median": round(statistics.median(ratios), 2),
            "pooled": round(sum(c for _, c in pairs) / sum(d for d, _ in pairs), 2),
        }
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1])
