//! One input layer: every kind of input behaves the same from a path, from
//! stdin and from an object-store URL; and whatever milvus-dump writes —
//! every format and compression, as a stream or a set, in a directory, at a
//! `file://` URL or in `s3://` — backup-verify passes and milvus-load
//! restores exactly.

use pipes_cli::Exit;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::ValueEnum as _;
use milvus_dump::sink::Format;
use test_harness::{
    compare_copy, describe, py_inline, run, run_ok, run_refused, s3_keys, s3_prefix, seed,
    unique_name, with_s3, workspace_bin, Server,
};

use super::{count, dump, load};

fn verify() -> Command {
    let mut cmd = Command::new(workspace_bin("backup-verify"));
    cmd.arg("-q");
    cmd
}

/// Uploads `file` to `url` with s3-put.
fn put(file: &Path, url: &str) {
    let mut cmd = Command::new(workspace_bin("s3-put"));
    let out = with_s3(&mut cmd)
        .arg(url)
        .stdin(std::fs::File::open(file).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&cmd, &out));
}

/// How an input reaches the tools.
#[derive(Clone, Copy, Debug)]
enum Via {
    Path,
    Stdin,
    Url,
}

/// Runs `cmd` on `input` the `via` way (`url` is where it was uploaded).
fn on_input(cmd: &mut Command, via: Via, file: &Path, url: &str) -> std::process::Output {
    match via {
        Via::Path => run(cmd.arg(file)),
        Via::Stdin => cmd
            .arg("-")
            .stdin(std::fs::File::open(file).unwrap())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap(),
        Via::Url => run(with_s3(cmd).arg(url)),
    }
}

/// An input file and whether it carries the collection's header.
struct Kind {
    name: &'static str,
    file: PathBuf,
    headered: bool,
}

fn zstd_file(from: &Path, to: &Path) {
    run_ok(
        Command::new("zstd")
            .args(["-q", "-f", "-o"])
            .arg(to)
            .arg(from),
    );
}

