//! SIGTERM (how Kubernetes stops a pod) and SIGINT stop every tool cleanly:
//! nothing unfinished is left behind (temporary files removed, multipart
//! uploads aborted), what was committed is said with the exact command that
//! continues, and the exit status is 128 + the signal (143, 130).

use pipes_cli::Exit;
use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use test_harness::{
    compare_copy, py_inline, run, run_ok, s3_keys, s3_prefix, seed, unique_name, with_s3,
    workspace_bin, Server,
};

use super::{count, dump, load};
use test_harness::process::wait_until;

/// Sends `signal` to `child`, returns its exit status and stderr.
fn stop(child: Child, signal: &str) -> (Option<i32>, String) {
    test_harness::process::signal(child.id(), signal);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The command a tool printed after "continue with: ", run by the shell.
fn continue_as_printed(stderr: &str) -> std::process::Output {
    let command = stderr
        .split("continue with: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no command to continue with: {stderr}"))
        .lines()
        .next()
        .unwrap();
    let mut shell = Command::new("sh");
    shell.args(["-c", command]);
    run_ok(with_s3(&mut shell))
}

/// A dump slow enough to be stopped midway, however fast the machine: one
/// reader held to 400 rows/s, so 6,000 rows take 15 s.
fn slow_dump(server: Server, name: &str) -> Command {
    let mut cmd = dump(server);
    cmd.args([
        "-c",
        name,
        "--format",
        "parquet",
        "--page-rows",
        "50",
        "--jobs",
        "1",
        "--max-rows-per-second",
        "400",
    ]);
    cmd
}

