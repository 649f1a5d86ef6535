#!/usr/bin/env bash
# The documentation's command blocks, run. Every fenced ```sh block of
# README.md and k8s/README.md carries an annotation on the line just before
# its fence, and this test holds the block to it:
#
#   <!-- docs-test: run -->            the block runs, as written, on real servers
#   <!-- docs-test: covered-by PATH -->  the test PATH runs exactly these commands
#   <!-- docs-test: syntax -->         bash -n, and every command it names exists:
#                                      this workspace's tools (with every --flag
#                                      in their --help), scripts/ (every --flag in
#                                      the script), or a known outside tool (cargo,
#                                      docker, buildah, podman, kubectl, skopeo)
#
# A block without an annotation fails the test, naming its file and line.
#
# `run` blocks run in document order (README.md, then k8s/README.md), each in
# a fresh `bash` with `set -euo pipefail`, in one working directory they share
# (as an operator's session would: the load example reads what the dump
# example wrote), against one Milvus database and one bucket of this run's own.
# Before they run, a fixed set of textual replacements points the examples'
# placeholders at the test servers:
#
#   http://milvus.internal:19530, http://milvus-canary:19530  -> MP_TEST_LITE3_URI
#   http://minio.internal:9000, http://127.0.0.1:8333         -> MP_TEST_S3_ENDPOINT
#   AWS_ACCESS_KEY_ID=..., AWS_SECRET_ACCESS_KEY=...          -> the test's credentials
#   s3://bk/        -> s3://<this run's bucket>/
#   /backups/       -> <work dir>/backups/
#   /var/lib/node_exporter/ -> <work dir>/node_exporter/
#   --db staging    -> --db <this run's database>_staging
#
# and the environment holds what the runbook's settings block exports:
# MILVUS_URI, MILVUS_DB (this run's database), AWS_ENDPOINT_URL and the AWS
# credentials, BACKUP_URL=s3://<bucket>/milvus, METRICS_DIR, MP_BIN_DIR; PATH
# starts with MP_BIN_DIR. The examples' own names are real: the database holds
# `docs` (the bench shape: id, embedding, text; 200 rows, 8 dims) and `faq`;
# the bucket holds two verified sets,
# s3://bk/milvus/2026-11-20T021500Z/ and .../2026-11-24T021500Z/ (written by
# scripts/backup.sh); `producer` (on PATH) prints headerless rows and
# bulk/1.parquet is a bulk-import file, as an application would have them.
#
# Run by scripts/test.sh after the scripted week, with the servers it started:
#   MP_TEST_LITE3_URI, MP_TEST_S3_ENDPOINT, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
#   MP_TEST_PYTHON (default .venv/main/bin/python), MP_BIN_DIR (default target/debug)
# Prints one line per block (ok/FAIL) and a last line "docs: N passed, M failed".
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
: "${MP_TEST_LITE3_URI:?set MP_TEST_LITE3_URI (scripts/test.sh starts the servers)}"
: "${MP_TEST_S3_ENDPOINT:?set MP_TEST_S3_ENDPOINT (scripts/test.sh starts the servers)}"
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID (scripts/test.sh starts the servers)}"
: "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY (scripts/test.sh starts the servers)}"
py=${MP_TEST_PYTHON:-$root/.venv/main/bin/python}
export MP_BIN_DIR=${MP_BIN_DIR:-$root/target/debug}
bin=$MP_BIN_DIR
docs=(README.md k8s/README.md)
tools=(milvus-dump milvus-load backup-verify s3-put s3-get s3-ls s3-rm)
outside=(cargo docker buildah podman kubectl skopeo)

run_id="$(date +%s)$$"
db="docs_$run_id"
bucket="mp-docs-$run_id"
work=$(mktemp -d "${TMPDIR:-/tmp}/docs-test.XXXXXX")
passed=0
failed=0

say() { echo "docs: $*" >&2; }
ok() {
    passed=$((passed + 1))
    say "ok: $*"
}
fail() {
    failed=$((failed + 1))
    say "FAIL: $*"
}
# A setup step that must work, or the test stops: CMD... with its output kept.
must() {
    local name=$1
    shift
    if ! "$@" >"$work/$name.out" 2>"$work/$name.err"; then
        say "FAIL: setup step $name"
        tail -n 30 "$work/$name.err" >&2 || true
        exit 1
    fi
}

cleanup() {
    local status=$?
    set +e
    "$py" - "$MP_TEST_LITE3_URI" "$db" "${db}_staging" <<'PY' >"$work/cleanup.log" 2>&1
import sys
from pymilvus import MilvusClient
root = MilvusClient(uri=sys.argv[1])
for name in sys.argv[2:]:
    if name not in root.list_databases():
        continue
    client = MilvusClient(uri=sys.argv[1], db_name=name)
    for coll in client.list_collections():
        for alias in client.describe_collection(coll).get("aliases", []):
            client.drop_alias(alias)
        client.drop_collection(coll)
    root.drop_database(name)
PY
    "$bin/s3-rm" --recursive "s3://$bucket/" >/dev/null 2>&1
    "$py" - "$MP_TEST_S3_ENDPOINT" "$bucket" <<'PY' >/dev/null 2>&1
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1]).delete_bucket(Bucket=sys.argv[2])
PY
    if [[ $status -eq 0 ]]; then
        rm -rf "$work"
    else
        say "files kept in $work"
    fi
    exit "$status"
}
trap cleanup EXIT