#[test]
fn every_input_kind_loads_the_same_from_a_path_stdin_and_a_url() {
    let server = Server::Lite25;
    let name = unique_name("kinds");
    seed(
        server,
        "types",
        &name,
        &["--rows", "25", "--bulk-compatible"],
    );
    let dir = tempfile::tempdir().unwrap();
    let at = |file: &str| dir.path().join(file);

    // What milvus-dump writes, and older sets hold.
    run_ok(
        dump(server)
            .args(["-c", &name, "-o"])
            .arg(at("stream.jsonl")),
    );
    run_ok(
        dump(server)
            .args(["-c", &name, "--zstd", "-o"])
            .arg(at("stream.jsonl.zst")),
    );
    run_ok(
        dump(server)
            .args(["-c", &name, "--format", "parquet", "-o"])
            .arg(at("stream.parquet")),
    );
    run_ok(
        dump(server)
            .args(["-c", &name, "--format", "parquet", "--zstd=5", "-o"])
            .arg(at("inner-zstd.parquet")),
    );
    zstd_file(&at("stream.parquet"), &at("old-set-part.parquet.zst"));
    // An ingestion pipeline's rows: the stream without header and trailer.
    let text = std::fs::read_to_string(at("stream.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(
        at("headerless.jsonl"),
        lines[1..lines.len() - 1].join("\n") + "\n",
    )
    .unwrap();
    // What pymilvus's LocalBulkWriter writes: JSON documents (pretty-printed;
    // compact too) and Parquet.
    let bulk = |format: &str| -> PathBuf {
        let out = run_ok(
            test_harness::py("seed.py")
                .args(["bulk-files", "--bulk-compatible", "--uri", &server.uri()])
                .args([
                    "--server",
                    server.seed_name(),
                    "--name",
                    &name,
                    "--rows",
                    "25",
                ])
                .args(["--format", format, "--out"])
                .arg(at(&format!("bulk-{format}"))),
        );
        let files = String::from_utf8(out.stdout).unwrap();
        let files: Vec<&str> = files.lines().collect();
        assert_eq!(files.len(), 1, "{files:?}");
        PathBuf::from(files[0])
    };
    let bulk_json = bulk("json");
    assert!(
        std::fs::read_to_string(&bulk_json)
            .unwrap()
            .starts_with("{\n"),
        "BulkWriter pretty-prints its JSON"
    );
    run_ok(
        py_inline(
            "import json, sys; json.dump(json.load(open(sys.argv[1])), open(sys.argv[2], 'w'), separators=(',', ':'))",
        )
        .arg(&bulk_json)
        .arg(at("bulk-compact.json")),
    );
    let kinds = [
        Kind {
            name: "headered JSONL",
            file: at("stream.jsonl"),
            headered: true,
        },
        Kind {
            name: "zstd JSONL",
            file: at("stream.jsonl.zst"),
            headered: true,
        },
        Kind {
            name: "Parquet",
            file: at("stream.parquet"),
            headered: true,
        },
        Kind {
            name: "Parquet, zstd inside",
            file: at("inner-zstd.parquet"),
            headered: true,
        },
        Kind {
            name: "zstd-wrapped Parquet (older sets)",
            file: at("old-set-part.parquet.zst"),
            headered: true,
        },
        Kind {
            name: "headerless JSONL",
            file: at("headerless.jsonl"),
            headered: false,
        },
        Kind {
            name: "BulkWriter JSON, pretty-printed",
            file: bulk_json,
            headered: false,
        },
        Kind {
            name: "BulkWriter JSON, compact",
            file: at("bulk-compact.json"),
            headered: false,
        },
        Kind {
            name: "BulkWriter Parquet",
            file: bulk("parquet"),
            headered: false,
        },
    ];

    let prefix = s3_prefix("input-kinds");
    for (k, kind) in kinds.iter().enumerate() {
        let url = format!("{prefix}kind-{k}");
        put(&kind.file, &url);
        for via in [Via::Path, Via::Stdin, Via::Url] {
            let what = format!("{} via {via:?}", kind.name);
            let copy = format!("{name}_{k}_{via:?}").to_lowercase();
            let mut cmd = load(server);
            cmd.args(["-c", &copy]);
            if !kind.headered {
                // Rows without a schema go into a collection that has one.
                seed(server, "empty-types", &copy, &["--bulk-compatible"]);
                cmd.args(["--if-exists", "append"]);
            }
            let out = on_input(&mut cmd, via, &kind.file, &url);
            assert!(out.status.success(), "{what}: {}", describe(&cmd, &out));
            compare_copy((server, &name), (server, &copy));

            // backup-verify proves what carries a header, and refuses
            // (incomplete: nothing to check against) what does not.
            let mut check = verify();
            let out = on_input(&mut check, via, &kind.file, &url);
            let expected = if kind.headered {
                Exit::Ok
            } else {
                Exit::Incomplete
            };
            assert_eq!(
                out.status.code(),
                Some(expected.code().into()),
                "{what}: {}",
                describe(&check, &out)
            );
        }
    }
}

/// Where a dump's output is written and read back.
#[derive(Clone, Copy, Debug)]
enum Place {
    Path,
    FileUrl,
    S3,
}

#[test]
fn whatever_backup_verify_passes_milvus_load_restores() {
    let server = Server::Lite25;
    let name = unique_name("restorable");
    seed(server, "types", &name, &["--rows", "30"]);
    let dir = tempfile::tempdir().unwrap();
    let prefix = s3_prefix("restorable");
    let mut case = 0;
    // The writer's own options: every format it offers, with and without
    // compression, as a stream and as a set, wherever it can be written.
    for format in Format::value_variants() {
        let format = format.to_possible_value().unwrap().get_name().to_string();
        for zstd in [None, Some("--zstd")] {
            for set in [false, true] {
                for place in [Place::Path, Place::FileUrl, Place::S3] {
                    case += 1;
                    let what = format!("{format} zstd={zstd:?} set={set} {place:?}");
                    let local = dir.path().join(format!("case-{case}"));
                    let location = match place {
                        Place::Path => local.display().to_string(),
                        Place::FileUrl => format!("file://{}", local.display()),
                        Place::S3 if set => format!("{prefix}case-{case}/"),
                        Place::S3 => format!("{prefix}case-{case}"),
                    };
                    let mut cmd = dump(server);
                    cmd.args(["-c", &name, "--format", &format]).args(zstd);
                    if set {
                        cmd.args(["--part-rows", "12", "--out-dir", &location]);
                    } else {
                        cmd.args(["-o", &location]);
                    }
                    run_ok(with_s3(&mut cmd));
                    let mut check = verify();
                    let out = run(with_s3(&mut check).arg(&location));
                    assert!(out.status.success(), "{what}: {}", describe(&check, &out));
                    let copy = format!("{name}_c{case}");
                    let mut restore = load(server);
                    let out = run(with_s3(&mut restore).args(["-c", &copy]).arg(&location));
                    assert!(out.status.success(), "{what}: {}", describe(&restore, &out));
                    compare_copy((server, &name), (server, &copy));
                }
            }
        }
    }
    assert_eq!(case, Format::value_variants().len() * 12);
}

/// A set in object storage with one byte flipped in its middle part: each
/// part is proven as it arrives, and no row of a bad part is ever inserted.
#[test]
fn a_corrupt_part_in_s3_is_never_inserted() {
    let server = Server::Lite3;
    let name = unique_name("s3corrupt");
    seed(server, "bench", &name, &["--rows", "30", "--dim", "4"]);
    let set = s3_prefix("corrupt-part");
    run_ok(with_s3(&mut dump(server)).args([
        "-c",
        &name,
        "--format",
        "parquet",
        "--part-rows",
        "10",
        "--out-dir",
        &set,
    ]));
    let part_url = format!("{set}{name}/part-00001.parquet");
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("part");
    run_ok(
        with_s3(&mut Command::new(workspace_bin("s3-get")))
            .args(["-q", &part_url, "-o"])
            .arg(&part),
    );
    let mut bytes = std::fs::read(&part).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&part, bytes).unwrap();
    let mut put = Command::new(workspace_bin("s3-put"));
    let out = with_s3(&mut put)
        .args(["-q", "--no-sidecar", &part_url])
        .stdin(std::fs::File::open(&part).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&put, &out));

    let refused = |args: &[&str], said: &str| {
        let mut cmd = load(server);
        let out = run(with_s3(&mut cmd).args(args).arg(&set));
        assert_eq!(
            out.status.code(),
            Some(Exit::Corrupt.code().into()),
            "{}",
            describe(&cmd, &out)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("part-00001") && stderr.contains(said),
            "{stderr}"
        );
    };
    // Part 0 is inserted before part 1 is found bad: the new collection goes again.
    let copy = format!("{name}_copy");
    refused(&["-c", &copy], "dropped again");
    assert_eq!(count(server, &copy), "missing");
    // --verify-first: found before anything is created.
    refused(&["-c", &copy, "--verify-first"], "the set is corrupt");
    assert_eq!(count(server, &copy), "missing");
    // Into an existing collection the whole set is proven first: untouched.
    refused(
        &["-c", &name, "--if-exists", "append"],
        "the set is corrupt",
    );
    assert_eq!(count(server, &name), "30");
}

