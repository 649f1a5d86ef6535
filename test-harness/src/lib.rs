//! Test support shared by the integration tests of every crate.
//!
//! The real servers are started once per run by `scripts/test.sh`, which
//! exports their addresses; tests read them here. Seeding and independent
//! checks go through pymilvus (`py/seed.py`, `py/compare.py`).
#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub mod process;
mod s3;

pub use s3::{s3_endpoint, s3_exists, s3_fetch, s3_keys, s3_plant, s3_prefix, with_s3};

/// The Milvus servers the tests run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// Milvus Lite 2.5.1 (C++ engine; binary/float16/bfloat16/sparse vectors).
    Lite25,
    /// Milvus Lite 3.x (nullable, defaults, geometry, timestamptz).
    Lite3,
    /// Milvus 2.3.5 standalone.
    Milvus235,
}

impl Server {
    /// The name `py/seed.py --server` takes.
    pub fn seed_name(self) -> &'static str {
        match self {
            Server::Lite25 => "lite25",
            Server::Lite3 => "lite3",
            Server::Milvus235 => "milvus235",
        }
    }

    /// Milvus 2.3.5's storage directory (its `localStorage.path`): the
    /// files its Import reads must be under it, named by absolute path.
    pub fn milvus235_storage() -> PathBuf {
        PathBuf::from(required("MP_TEST_MILVUS235_STORAGE"))
    }

    /// The server's URI, from the environment `scripts/test.sh` sets.
    pub fn uri(self) -> String {
        let var = match self {
            Server::Lite25 => "MP_TEST_LITE25_URI",
            Server::Lite3 => "MP_TEST_LITE3_URI",
            Server::Milvus235 => "MP_TEST_MILVUS235_URI",
        };
        required(var)
    }
}

/// A server address scripts/test.sh exports. Without it the test process
/// says once, in one line, how to run the suite, and exits non-zero: the
/// integration tests never skip, and never panic once per test either.
pub fn required(var: &str) -> String {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => value,
        _ => {
            static TOLD: std::sync::Once = std::sync::Once::new();
            TOLD.call_once(|| {
                // Straight to stderr: the test harness captures eprintln!,
                // and would drop it when the process exits.
                let _ = writeln!(
                    std::io::stderr(),
                    "{var} is not set: the integration tests run against real servers; \
                     run scripts/test.sh, which starts them, runs every test and stops them"
                );
                std::process::exit(2);
            });
            unreachable!("the process exits above")
        }
    }
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The Python with pymilvus (the test venv).
pub fn python() -> PathBuf {
    std::env::var_os("MP_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/main/bin/python"))
}

/// A binary of the workspace, built by `cargo build` before the tests run
/// (scripts/test.sh does): cross-tool tests need the other tools' binaries.
pub fn workspace_bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let path = target.join("debug").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace` first (scripts/test.sh does)",
        path.display()
    );
    path
}

/// `python -c CODE`.
pub fn py_inline(code: &str) -> Command {
    let mut cmd = Command::new(python());
    cmd.args(["-c", code]);
    cmd
}

/// Prints what `py/seed.py KIND` prints (count, load-state, alias-target), trimmed.
pub fn seed_output(server: Server, kind: &str, name: &str) -> String {
    let out = run_ok(py("seed.py").args([kind, "--uri", &server.uri(), "--name", name]));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A collection name unique to this test process and call.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs a command and returns its output; panics with everything on failure
/// to spawn. The caller asserts on status.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null());
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Runs a command that must succeed; panics with its command line, status,
/// stdout and stderr otherwise.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    if !out.status.success() {
        panic!("{}", describe(cmd, &out));
    }
    out
}

/// Runs a command that must fail with `exit` and say `said` on stderr;
/// panics with its command line, status, stdout and stderr otherwise.
pub fn run_refused(cmd: &mut Command, exit: pipes_cli::Exit, said: &str) -> Output {
    let out = run(cmd);
    let expected = Some(i32::from(exit.code()));
    if out.status.code() != expected || !String::from_utf8_lossy(&out.stderr).contains(said) {
        panic!(
            "expected exit {expected:?} and {said:?} on stderr\n{}",
            describe(cmd, &out)
        );
    }
    out
}

/// Command line, status, stdout and stderr, for failure messages.
pub fn describe(cmd: &Command, out: &Output) -> String {
    format!(
        "command: {cmd:?}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
            .chars()
            .take(4000)
            .collect::<String>(),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A `py/<script>` command with the test venv's Python.
pub fn py(script: &str) -> Command {
    let mut cmd = Command::new(python());
    cmd.arg(root().join("test-harness/py").join(script));
    cmd
}

/// Seeds a collection with `py/seed.py KIND` (types, bench, varchar-pk, insert).
pub fn seed(server: Server, kind: &str, name: &str, extra: &[&str]) {
    run_ok(
        py("seed.py")
            .args([
                kind,
                "--uri",
                &server.uri(),
                "--name",
                name,
                "--server",
                server.seed_name(),
            ])
            .args(extra),
    );
}

/// Compares a restored copy with its original, rows and schema, via pymilvus.
/// Between two servers, only what both report alike is compared (`--cross-version`).
pub fn compare_copy(original: (Server, &str), copy: (Server, &str)) {
    let mut cmd = py("compare.py");
    if original.0 != copy.0 {
        cmd.arg("--cross-version");
    }
    run_ok(cmd.args([
        "--uri",
        &original.0.uri(),
        "--name",
        original.1,
        "--copy",
        copy.1,
        "--copy-uri",
        &copy.0.uri(),
    ]));
}

/// Compares a dump with the live collection via pymilvus: `what` is
/// `--jsonl FILE`, `--parquet FILE` or `--set DIR`. Panics on any difference.
pub fn compare(server: Server, name: &str, what: &str, path: &Path) {
    run_ok(
        py("compare.py")
            .args(["--uri", &server.uri(), "--name", name, what])
            .arg(path),
    );
}
