//! backup-verify against real servers (started by scripts/test.sh): clean
//! backups pass, every kind of damage is named with its exit code, the live
//! comparison, dated sets, metrics, and sets in object storage.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use sha2::{Digest as _, Sha256};
use test_harness::{describe, run, s3_endpoint, seed, unique_name, workspace_bin, Server};

fn verify() -> Command {
    Command::new(env!("CARGO_BIN_EXE_backup-verify"))
}

fn dump(server: Server) -> Command {
    let mut cmd = Command::new(workspace_bin("milvus-dump"));
    cmd.args(["--uri", &server.uri(), "-q"]);
    cmd
}

/// Runs and checks the exit code; returns stderr.
fn expect_exit(cmd: &mut Command, code: i32) -> String {
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(code), "{}", describe(cmd, &out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_report(cmd: &mut Command) -> (Output, serde_json::Value) {
    let out = run(cmd.arg("--json"));
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", describe(cmd, &out)));
    (out, report)
}

/// One seeded collection (every Lite 3 type, two partitions) dumped as a
/// JSONL set, a Parquet set and a stream, shared by the tests.
struct Fixture {
    name: String,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn jsonl_set(&self) -> PathBuf {
        self.dir.path().join("jsonl-set")
    }
    fn parquet_set(&self) -> PathBuf {
        self.dir.path().join("parquet-set")
    }
    fn stream(&self) -> PathBuf {
        self.dir.path().join("stream.jsonl")
    }
    /// A copy of a set or file to damage.
    fn copy_of(&self, what: &Path, into: &Path) -> PathBuf {
        std::fs::create_dir_all(into).unwrap();
        let target = into.join(what.file_name().unwrap());
        let status = Command::new("cp")
            .arg("-r")
            .arg(what)
            .arg(&target)
            .status()
            .unwrap();
        assert!(status.success());
        target
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let server = Server::Lite3;
        let name = unique_name("bv");
        seed(
            server,
            "types",
            &name,
            &["--rows", "90", "--partitions", "p1", "p2"],
        );
        let fixture = Fixture {
            name,
            dir: tempfile::tempdir().unwrap(),
        };
        let mut dumps: [(Vec<&str>, PathBuf); 3] = [
            (vec!["--part-rows", "30", "--out-dir"], fixture.jsonl_set()),
            (
                vec!["--part-rows", "30", "--format", "parquet", "--out-dir"],
                fixture.parquet_set(),
            ),
            (vec!["-o"], fixture.stream()),
        ];
        for (args, path) in &mut dumps {
            let mut cmd = dump(server);
            let out = run(cmd
                .args(["-c", &fixture.name])
                .args(args.iter())
                .arg(&*path));
            assert!(out.status.success(), "{}", describe(&cmd, &out));
        }
        fixture
    })
}

#[test]
fn clean_backups_pass_and_match_the_live_collection() {
    let f = fixture();
    let uri = Server::Lite3.uri();
    for location in [f.jsonl_set(), f.parquet_set(), f.stream()] {
        let (out, report) = json_report(verify().arg(&location).args([
            "--against",
            &f.name,
            "--uri",
            &uri,
            "--sample",
            "40",
        ]));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(report["ok"], true);
        assert_eq!(report["rows"], 90);
        assert_eq!(report["against"]["live_rows"], 90);
        assert_eq!(report["against"]["sampled"], 40);
        assert_eq!(report["against"]["mismatched"], 0);
    }
    let (_, report) = json_report(verify().arg(f.jsonl_set()).arg("--checksums-only"));
    assert_eq!(report["checked"], "checksums");
    assert_eq!(report["parts"], 3);

    // stdin, compressed.
    let compressed = Command::new("zstd")
        .args(["-q", "-c"])
        .arg(f.stream())
        .output()
        .unwrap();
    let mut child = verify()
        .args(["-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &compressed.stdout).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["kind"], "stream");
    assert_eq!(report["rows"], 90);
}

/// Rewrites a JSONL stream's rows with `edit` and fixes its trailer (count
/// and sha256), so only the edit is wrong.
fn rewrite_stream(path: &Path, edit: impl Fn(&mut Vec<serde_json::Value>)) {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut rows: Vec<serde_json::Value> = lines[1..lines.len() - 1]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    edit(&mut rows);
    let mut body = format!("{}\n", lines[0]);
    for row in &rows {
        body.push_str(&serde_json::to_string(row).unwrap());
        body.push('\n');
    }
    let sha = hex::encode(Sha256::digest(body.as_bytes()));
    let trailer = serde_json::json!({"$milvus_dump_end": {"rows": rows.len(), "sha256": sha}});
    body.push_str(&format!("{trailer}\n"));
    std::fs::write(path, body).unwrap();
}

#[test]
fn damage_is_named_with_its_exit_code() {
    let f = fixture();
    let scratch = tempfile::tempdir().unwrap();
    let part = "part-00001.jsonl";

    // One byte changed in one part: corrupt (10), the part named.
    let set = f.copy_of(&f.jsonl_set(), &scratch.path().join("flip"));
    let path = set.join(&f.name).join(part);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    let stderr = expect_exit(verify().arg(&set), 10);
    assert!(
        stderr.contains(&format!("{}/{part}", f.name)) && stderr.contains("sha256"),
        "{stderr}"
    );

    // A part missing: incomplete (11); a stray file: corrupt.
    let set = f.copy_of(&f.jsonl_set(), &scratch.path().join("missing"));
    std::fs::remove_file(set.join(&f.name).join(part)).unwrap();
    let stderr = expect_exit(verify().arg(&set), 11);
    assert!(
        stderr.contains("listed in the manifest but missing"),
        "{stderr}"
    );
    std::fs::write(set.join("stray.jsonl"), "x").unwrap();
    let stderr = expect_exit(verify().arg(&set), 10);
    assert!(
        stderr.contains("stray.jsonl") && stderr.contains("missing"),
        "{stderr}"
    );

    // No manifest: incomplete.
    let set = f.copy_of(&f.parquet_set(), &scratch.path().join("nomanifest"));
    std::fs::remove_file(set.join("manifest.json")).unwrap();
    let stderr = expect_exit(verify().arg(&set), 11);
    assert!(stderr.contains("no manifest"), "{stderr}");

    // A stream cut short: incomplete, whether mid-row or at a line end.
    let cut = scratch.path().join("cut.jsonl");
    let text = std::fs::read(f.stream()).unwrap();
    std::fs::write(&cut, &text[..text.len() * 2 / 3]).unwrap();
    expect_exit(verify().arg(&cut), 11);
    let lines = String::from_utf8(text.clone()).unwrap();
    let without_trailer: String = lines.lines().take(50).map(|l| format!("{l}\n")).collect();
    std::fs::write(&cut, without_trailer).unwrap();
    let stderr = expect_exit(verify().arg(&cut), 11);
    assert!(stderr.contains("truncated"), "{stderr}");

    // Consistent checksums but a duplicate key, or a row that breaks the
    // schema: corrupt, the line named.
    let dup = scratch.path().join("dup.jsonl");
    std::fs::copy(f.stream(), &dup).unwrap();
    rewrite_stream(&dup, |rows| rows[7]["id"] = rows[6]["id"].clone());
    let stderr = expect_exit(verify().arg(&dup), 10);
    assert!(stderr.contains("duplicate primary key"), "{stderr}");
    let long = scratch.path().join("long.jsonl");
    std::fs::copy(f.stream(), &long).unwrap();
    rewrite_stream(&long, |rows| rows[3]["f_varchar"] = "x".repeat(3000).into());
    let stderr = expect_exit(verify().arg(&long), 10);
    assert!(
        stderr.contains("line 5") && stderr.contains("max_length"),
        "{stderr}"
    );

    // Every problem is reported, not just the first.
    let set = f.copy_of(&f.parquet_set(), &scratch.path().join("several"));
    std::fs::remove_file(set.join(&f.name).join("part-00000.parquet")).unwrap();
    let path = set.join(&f.name).join("part-00002.parquet");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let (out, report) = json_report(verify().arg(&set));
    assert_eq!(out.status.code(), Some(10));
    let kinds: Vec<&str> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["incomplete", "corrupt"], "{report}");
}

#[test]
fn a_live_collection_that_differs_is_a_mismatch() {
    let f = fixture();
    let server = Server::Lite3;
    let copy = unique_name("bv_changed");
    seed(
        server,
        "types",
        &copy,
        &["--rows", "90", "--partitions", "p1", "p2"],
    );
    seed(
        server,
        "delete",
        &copy,
        &["--filter", "id in [-1000, -997]"],
    );
    let stderr = expect_exit(
        verify().arg(f.jsonl_set()).args([
            "--against",
            &copy,
            "--uri",
            &server.uri(),
            "--sample",
            "90",
        ]),
        13,
    );
    assert!(
        stderr.contains("88 rows") && stderr.contains("not in the live collection"),
        "{stderr}"
    );

    // A server that cannot be reached: 14.
    let stderr = expect_exit(
        verify()
            .arg(f.stream())
            .args(["--against", &f.name, "--uri", "http://127.0.0.1:9"]),
        14,
    );
    assert!(stderr.contains("unreachable"), "{stderr}");
}

#[test]
fn dated_sets_are_listed_and_judged_by_age_with_metrics() {
    let f = fixture();
    let root = tempfile::tempdir().unwrap();
    for name in [
        "2026-11-20T020000Z",
        "2026-11-21T020000Z",
        "2026-11-22T020000Z",
    ] {
        f.copy_of(&f.jsonl_set(), root.path());
        std::fs::rename(root.path().join("jsonl-set"), root.path().join(name)).unwrap();
    }
    // A failed day: a part uploaded, no manifest. (An empty directory is no set.)
    let failed = root.path().join("2026-11-23T020000Z");
    std::fs::create_dir_all(failed.join(&f.name)).unwrap();
    std::fs::write(failed.join(&f.name).join("part-00000.jsonl"), "{").unwrap();
    std::fs::create_dir(root.path().join("2026-11-24T020000Z")).unwrap();
    let metrics = root.path().join("verify.prom");
    let set = root.path().join("2026-11-22T020000Z");
    let out = run(verify()
        .arg(&set)
        .arg("--mark-verified")
        .arg("--metrics")
        .arg(&metrics));
    assert!(out.status.success());
    assert!(set.join("verified.json").exists());
    let text = std::fs::read_to_string(&metrics).unwrap();
    for series in [
        "milvus_backup_verify_success{",
        "milvus_backup_verify_last_success_timestamp_seconds{",
        "milvus_backup_verify_rows{",
        "milvus_backup_verify_bytes{",
        "milvus_backup_verify_parts{",
        "milvus_backup_verify_duration_seconds{",
        "kind=\"corrupt\"} 0",
    ] {
        assert!(text.contains(series), "{series} missing:\n{text}");
    }
    let last_success = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("milvus_backup_verify_last_success_timestamp_seconds"))
            .map(|l| l.rsplit(' ').next().unwrap().to_string())
    };
    let before = last_success(&text);

    let list = run(verify().arg("--list").arg(root.path()));
    let listing = String::from_utf8_lossy(&list.stdout);
    let states: Vec<&str> = listing
        .lines()
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    assert_eq!(
        states,
        ["complete", "complete", "verified", "incomplete"],
        "{listing}"
    );

    expect_exit(
        verify()
            .arg(root.path())
            .args(["--max-age", "26h", "--now", "2026-11-23T03:00:00Z"]),
        0,
    );
    let stderr = expect_exit(
        verify()
            .arg(root.path())
            .args(["--max-age", "26h", "--now", "2026-11-24T05:00:00Z"])
            .arg("--metrics")
            .arg(&metrics),
        12,
    );
    assert!(stderr.contains("2026-11-22T020000Z"), "{stderr}");
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        text.contains("milvus_backup_verify_success{") && text.contains("} 0\n"),
        "{text}"
    );
    assert!(text.contains("kind=\"stale\"} 1"), "{text}");
    assert!(
        text.contains("milvus_backup_newest_set_age_seconds{"),
        "{text}"
    );
    // A failure keeps the time of the last success.
    assert_eq!(last_success(&text), before);
}