/// A location with nothing there (a mistyped path or URL) is "not found",
/// exit 3, as the scripts document; nothing is created. A prefix that holds
/// files but no manifest stays "incomplete" (a dump that did not finish).
#[test]
fn a_location_with_nothing_there_is_not_found() {
    let server = Server::Lite3;
    let copy = unique_name("nothing_there");
    let empty_prefix = s3_prefix("nothing-there");
    for location in ["/nonexistent/backup.jsonl", &empty_prefix] {
        let mut cmd = load(server);
        run_refused(
            with_s3(&mut cmd).args(["-c", &copy, location]),
            Exit::NotFound,
            location,
        );
    }
    assert_eq!(count(server, &copy), "missing");
}

#[test]
fn a_dump_to_s3_killed_mid_set_resumes_from_the_store() {
    let server = Server::Lite25;
    let name = unique_name("killed");
    seed(server, "bench", &name, &["--rows", "6000", "--dim", "8"]);
    let set = s3_prefix("killed-mid-set");
    // Small pages: the dump takes a few seconds, long enough to be killed.
    let dump_to_set = |resume: bool| {
        let mut cmd = dump(server);
        cmd.args(["-c", &name, "--format", "parquet", "--part-rows", "500"])
            .args(["--page-rows", "5", "--jobs", "1", "--out-dir", &set]);
        if resume {
            cmd.arg("--resume");
        }
        with_s3(&mut cmd);
        cmd
    };
    let mut child = dump_to_set(false)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed once some parts are complete (their records are in the store).
    let record = format!("{name}/part-00002.parquet.json");
    let mut listing = Command::new(workspace_bin("s3-ls"));
    with_s3(&mut listing).args(["--recursive", &set]);
    for _ in 0..2000 {
        let listed = run(&mut listing);
        if String::from_utf8_lossy(&listed.stdout).contains(&record)
            || child.try_wait().unwrap().is_some()
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let keys = s3_keys(&set);
    assert!(keys.contains(&record), "{keys:?}");
    assert!(
        !keys.contains(&"manifest.json".to_string()),
        "killed before the end: {keys:?}"
    );

    // Without --resume the interrupted set is refused; with it, completed.
    let out = run(&mut dump_to_set(false));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));
    run_ok(&mut dump_to_set(true));

    // Only the manifest and the parts are left: no progress record, no stray part.
    let keys = s3_keys(&set);
    let parts: Vec<&String> = keys.iter().filter(|k| k.ends_with(".parquet")).collect();
    assert_eq!(parts.len(), 12, "{keys:?}");
    assert_eq!(keys.len(), parts.len() + 1, "{keys:?}");
    run_ok(with_s3(&mut verify()).arg(&set));
    // No row lost or duplicated.
    let copy = format!("{name}_copy");
    run_ok(with_s3(&mut load(server)).args(["-c", &copy, &set]));
    compare_copy((server, &name), (server, &copy));
}