# --- The blocks: one file per block in $work/blocks, and an index line each:
# FILE LINE KIND ARG (LINE: the fence's line; KIND: run, covered-by, syntax,
# or missing when the line before the fence is no annotation).
mkdir -p "$work/blocks"
index=$work/blocks/index
: >"$index"
n=0
for doc in "${docs[@]}"; do
    awk -v doc="$doc" -v dir="$work/blocks" -v start="$n" '
        function annotation(line) {
            if (line ~ /^<!-- docs-test: run -->$/) return "run -"
            if (line ~ /^<!-- docs-test: syntax -->$/) return "syntax -"
            if (line ~ /^<!-- docs-test: covered-by [^ ]+ -->$/) {
                split(line, w, " ")
                return "covered-by " w[4]
            }
            return "missing -"
        }
        inblock && /^[ \t]*```[ \t]*$/ { inblock = 0; close(file); next }
        inblock { print > file; next }
        /^[ \t]*```sh[ \t]*$/ {
            start++
            file = sprintf("%s/%03d.sh", dir, start)
            printf "" > file
            print doc, NR, annotation(prev) >> (dir "/index")
            inblock = 1
            next
        }
        /^[ \t]*```/ { fence = !fence }
        { prev = $0 }
    ' "$root/$doc"
    n=$(wc -l <"$index")
done
say "$n sh blocks in ${docs[*]}; work dir $work"

# --- Checks for `syntax` blocks.

# The simple commands of a block, one a line, words separated by tabs:
# continuation lines joined, comments cut, split at | ; & && || ( ) as the
# shell would (quotes kept together).
commands_of() {
    sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$1" | "$py" -c '
import shlex, sys
for line in sys.stdin:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words, redirect = [], False
    for token in list(lexer) + [";"]:
        if redirect:
            redirect = False
        elif token and set(token) <= set("<>&") and token not in ("&", "&&"):
            redirect = True
        elif token and set(token) <= set("();|&"):
            if words:
                print("\t".join(words))
            words = []
        else:
            words.append(token)
'
}
# check_command WORDS...: "" when the command exists (and its flags do), or why not.
check_command() {
    local words=("$@") i=0 cmd flag
    while [[ $i -lt ${#words[@]} && ${words[$i]} =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; do
        i=$((i + 1))
    done
    [[ $i -lt ${#words[@]} ]] || return 0
    cmd=${words[$i]}
    case $cmd in
    for | do | done | if | then | else | fi | while | export | echo | cd | sudo) return 0 ;;
    esac
    if [[ " ${tools[*]} " == *" $cmd "* ]]; then
        [[ -x $bin/$cmd ]] || {
            echo "$cmd: not built in $bin"
            return 0
        }
        local help
        help=$("$bin/$cmd" --help 2>&1)
        for flag in "${words[@]:i+1}"; do
            flag=${flag%%=*}
            if [[ $flag == --* && $help != *"$flag"* ]]; then
                echo "$cmd has no flag $flag"
            fi
        done
    elif [[ $cmd == scripts/* ]]; then
        [[ -f $root/$cmd ]] || {
            echo "$cmd: no such script"
            return 0
        }
        for flag in "${words[@]:i+1}"; do
            flag=${flag%%=*}
            if [[ $flag == --* ]] && ! grep -q -- "$flag" "$root/$cmd"; then
                echo "$cmd has no flag $flag"
            fi
        done
    elif [[ " ${outside[*]} " != *" $cmd "* ]]; then
        echo "$cmd: neither a tool of this workspace, a script in scripts/, nor a known outside tool"
    fi
}
check_syntax() {
    local block=$1 line words found problems=""
    bash -n "$block" 2>"$work/syntax.err" || {
        cat "$work/syntax.err"
        return 0
    }
    while IFS= read -r line; do
        IFS=$'\t' read -r -a words <<<"$line"
        [[ ${#words[@]} -gt 0 ]] || continue
        found=$(check_command "${words[@]}")
        [[ -z $found ]] || problems+="${problems:+; }${found//$'\n'/; }"
    done < <(commands_of "$block")
    printf '%s' "$problems"
}

# --- Set-up for `run` blocks: this run's database, bucket, fixtures.
export MILVUS_URI=$MP_TEST_LITE3_URI MILVUS_DB=$db
export AWS_ENDPOINT_URL=$MP_TEST_S3_ENDPOINT
export BACKUP_URL="s3://$bucket/milvus" METRICS_DIR="$work/node_exporter/textfile_collector"
mkdir -p "$work/cwd" "$work/node_exporter/textfile" "$METRICS_DIR" "$work/backups" "$work/fixture-bin" "$work/tmp"
ln -s "$root/scripts" "$work/cwd/scripts"
ln -s "$root/k8s" "$work/cwd/k8s"

setup_blocks() {
    say "database $db on $MILVUS_URI, bucket $bucket on $AWS_ENDPOINT_URL"
    must bucket "$py" - "$MP_TEST_S3_ENDPOINT" "$bucket" <<'PY'
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1]).create_bucket(Bucket=sys.argv[2])
PY
    must seed-docs "$py" "$root/test-harness/py/seed.py" bench --uri "$MILVUS_URI" --db "$db" --name docs --rows 200 --dim 8 </dev/null
    must seed-faq "$py" "$root/test-harness/py/seed.py" bench --uri "$MILVUS_URI" --db "$db" --name faq --rows 50 --dim 8 </dev/null
    # An application's files: headerless rows on stdout, a bulk-import Parquet file.
    cat >"$work/fixture-bin/producer" <<'SH'
#!/usr/bin/env bash
for i in $(seq 100000 100009); do
    printf '{"id": %d, "embedding": [0.5, -1.25, 0, 1, 2, 3, 4, 5], "text": "produced %d"}\n' "$i" "$i"
done
SH
    chmod +x "$work/fixture-bin/producer"
    mkdir -p "$work/cwd/bulk"
    must bulk-file "$py" - "$work/cwd/bulk/1.parquet" <<'PY'
import sys
import pyarrow as pa, pyarrow.parquet as pq
ids = list(range(200000, 200010))
pq.write_table(pa.table({
    "id": pa.array(ids, pa.int64()),
    "embedding": pa.array([[float(i % 7)] * 8 for i in ids], pa.list_(pa.float32())),
    "text": pa.array([f"bulk {i}" for i in ids]),
}), sys.argv[1])
PY
    local set
    for set in 2026-11-20T021500Z 2026-11-24T021500Z; do
        must "set-$set" env BACKUP_SET_NAME="$set" METRICS_DIR= PATH="$bin:$PATH" "$root/scripts/backup.sh" </dev/null
    done
}

# The block's text with the examples' placeholders replaced (see the header).
substituted() {
    local text
    text=$(cat "$1")
    text=${text//"http://milvus.internal:19530"/"$MP_TEST_LITE3_URI"}
    text=${text//"http://milvus-canary:19530"/"$MP_TEST_LITE3_URI"}
    text=${text//"http://minio.internal:9000"/"$MP_TEST_S3_ENDPOINT"}
    text=${text//"http://127.0.0.1:8333"/"$MP_TEST_S3_ENDPOINT"}
    text=${text//"AWS_ACCESS_KEY_ID=..."/"AWS_ACCESS_KEY_ID=\"\$AWS_ACCESS_KEY_ID\""}
    text=${text//"AWS_SECRET_ACCESS_KEY=..."/"AWS_SECRET_ACCESS_KEY=\"\$AWS_SECRET_ACCESS_KEY\""}
    text=${text//"s3://bk/"/"s3://$bucket/"}
    text=${text//"/var/lib/node_exporter/"/"$work/node_exporter/"}
    text=${text//"/backups/"/"$work/backups/"}
    text=${text//"--db staging"/"--db ${db}_staging"}
    printf 'set -euo pipefail\n%s\n' "$text"
}

run_block() {
    local id=$1 script=$work/blocks/$1.run.sh
    substituted "$work/blocks/$id.sh" >"$script"
    (
        cd "$work/cwd"
        PATH="$bin:$work/fixture-bin:$PATH" TMPDIR="$work/tmp" \
            timeout 900 bash "$script" >"$work/blocks/$id.out" 2>"$work/blocks/$id.err" </dev/null
    )
}

set_up=0
i=0
while read -r doc line kind arg; do
    i=$((i + 1))
    id=$(printf '%03d' "$i")
    first=$((line + 1))
    where="$doc:$first"
    case $kind in
    missing)
        fail "$where: sh block without a docs-test annotation on the line before its fence (run, covered-by PATH or syntax; see tests/e2e/docs.sh)"
        ;;
    covered-by)
        if [[ -e $root/$arg ]]; then
            ok "$where: covered by $arg"
        else
            fail "$where: covered by $arg, which does not exist"
        fi
        ;;
    syntax)
        problems=$(check_syntax "$work/blocks/$id.sh")
        if [[ -z $problems ]]; then
            ok "$where: syntax"
        else
            fail "$where: $problems"
        fi
        ;;
    run)
        if [[ $set_up -eq 0 ]]; then
            setup_blocks
            set_up=1
        fi
        start=$SECONDS
        if run_block "$id"; then
            ok "$where: ran ($((SECONDS - start)) s)"
        else
            rc=$?
            fail "$where: exit $rc; stderr's last lines:"
            tail -n 15 "$work/blocks/$id.err" | sed 's/^/    /' >&2
        fi
        ;;
    esac
done <"$index"

echo "docs: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