fn verify_s3() -> Command {
    let mut cmd = verify();
    cmd.env("AWS_ENDPOINT_URL", s3_endpoint());
    cmd
}

fn s3_put(file: &Path, url: &str) {
    let mut cmd = Command::new(workspace_bin("s3-put"));
    cmd.env("AWS_ENDPOINT_URL", s3_endpoint())
        .args(["-q", "--no-sidecar", url])
        .stdin(std::fs::File::open(file).unwrap());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", describe(&cmd, &out));
}

/// Uploads a set's files under `url` (ending in `/`), manifest last.
fn upload_set(set: &Path, url: &str) {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(set).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            for part in std::fs::read_dir(entry.path()).unwrap() {
                let part = part.unwrap();
                files.push(format!(
                    "{}/{}",
                    entry.file_name().to_string_lossy(),
                    part.file_name().to_string_lossy()
                ));
            }
        }
    }
    files.sort();
    files.push("manifest.json".into());
    for rel in files {
        s3_put(&set.join(&rel), &format!("{url}{rel}"));
    }
}

#[test]
fn sets_in_object_storage_verify_like_local_ones() {
    let f = fixture();
    let bucket = format!("it-bv-{}", std::process::id());
    let root = format!("s3://{bucket}/milvus/");
    let good = format!("{root}2026-11-22T020000Z/");
    upload_set(&f.parquet_set(), &good);
    let (out, report) = json_report(verify_s3().arg(&good).args([
        "--mark-verified",
        "--against",
        &f.name,
        "--uri",
        &Server::Lite3.uri(),
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(report["rows"], 90);
    assert_eq!(report["against"]["mismatched"], 0);

    // The same set with one part damaged in the store.
    let bad = format!("{root}2026-11-23T020000Z/");
    let scratch = tempfile::tempdir().unwrap();
    let set = f.copy_of(&f.parquet_set(), scratch.path());
    let part = set.join(&f.name).join("part-00001.parquet");
    let mut bytes = std::fs::read(&part).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&part, bytes).unwrap();
    upload_set(&set, &bad);
    let out = run(verify_s3().arg(&bad));
    assert_eq!(out.status.code(), Some(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}/part-00001.parquet", f.name)),
        "{stderr}"
    );

    // A stream object.
    let stream_url = format!("s3://{bucket}/streams/one.jsonl");
    s3_put(&f.stream(), &stream_url);
    let out = run(verify_s3().arg(&stream_url));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = run(verify_s3().args(["--list", &root]));
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains("2026-11-22T020000Z") && listing.contains("verified"),
        "{listing}"
    );
    assert!(
        listing.contains("2026-11-23T020000Z") && listing.contains("complete"),
        "{listing}"
    );
}

#[test]
fn pick_checks_one_collection_of_a_set() {
    let f = fixture();
    let server = Server::Lite3;
    let other = unique_name("bv_other");
    seed(server, "bench", &other, &["--rows", "20", "--dim", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set");
    let mut cmd = dump(server);
    let out = run(cmd
        .args([
            "-c",
            &f.name,
            "-c",
            &other,
            "--part-rows",
            "10",
            "--out-dir",
        ])
        .arg(&set));
    assert!(out.status.success(), "{}", describe(&cmd, &out));
    let part = set.join(&other).join("part-00001.jsonl");
    let mut bytes = std::fs::read(&part).unwrap();
    bytes[10] ^= 0x20;
    std::fs::write(&part, bytes).unwrap();

    expect_exit(verify().arg(&set), 10);
    let (out, report) = json_report(verify().arg(&set).args(["--pick", &f.name]));
    assert!(out.status.success(), "{report}");
    assert_eq!(report["collections"].as_array().unwrap().len(), 1);
    assert_eq!(report["rows"], 90);
    let stderr = expect_exit(verify().arg(&set).args(["--pick", &other]), 10);
    assert!(
        stderr.contains(&format!("{other}/part-00001.jsonl")),
        "{stderr}"
    );
    expect_exit(
        verify().arg(&set).args(["--pick", "no_such_collection"]),
        11,
    );
}