#[test]
fn backup_sh_and_restore_sh_go_through_s3_without_local_disk() {
    let server = Server::Lite25;
    let name = unique_name("nodisk");
    // About 10 MB of rows in one part; the scripts and the tools they run
    // may write no file over 4 MiB (ulimit -f counts KiB): a part staged on
    // local disk would kill them (SIGXFSZ).
    seed(server, "bench", &name, &["--rows", "3000", "--dim", "768"]);
    let backups = s3_prefix("no-local-disk");
    let script = |script: &str| {
        let mut cmd = Command::new("bash");
        cmd.args(["-c", "ulimit -f 4096; exec \"$@\"", "limited"])
            .arg(test_harness::root().join("scripts").join(script))
            .env("MP_BIN_DIR", workspace_bin("milvus-dump").parent().unwrap())
            .env("MILVUS_URI", server.uri())
            .env("BACKUP_URL", backups.trim_end_matches('/'))
            .env_remove("METRICS_DIR");
        with_s3(&mut cmd);
        cmd
    };
    let out = run_ok(
        script("backup.sh")
            .env("COLLECTIONS", &name)
            .env("BACKUP_FORMAT", "parquet"),
    );
    let set = String::from_utf8(out.stdout).unwrap();
    assert!(set.starts_with(&backups), "{set}");
    let copy = format!("{name}_copy");
    let out = run_ok(
        script("restore.sh")
            .env("COLLECTION", &name)
            .env("TARGET_COLLECTION", &copy),
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), copy);
    compare_copy((server, &name), (server, &copy));
}
