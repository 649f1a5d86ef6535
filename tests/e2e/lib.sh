# What the end-to-end tests share: messages, and steps whose output is kept
# for the failure report. Source it after setting E2E_NAME (the prefix of
# every message) and work (a directory for the steps' output).
# shellcheck shell=bash
: "${E2E_NAME:?set E2E_NAME before sourcing lib.sh}" "${work:?set work before sourcing lib.sh}"

checks=0

say() { echo "$E2E_NAME: $*" >&2; }

ok() {
    checks=$((checks + 1))
    say "ok: $*"
}

# fail MESSAGE: stops the test, with the last step's output.
fail() {
    say "FAIL: $*"
    if [[ -n ${last_step:-} ]]; then
        say "--- $last_step: stdout"
        cat "$work/$last_step.out" >&2 || true
        say "--- $last_step: stderr"
        tail -n 40 "$work/$last_step.err" >&2 || true
    fi
    exit 1
}

# step NAME CMD...: run CMD, stdout in $work/NAME.out, stderr in $work/NAME.err;
# its exit code in $rc (never stops the test by itself).
step() {
    last_step=$1
    shift
    rc=0
    "$@" >"$work/$last_step.out" 2>"$work/$last_step.err" || rc=$?
}

expect_rc() {
    [[ $rc -eq $1 ]] || fail "$last_step: exit $rc, expected $1"
}
