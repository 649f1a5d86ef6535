//! milvus-dump against real servers (started by scripts/test.sh).
#![allow(clippy::unwrap_used)]

use pipes_cli::Exit;
use std::path::Path;
use std::process::{Command, Stdio};

mod pinned;
mod tls;

use test_harness::process::wait_until;
use test_harness::{compare, describe, run, run_ok, seed, unique_name, Server};

/// Runs `serve` on a listener bound to a free loopback port, on its own
/// thread and single-threaded runtime (the scripted responder, the TLS
/// proxy); returns the port's address.
fn serve_on_loopback<F, Fut>(serve: F) -> std::net::SocketAddr
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            serve(tokio::net::TcpListener::from_std(listener).unwrap()).await
        });
    });
    address
}

fn dump(server: Server) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_milvus-dump"));
    cmd.args(["--uri", &server.uri(), "-q"]);
    cmd
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn every_type_round_trips(server: Server) {
    let name = unique_name("types");
    // Rows spread over explicit partitions where the server has them: the
    // stream labels each row with its partition (compare.py checks).
    let mut args = vec!["--rows", "120"];
    if server != Server::Lite25 {
        args.extend(["--partitions", "p1", "p2"]);
    }
    seed(server, "types", &name, &args);
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let parquet = dir.path().join("out.parquet");
    run_ok(dump(server).args(["-c", &name, "-o"]).arg(&jsonl));
    run_ok(
        dump(server)
            .args(["-c", &name, "--format", "parquet", "-o"])
            .arg(&parquet),
    );
    compare(server, &name, "--jsonl", &jsonl);
    compare(server, &name, "--parquet", &parquet);
    let all = lines(&jsonl);
    let header = &all[0]["$milvus_dump"];
    assert_eq!(header["collection"]["name"], name.as_str());
    assert_eq!(header["snapshot"]["pinned"], false);
    assert!(
        !header["collection"]["indexes"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{header}"
    );
    assert_eq!(all.last().unwrap()["$milvus_dump_end"]["rows"], 120);
}

#[test]
fn every_type_round_trips_on_lite25() {
    every_type_round_trips(Server::Lite25);
}

#[test]
fn every_type_round_trips_on_lite3() {
    every_type_round_trips(Server::Lite3);
}

#[test]
fn every_type_round_trips_on_milvus235() {
    every_type_round_trips(Server::Milvus235);
}

#[test]
fn pages_past_the_query_window_by_primary_key() {
    let server = Server::Lite25;
    let name = unique_name("window");
    seed(server, "bench", &name, &["--rows", "20000", "--dim", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let report = dir.path().join("report.json");
    run_ok(
        dump(server)
            .args(["-c", &name, "-o"])
            .arg(&out)
            .arg("--report")
            .arg(&report),
    );
    let all = lines(&out);
    let ids: Vec<i64> = all[1..all.len() - 1]
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (0..20000).collect::<Vec<_>>());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(summary["rows"], 20000);
    assert_eq!(summary["bytes"], std::fs::metadata(&out).unwrap().len());
    assert!(
        summary["collections"][0]["pages"].as_u64().unwrap() >= 2,
        "{summary}"
    );
}

#[test]
fn parallel_ranges_give_the_same_rows_as_one_stream() {
    for server in [Server::Lite25, Server::Lite3] {
        let name = unique_name("jobs");
        seed(server, "types", &name, &["--rows", "300"]);
        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("one.jsonl");
        let four = dir.path().join("four.jsonl");
        run_ok(dump(server).args(["-c", &name, "-o"]).arg(&one));
        run_ok(
            dump(server)
                .args(["-c", &name, "--jobs", "4", "--page-rows", "16", "-o"])
                .arg(&four),
        );
        let rows = |p: &Path| {
            let all = lines(p);
            all[1..all.len() - 1].to_vec()
        };
        assert_eq!(rows(&one), rows(&four));
        compare(server, &name, "--jsonl", &four);
    }
    // VARCHAR keys split by sampled boundaries too.
    let server = Server::Lite25;
    let name = unique_name("jobsv");
    seed(server, "varchar-pk", &name, &["--rows", "200"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.jsonl");
    run_ok(
        dump(server)
            .args(["-c", &name, "--jobs", "3", "--format", "jsonl", "-o"])
            .arg(&out),
    );
    compare(server, &name, "--jsonl", &out);
}

#[test]
fn dense_and_sparse_int_keys_split_the_same_as_one_stream() {
    // Ids 0..300: every key (arithmetic ranges, a key per row), keys with a
    // gap (arithmetic, two keys per row), and keys too sparse for arithmetic
    // (the pk scan). Each parallel dump equals the single-stream one.
    for server in [Server::Lite25, Server::Milvus235] {
        let name = unique_name("dense");
        seed(server, "bench", &name, &["--rows", "300", "--dim", "8"]);
        let dir = tempfile::tempdir().unwrap();
        for filter in ["", "id < 50 or id >= 120", "id < 20 or id >= 280"] {
            let dump_rows = |jobs: &str| {
                let out = dir.path().join(format!("jobs{jobs}.jsonl"));
                run_ok(
                    dump(server)
                        .args(["-c", &name, "--filter", filter, "--jobs", jobs])
                        .args(["--page-rows", "16", "--overwrite", "-o"])
                        .arg(&out),
                );
                let all = lines(&out);
                all[1..all.len() - 1].to_vec()
            };
            let one = dump_rows("1");
            let expected = match filter {
                "" => 300,
                "id < 50 or id >= 120" => 230,
                _ => 40,
            };
            assert_eq!(one.len(), expected, "{server:?} {filter:?}");
            assert_eq!(dump_rows("4"), one, "{server:?} {filter:?}");
        }
    }
}

#[test]
fn varchar_keys_with_awkward_characters_page_correctly() {
    let server = Server::Lite25;
    let name = unique_name("vpk");
    seed(server, "varchar-pk", &name, &["--rows", "50"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    // Tiny pages: every awkward key becomes a cursor.
    run_ok(
        dump(server)
            .args(["-c", &name, "--page-rows", "3", "-o"])
            .arg(&out),
    );
    compare(server, &name, "--jsonl", &out);
    let all = lines(&out);
    let keys: Vec<&str> = all[1..all.len() - 1]
        .iter()
        .map(|r| r["pk"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 56);
    for awkward in ["quo\"te", "back\\slash", "ünï", "new\nline", "", " space"] {
        assert!(keys.contains(&awkward), "{awkward:?} missing");
    }
}

#[test]
fn backup_set_has_checksummed_parts_and_a_manifest() {
    let server = Server::Lite25;
    let name = unique_name("set");
    seed(server, "types", &name, &["--rows", "100"]);
    for format in ["jsonl", "parquet"] {
        let dir = tempfile::tempdir().unwrap();
        let set = dir.path().join("set");
        run_ok(
            dump(server)
                .args([
                    "-c",
                    &name,
                    "--format",
                    format,
                    "--part-rows",
                    "30",
                    "--out-dir",
                ])
                .arg(&set),
        );
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(set.join("manifest.json")).unwrap())
                .unwrap();
        let entry = &manifest["collections"][0];
        let parts = entry["parts"].as_array().unwrap();
        assert_eq!(parts.len(), 4, "{manifest}");
        assert_eq!(entry["rows"], 100);
        let mut last_pk = i64::MIN;
        for part in parts {
            let path = set.join(part["path"].as_str().unwrap());
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(part["bytes"], bytes.len() as u64);
            let sha = run_ok(Command::new("sha256sum").arg(&path));
            assert!(
                String::from_utf8_lossy(&sha.stdout).starts_with(part["sha256"].as_str().unwrap())
            );
            let (first, last) = (
                part["first_pk"].as_i64().unwrap(),
                part["last_pk"].as_i64().unwrap(),
            );
            assert!(last_pk < first && first <= last, "{part}");
            last_pk = last;
        }
        let leftovers: Vec<_> = std::fs::read_dir(set.join(&name))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
        compare(server, &name, "--set", &set);
    }
}

#[test]
fn zstd_stream_decompresses_to_the_same_rows() {
    let server = Server::Lite25;
    let name = unique_name("zstd");
    seed(server, "types", &name, &["--rows", "40"]);
    let dir = tempfile::tempdir().unwrap();
    let zst = dir.path().join("out.jsonl.zst");
    run_ok(dump(server).args(["-c", &name, "--zstd", "-o"]).arg(&zst));
    let plain = dir.path().join("out.jsonl");
    run_ok(
        Command::new("zstd")
            .args(["-q", "-d", "-o"])
            .arg(&plain)
            .arg(&zst),
    );
    compare(server, &name, "--jsonl", &plain);
}

#[test]
fn schema_only_prints_the_header() {
    let server = Server::Lite3;
    let name = unique_name("schema");
    seed(server, "types", &name, &["--rows", "5"]);
    let out = run_ok(dump(server).args(["-c", &name, "--schema-only"]));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fields = line["$milvus_dump"]["collection"]["fields"]
        .as_array()
        .unwrap();
    let field = |n: &str| fields.iter().find(|f| f["name"] == n).unwrap().clone();
    assert_eq!(field("id")["is_primary_key"], true);
    assert_eq!(field("v_float")["type_params"]["dim"], "8");
    assert_eq!(field("n_int32")["nullable"], true);
    assert_eq!(field("d_int64")["default_value"]["long_data"], 42);
    assert_eq!(field("a_varchar")["element_type"], "VarChar");
}

#[test]
fn fields_and_filter_select_part_of_a_collection() {
    let server = Server::Lite25;
    let name = unique_name("part");
    seed(server, "types", &name, &["--rows", "60"]);
    let out = run_ok(dump(server).args([
        "-c",
        &name,
        "--fields",
        "f_int32,f_varchar",
        "--filter",
        "f_bool == true",
    ]));
    let rows: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let data = &rows[1..rows.len() - 1];
    assert_eq!(data.len(), 20); // i % 3 == 0 for i in 0..60
    for row in data {
        let mut keys: Vec<&String> = row.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["f_int32", "f_varchar", "id"], "{row}");
    }
}

#[test]
fn errors_are_clear_and_leave_no_complete_looking_output() {
    let server = Server::Lite25;
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out.jsonl");
    let mut cmd = dump(server);
    cmd.args(["-c", "no_such_collection", "-o"]).arg(&out_file);
    let out = run(&mut cmd);
    assert_eq!(
        out.status.code(),
        Some(Exit::NotFound.code().into()),
        "{}",
        describe(&cmd, &out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"no_such_collection\" not found"),
        "{}",
        describe(&cmd, &out)
    );
    assert!(!out_file.exists());

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_milvus-dump"));
    cmd.args(["--uri", "http://127.0.0.1:9", "-c", "x"]);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(Exit::Unreachable.code().into()));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot connect to Milvus at http://127.0.0.1:9"),
        "{}",
        describe(&cmd, &out)
    );
}

#[test]
fn a_closed_stdout_ends_quietly_with_status_141() {
    let server = Server::Lite25;
    let name = unique_name("pipe");
    seed(server, "bench", &name, &["--rows", "5000", "--dim", "4"]);
    let mut child = dump(server)
        .args(["-c", &name, "--page-rows", "100"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then close the pipe like `| head -n 1`.
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 64];
    std::io::Read::read(&mut stdout, &mut buf).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(141),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn writes_during_a_dump_are_detected_and_strict_snapshot_exits_3() {
    let server = Server::Lite25;
    let name = unique_name("concurrent");
    seed(server, "bench", &name, &["--rows", "20000", "--dim", "4"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_milvus-dump"))
        .args([
            "--uri",
            &server.uri(),
            "-c",
            &name,
            "--page-rows",
            "200",
            "--strict-snapshot",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The header line means the "before" count is taken. Then stop reading:
    // the dump blocks on the full pipe, mid-collection, while rows are added.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut header = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut header).unwrap();
    assert!(header.contains("\"pinned\":false"), "{header}");
    seed(
        server,
        "append",
        &name,
        &["--start", "100000", "--rows", "5", "--dim", "4"],
    );
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut stdout, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(Exit::Changed.code().into()),
        "stderr: {stderr}"
    );
    assert!(
        stderr.contains("rows changed during the dump (count 20000 before, 20005 after"),
        "{stderr}"
    );
    // The output is still complete: a trailer with the rows actually written.
    let last = String::from_utf8(rest)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();
    assert!(last.starts_with("{\"$milvus_dump_end\""), "{last}");
}

#[test]
fn all_dumps_every_collection_of_a_database_into_one_set() {
    let server = Server::Lite3;
    let db = unique_name("db");
    seed(server, "types", "first", &["--rows", "30", "--db", &db]);
    seed(
        server,
        "varchar-pk",
        "second",
        &["--rows", "20", "--db", &db],
    );
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set");
    run_ok(
        dump(server)
            .args(["--db", &db, "--all", "--out-dir"])
            .arg(&set),
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(set.join("manifest.json")).unwrap()).unwrap();
    let names: Vec<&str> = manifest["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["header"]["collection"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["first", "second"]);
    assert_eq!(
        manifest["collections"][0]["header"]["database"],
        db.as_str()
    );
    for name in names {
        run_ok(
            test_harness::py("compare.py")
                .args(["--uri", &server.uri(), "--db", &db, "--name", name, "--set"])
                .arg(&set),
        );
    }
}

#[test]
fn a_collection_that_is_not_loaded_is_loaded_for_the_dump_and_released_after() {
    let server = Server::Milvus235;
    let name = unique_name("unloaded");
    seed(server, "types", &name, &["--rows", "50"]);
    seed(server, "release", &name, &[]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_milvus-dump"));
    cmd.args(["--uri", &server.uri(), "-c", &name, "-o"])
        .arg(&out);
    let output = run_ok(&mut cmd);
    assert!(String::from_utf8_lossy(&output.stderr).contains("not loaded; loading it for the dump"));
    let state = run_ok(test_harness::py("seed.py").args([
        "load-state",
        "--uri",
        &server.uri(),
        "--name",
        &name,
    ]));
    assert_eq!(String::from_utf8_lossy(&state.stdout).trim(), "NotLoad");
    let all = lines(&out);
    assert_eq!(all.last().unwrap()["$milvus_dump_end"]["rows"], 50);
    assert_eq!(all.len(), 52);
}

#[test]
fn a_full_disk_is_an_error_not_a_complete_looking_stream() {
    let server = Server::Lite25;
    let name = unique_name("full");
    seed(server, "bench", &name, &["--rows", "3000", "--dim", "8"]);
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_milvus-dump"));
    cmd.args(["--uri", &server.uri(), "-q", "-c", &name])
        .stdout(full)
        .stderr(Stdio::piped());
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(Exit::Failure.code().into()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("No space left on device"), "{stderr}");
}

#[test]
fn list_shows_collections_with_row_counts() {
    let server = Server::Lite3;
    let name = unique_name("list");
    seed(server, "types", &name, &["--rows", "7"]);
    let out = run_ok(dump(server).arg("--list"));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().any(|l| l == format!("{name}\t7")), "{text}");
}

#[test]
fn resume_continues_a_killed_backup_set_without_losing_or_duplicating_rows() {
    let server = Server::Lite25;
    let name = unique_name("resume");
    seed(server, "bench", &name, &["--rows", "20000", "--dim", "4"]);
    for jobs in ["1", "3"] {
        let dir = tempfile::tempdir().unwrap();
        let set = dir.path().join("set");
        let args = [
            "-c",
            &name,
            "--format",
            "parquet",
            "--part-rows",
            "500",
            "--page-rows",
            "20",
            "--jobs",
            jobs,
        ];
        let mut child = dump(server)
            .args(args)
            .arg("--out-dir")
            .arg(&set)
            .spawn()
            .unwrap();
        // Kill it (SIGKILL: no clean-up) once a few parts are complete.
        let records = |set: &Path| {
            std::fs::read_dir(set.join(&name))
                .map(|d| {
                    d.filter(|e| {
                        e.as_ref()
                            .unwrap()
                            .file_name()
                            .to_string_lossy()
                            .ends_with(".parquet.json")
                    })
                    .count()
                })
                .unwrap_or(0)
        };
        assert!(
            wait_until(&mut child, || records(&set) >= 3),
            "the dump finished before it could be killed"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!set.join("manifest.json").exists());
        let done_before = records(&set);

        // Without --resume the directory is refused, not overwritten.
        let mut again = dump(server);
        again.args(args).arg("--out-dir").arg(&set);
        let out = run(&mut again);
        assert_eq!(out.status.code(), Some(Exit::Refused.code().into()));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("add --resume"),
            "{}",
            describe(&again, &out)
        );

        let out = run_ok(
            dump(server)
                .args(args)
                .arg("--out-dir")
                .arg(&set)
                .arg("--resume")
                .arg("--report")
                .arg(dir.path().join("r.json")),
        );
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap())
                .unwrap();
        let resumed = summary["collections"][0]["resumed_rows"].as_u64().unwrap();
        assert!(resumed >= done_before as u64 * 500, "{summary}");
        assert_eq!(
            summary["collections"][0]["concurrent_writes"], false,
            "{summary}"
        );
        drop(out);
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(set.join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(manifest["collections"][0]["rows"], 20000);
        assert_eq!(
            manifest["collections"][0]["header"]["snapshot"]["pinned"],
            false
        );
        // Progress files are gone once the manifest is written.
        let names: Vec<String> = std::fs::read_dir(set.join(&name))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("part-") && n.ends_with(".parquet")),
            "{names:?}"
        );
        assert_eq!(names.len(), 40);
        compare(server, &name, "--set", &set);
    }
}

/// A set of a collection with explicit partitions is read one partition
/// after another, each part holding one partition's rows (named in the
/// manifest, no `$partition` column); a dump killed inside the second
/// partition resumes there.
#[test]
fn partitions_get_parts_of_their_own_and_a_killed_dump_resumes_inside_one() {
    let server = Server::Lite3;
    let name = unique_name("parted_set");
    seed(
        server,
        "types",
        &name,
        &["--rows", "1500", "--partitions", "p1", "p2"],
    );
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set");
    let args = [
        "-c",
        &name,
        "--format",
        "parquet",
        "--part-rows",
        "100",
        "--page-rows",
        "20",
        "--jobs",
        "1",
    ];
    let mut child = dump(server)
        .args(args)
        .args(["--max-rows-per-second", "500"])
        .arg("--out-dir")
        .arg(&set)
        .spawn()
        .unwrap();
    let record = set.join(&name).join("part-00006.parquet.json");
    assert!(
        wait_until(&mut child, || record.exists()),
        "the dump finished before it could be killed"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let out = run_ok(
        dump(server)
            .args(args)
            .arg("--out-dir")
            .arg(&set)
            .arg("--resume"),
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("resuming after"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(set.join("manifest.json")).unwrap()).unwrap();
    let parts = manifest["collections"][0]["parts"].as_array().unwrap();
    let partitions: Vec<&str> = parts
        .iter()
        .map(|p| {
            p["partition"]
                .as_str()
                .expect("each part names its partition")
        })
        .collect();
    // 500 rows per partition, in 100-row parts, partition after partition.
    let expected: Vec<&str> = ["_default", "p1", "p2"]
        .iter()
        .flat_map(|p| [*p; 5])
        .collect();
    assert_eq!(partitions, expected);
    // compare.py reads each part's partition from the manifest, checks every
    // row is live there, and keys ascending within each partition.
    compare(server, &name, "--set", &set);
}

#[test]
fn flush_only_flushes_and_writes_nothing() {
    let server = Server::Lite3;
    let name = unique_name("flushonly");
    seed(server, "bench", &name, &["--rows", "3", "--dim", "4"]);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_milvus-dump"));
    let out = run_ok(cmd.args(["--uri", &server.uri(), "--flush-only", "-c", &name]));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("flushed {name} (3 rows)")),
        "{stderr}"
    );
    let mut missing = dump(server);
    let out = run(missing.args(["--flush-only", "-c", "no_such_collection_here"]));
    assert!(!out.status.success(), "{}", describe(&missing, &out));
}

/// `-o FILE` never replaces a file it did not write (refused before
/// reading a row); `--overwrite` says it may.
#[test]
fn an_existing_output_file_is_never_replaced_without_overwrite() {
    let server = Server::Lite3;
    let name = unique_name("noclobber");
    seed(server, "bench", &name, &["--rows", "5", "--dim", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("precious.jsonl");
    std::fs::write(&out, "someone else's data\n").unwrap();
    let mut refused = dump(server);
    refused.args(["-c", &name, "-o"]).arg(&out);
    let result = run(&mut refused);
    assert!(!result.status.success(), "{}", describe(&refused, &result));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("precious.jsonl") && stderr.contains("--overwrite"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "someone else's data\n"
    );
    run_ok(
        dump(server)
            .args(["-c", &name, "--overwrite", "-o"])
            .arg(&out),
    );
    assert_eq!(lines(&out).len(), 5 + 2, "header, 5 rows, trailer");
}