#[test]
fn sigterm_mid_dump_to_a_file_leaves_nothing() {
    let server = Server::Lite25;
    let name = unique_name("termfile");
    seed(server, "bench", &name, &["--rows", "6000", "--dim", "8"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.parquet");
    let temporary = dir.path().join(".out.parquet.tmp");
    let mut child = slow_dump(server, &name)
        .arg("-o")
        .arg(&file)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The temporary file is made first; the pages follow for seconds.
    wait_until(&mut child, || temporary.exists());
    std::thread::sleep(Duration::from_millis(300));
    let (status, stderr) = stop(child, "TERM");
    assert_eq!(status, Some(143), "{stderr}");
    assert!(stderr.contains("interrupted (SIGTERM)"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn sigterm_mid_set_in_s3_aborts_its_upload_and_the_printed_command_finishes_it() {
    let server = Server::Lite25;
    let name = unique_name("termset");
    seed(server, "bench", &name, &["--rows", "6000", "--dim", "8"]);
    let set = s3_prefix("term-mid-set");
    let mut cmd = slow_dump(server, &name);
    with_s3(&mut cmd).args(["--part-rows", "500", "--out-dir", &set]);
    let mut child = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let record = format!("{name}/part-00001.parquet.json");
    wait_until(&mut child, || s3_keys(&set).contains(&record));
    let (status, stderr) = stop(child, "TERM");
    assert_eq!(status, Some(143), "{stderr}");
    assert!(stderr.contains("is incomplete"), "{stderr}");
    assert!(!s3_keys(&set).contains(&"manifest.json".to_string()));
    // The part being written when the signal came was aborted, not left open.
    let bucket = set.trim_start_matches("s3://").split('/').next().unwrap();
    let open = run_ok(
        py_inline(
            "import sys, boto3\n\
             s3 = boto3.client('s3', endpoint_url=sys.argv[1])\n\
             print(len(s3.list_multipart_uploads(Bucket=sys.argv[2]).get('Uploads', [])))",
        )
        .args([&test_harness::s3_endpoint(), bucket]),
    );
    assert_eq!(String::from_utf8_lossy(&open.stdout).trim(), "0");

    continue_as_printed(&stderr);
    let copy = format!("{name}_copy");
    run_ok(with_s3(&mut load(server)).args(["-c", &copy, &set]));
    compare_copy((server, &name), (server, &copy));
}

#[test]
fn sigterm_mid_load_says_what_is_committed_and_the_printed_command_finishes_it() {
    let server = Server::Lite3;
    let name = unique_name("termload");
    seed(server, "bench", &name, &["--rows", "4000", "--dim", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set");
    run_ok(
        dump(server)
            .args(["-c", &name, "--part-rows", "1000", "--out-dir"])
            .arg(&set),
    );
    let copy = format!("{name}_copy");
    // One row per insert, one at a time: slow enough to be stopped midway.
    let mut child = load(server)
        .args(["-c", &copy, "--batch-bytes", "1", "--concurrency", "1"])
        .arg(&set)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Stopped once the first part is in and the second under way.
    wait_until(&mut child, || {
        count(server, &copy).parse::<u64>().unwrap_or(0) >= 1200
    });
    let (status, stderr) = stop(child, "TERM");
    assert_eq!(status, Some(143), "{stderr}");
    assert!(
        stderr.contains("interrupted (SIGTERM)") && stderr.contains("rows were committed"),
        "{stderr}"
    );
    // Parts already in are skipped, the one cut midway gets only its
    // missing rows: no row lost or doubled, none deleted.
    let out = continue_as_printed(&stderr);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already loaded"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    compare_copy((server, &name), (server, &copy));
    // Complete: the mark is gone, a second --resume is refused.
    let out = run(load(server).args(["-c", &copy, "--resume"]).arg(&set));
    assert_eq!(out.status.code(), Some(Exit::Refused.code().into()));
}

#[test]
fn sigint_mid_verify_exits_130() {
    let mut child = Command::new(workspace_bin("backup-verify"))
        .arg("-")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A stream that has begun and not ended: the verifier waits for more.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"{\"id\": 1}\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let (status, stderr) = stop(child, "INT");
    drop(stdin);
    assert_eq!(status, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted (SIGINT)"), "{stderr}");
}

/// Kubernetes signals only a container's first process: backup.sh passes
/// SIGTERM on to its dump, which stops cleanly; BACKUP_RESUME=1 finishes it.
#[test]
fn sigterm_to_backup_sh_stops_its_dump_and_a_resume_finishes_the_set() {
    let server = Server::Lite3;
    let name = unique_name("termbackup");
    seed(server, "bench", &name, &["--rows", "3000", "--dim", "8"]);
    let backups = s3_prefix("term-backup");
    let backup = || {
        let mut cmd = Command::new("bash");
        cmd.arg(test_harness::root().join("scripts/backup.sh"))
            .env("MP_BIN_DIR", workspace_bin("milvus-dump").parent().unwrap())
            .env("MILVUS_URI", server.uri())
            .env("BACKUP_URL", backups.trim_end_matches('/'))
            .env("BACKUP_SET_NAME", "2026-12-02T000000Z")
            .env("COLLECTIONS", &name)
            .env("PART_ROWS", "500")
            .env_remove("METRICS_DIR");
        with_s3(&mut cmd);
        cmd
    };
    // Throttled to 1,000 rows/s: three seconds, long enough to be stopped.
    let mut child = backup()
        .env("DUMP_MAX_ROWS_PER_SECOND", "1000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let set = format!("{backups}2026-12-02T000000Z/");
    let record = format!("{name}/part-00000.parquet.json");
    wait_until(&mut child, || s3_keys(&set).contains(&record));
    let (status, stderr) = stop(child, "TERM");
    assert_eq!(status, Some(143), "{stderr}");
    assert!(
        stderr.contains("milvus-dump: interrupted (SIGTERM)"),
        "{stderr}"
    );
    assert!(!s3_keys(&set).contains(&"manifest.json".to_string()));

    run_ok(backup().env("BACKUP_RESUME", "1"));
    let copy = format!("{name}_copy");
    run_ok(with_s3(&mut load(server)).args(["-c", &copy, &set]));
    compare_copy((server, &name), (server, &copy));
}

/// `--max-rows-per-second` holds the dump and the load under the limit
/// (all connections together), and the summary says so.
#[test]
fn a_rate_limit_holds_the_dump_and_the_load_under_it() {
    let server = Server::Lite3;
    let name = unique_name("throttle");
    seed(server, "bench", &name, &["--rows", "3000", "--dim", "8"]);
    let dir = tempfile::tempdir().unwrap();
    let (stream, report) = (dir.path().join("s.jsonl"), dir.path().join("report.json"));
    run_ok(
        dump(server)
            .args([
                "-c",
                &name,
                "--jobs",
                "2",
                "--max-rows-per-second",
                "1000",
                "-o",
            ])
            .arg(&stream)
            .arg("--report")
            .arg(&report),
    );
    let held = |report: &std::path::Path, rate_key: &str| {
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
        assert_eq!(
            summary["throttle"]["max_rows_per_second"], 1000,
            "{summary}"
        );
        assert!(
            summary["throttle"]["waited_seconds"].as_f64().unwrap() > 0.0,
            "{summary}"
        );
        // One second of credit at most: 3,000 rows take two seconds or more.
        let rate = summary[rate_key].as_f64().unwrap();
        assert!(rate <= 1500.0, "{rate_key} {rate}: {summary}");
    };
    held(&report, "rows_per_sec");
    let copy = format!("{name}_copy");
    run_ok(
        load(server)
            .args(["-c", &copy, "--concurrency", "2", "--batch-bytes", "4KiB"])
            .args(["--max-rows-per-second", "1000", "--report"])
            .arg(&report)
            .arg(&stream),
    );
    held(&report, "rows_per_s");
    compare_copy((server, &name), (server, &copy));
}
