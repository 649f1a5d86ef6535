//! milvus-load against real servers (started by scripts/test.sh): the
//! fidelity matrix (milvus-dump | milvus-load, compared through pymilvus)
//! and the safety rules.
#![allow(clippy::unwrap_used)]

use pipes_cli::Exit;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use test_harness::{
    compare_copy, describe, run, run_ok, seed, seed_output, unique_name, workspace_bin, Server,
};

mod auth;
mod import;
mod inputs;
mod shards;
mod signals;

fn load(server: Server) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_milvus-load"));
    cmd.args(["--uri", &server.uri(), "-q"]);
    cmd
}

fn dump(server: Server) -> Command {
    let mut cmd = Command::new(workspace_bin("milvus-dump"));
    cmd.args(["--uri", &server.uri(), "-q"]);
    cmd
}

fn count(server: Server, name: &str) -> String {
    seed_output(server, "count", name)
}

/// `milvus-dump -c NAME | milvus-load -c COPY`, a real pipe.
fn pipe(from: Server, name: &str, to: Server, copy: &str, load_args: &[&str]) {
    let mut producer = dump(from)
        .args(["-c", name])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = load(to)
        .args(["-c", copy])
        .args(load_args)
        .stdin(producer.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(producer.wait().unwrap().success());
    assert!(
        out.status.success(),
        "milvus-load: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Seed arguments: rows spread over explicit partitions where the server has them.
fn with_partitions(server: Server, rows: &'static str) -> Vec<&'static str> {
    let mut args = vec!["--rows", rows];
    if server != Server::Lite25 {
        args.extend(["--partitions", "p1", "p2"]);
    }
    args
}

/// Every type the server has, through JSONL (a pipe) and Parquet (a file),
/// rows back in their partitions.
fn every_type_round_trips(server: Server) {
    let name = unique_name("ltypes");
    seed(server, "types", &name, &with_partitions(server, "60"));
    let via_jsonl = format!("{name}_j");
    pipe(server, &name, server, &via_jsonl, &[]);
    compare_copy((server, &name), (server, &via_jsonl));

    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("t.parquet");
    run_ok(
        dump(server)
            .args(["-c", &name, "--format", "parquet", "-o"])
            .arg(&parquet),
    );
    let via_parquet = format!("{name}_p");
    run_ok(load(server).args(["-c", &via_parquet]).arg(&parquet));
    compare_copy((server, &name), (server, &via_parquet));
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
fn milvus235_dumps_load_into_milvus_lite() {
    let name = unique_name("cross");
    seed(Server::Milvus235, "types", &name, &["--rows", "40"]);
    for target in [Server::Lite25, Server::Lite3] {
        pipe(
            Server::Milvus235,
            &name,
            target,
            &name,
            &["--index-fallback", "AUTOINDEX"],
        );
        compare_copy((Server::Milvus235, &name), (target, &name));
    }
}

fn write_stream(server: Server, name: &str, path: &Path) {
    run_ok(dump(server).args(["-c", name, "-o"]).arg(path));
}

#[test]
fn an_existing_collection_is_never_clobbered_by_surprise() {
    let server = Server::Lite3;
    let name = unique_name("exists");
    seed(server, "bench", &name, &["--rows", "30", "--dim", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("s.jsonl");
    write_stream(server, &name, &stream);

    // Default: refuse, "refused", nothing changed.
    let out = run(load(server).arg(&stream));
    assert_eq!(
        out.status.code(),
        Some(Exit::Refused.code().into()),
        "{}",
        describe(&load(server), &out)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--if-exists"));
    assert_eq!(count(server, &name), "30");

    // Upsert: same keys, same count.
    run_ok(load(server).args(["--if-exists", "upsert"]).arg(&stream));
    assert_eq!(count(server, &name), "30");

    // Replace beside, verify, swap, and flip an alias onto it.
    let alias = format!("{name}_live");
    run_ok(
        load(server)
            .args(["--if-exists", "replace", "--alias", &alias])
            .arg(&stream),
    );
    assert_eq!(count(server, &name), "30");
    assert_eq!(seed_output(server, "alias-target", &alias), name);
}

#[test]
fn truncated_or_corrupt_input_is_refused_before_writing() {
    let server = Server::Lite3;
    let name = unique_name("corrupt");
    seed(server, "bench", &name, &["--rows", "20", "--dim", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("s.jsonl");
    write_stream(server, &name, &stream);
    let text = std::fs::read_to_string(&stream).unwrap();

    // No trailer: the stream was cut short.
    let cut: Vec<&str> = text.lines().collect();
    let truncated = dir.path().join("cut.jsonl");
    std::fs::write(&truncated, cut[..cut.len() - 3].join("\n") + "\n").unwrap();
    let copy = format!("{name}_copy");
    let out = run(load(server).args(["-c", &copy]).arg(&truncated));
    assert_eq!(
        out.status.code(),
        Some(Exit::Incomplete.code().into()),
        "{}",
        describe(&load(server), &out)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("trailer"));
    assert_eq!(count(server, &copy), "missing");

    // One byte changed in a row: the checksum catches it.
    let flipped = dir.path().join("flip.jsonl");
    std::fs::write(&flipped, text.replacen("\"text\":\"", "\"text\":\"X", 1)).unwrap();
    let out = run(load(server).args(["-c", &copy]).arg(&flipped));
    assert_eq!(
        out.status.code(),
        Some(Exit::Corrupt.code().into()),
        "{}",
        describe(&load(server), &out)
    );
    assert_eq!(count(server, &copy), "missing");

    // A backup set with one part altered names the part.
    let set = dir.path().join("set");
    run_ok(
        dump(server)
            .args(["-c", &name, "--part-rows", "7", "--out-dir"])
            .arg(&set),
    );
    let part = set.join(&name).join("part-00001.jsonl");
    let mut bytes = std::fs::read(&part).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&part, bytes).unwrap();
    let out = run(load(server).args(["-c", &copy]).arg(&set));
    assert_eq!(
        out.status.code(),
        Some(Exit::Corrupt.code().into()),
        "{}",
        describe(&load(server), &out)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("part-00001"));
    assert_eq!(count(server, &copy), "missing");
}

#[test]
fn a_backup_set_restores_and_dry_run_writes_nothing() {
    let server = Server::Lite25;
    let name = unique_name("set");
    seed(server, "bench", &name, &["--rows", "50", "--dim", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set");
    run_ok(
        dump(server)
            .args([
                "-c",
                &name,
                "--format",
                "parquet",
                "--part-rows",
                "16",
                "--out-dir",
            ])
            .arg(&set),
    );
    let copy = format!("{name}_copy");
    let out = run_ok(load(server).args(["-c", &copy, "--dry-run"]).arg(&set));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["rows"], 50);
    assert_eq!(count(server, &copy), "missing");
    run_ok(load(server).args(["-c", &copy]).arg(&set));
    compare_copy((server, &name), (server, &copy));
}

#[test]
fn headerless_rows_load_into_an_existing_collection() {
    let server = Server::Lite3;
    let name = unique_name("rows");
    seed(server, "bench", &name, &["--rows", "5", "--dim", "4"]);
    // An ingestion pipeline's rows: no header, no trailer.
    let mut child = load(server)
        .args(["-c", &name, "--if-exists", "append", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for id in 100..110 {
            writeln!(
                stdin,
                r#"{{"id":{id},"embedding":[0.5,-1,2.25,{id}],"text":"row {id}"}}"#
            )
            .unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(server, &name), "15");
}

/// Files in Milvus's bulk-import layouts, written by pymilvus's BulkWriter,
/// load into an existing collection and equal the same rows inserted by pymilvus.
fn bulk_import_files_load(server: Server) {
    let name = unique_name("bulk");
    seed(
        server,
        "types",
        &name,
        &["--rows", "30", "--bulk-compatible"],
    );
    let dir = tempfile::tempdir().unwrap();
    for format in ["parquet", "json"] {
        let copy = format!("{name}_{format}");
        seed(server, "empty-types", &copy, &["--bulk-compatible"]);
        let out = run_ok(
            test_harness::py("seed.py")
                .args([
                    "bulk-files",
                    "--bulk-compatible",
                    "--uri",
                    &server.uri(),
                    "--server",
                    server.seed_name(),
                    "--name",
                    &copy,
                    "--rows",
                    "30",
                    "--format",
                    format,
                    "--out",
                ])
                .arg(dir.path().join(format)),
        );
        let files = String::from_utf8(out.stdout).unwrap();
        for file in files.lines() {
            run_ok(load(server).args(["-c", &copy, "--if-exists", "append", file]));
        }
        compare_copy((server, &name), (server, &copy));
    }
}

#[test]
fn bulk_import_files_load_on_lite25() {
    bulk_import_files_load(Server::Lite25);
}

#[test]
fn bulk_import_files_load_on_lite3() {
    bulk_import_files_load(Server::Lite3);
}

#[test]
fn auto_id_keys_are_kept_where_the_server_allows_and_refused_where_not() {
    // Milvus Lite 3 takes given ids (allow_insert_auto_id, removed after the load).
    let server = Server::Lite3;
    let name = unique_name("autoid");
    seed(server, "auto-id", &name, &["--rows", "25"]);
    let copy = format!("{name}_copy");
    pipe(server, &name, server, &copy, &[]);
    compare_copy((server, &name), (server, &copy));

    // Milvus 2.3.5 cannot: refused before writing, with the way out named.
    let old = Server::Milvus235;
    let name = unique_name("autoid");
    seed(old, "auto-id", &name, &["--rows", "25"]);
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("s.jsonl");
    write_stream(old, &name, &stream);
    let copy = format!("{name}_copy");
    let out = run(load(old).args(["-c", &copy]).arg(&stream));
    assert_eq!(
        out.status.code(),
        Some(Exit::Refused.code().into()),
        "{}",
        describe(&load(old), &out)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--new-ids"));
    assert_eq!(count(old, &copy), "missing");
    run_ok(load(old).args(["-c", &copy, "--new-ids"]).arg(&stream));
    assert_eq!(count(old, &copy), "25");
}

/// `--resume` continues only a load of this set it started (the mark the
/// load puts on the collection it creates); anything else is refused with
/// nothing touched: a finished copy changed since, or the live original.
#[test]
fn resume_refuses_a_collection_no_load_of_the_set_left_unfinished() {
    let server = Server::Lite3;
    let name = unique_name("resume");
    seed(server, "bench", &name, &["--rows", "50", "--dim", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set");
    run_ok(
        dump(server)
            .args(["-c", &name, "--part-rows", "10", "--out-dir"])
            .arg(&set),
    );
    let copy = format!("{name}_copy");
    run_ok(load(server).args(["-c", &copy]).arg(&set));
    // Rows deleted from the finished copy since: not resumed, not re-added.
    seed(
        server,
        "delete",
        &copy,
        &["--filter", "id >= 10 and id < 20"],
    );
    let refused = |args: &[&str]| {
        let mut cmd = load(server);
        let out = run(cmd.args(args).arg("--resume").arg(&set));
        assert_eq!(
            out.status.code(),
            Some(Exit::Refused.code().into()),
            "{}",
            describe(&cmd, &out)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("not an unfinished load of this set") && stderr.contains("-c NEW_NAME"),
            "{stderr}"
        );
    };
    refused(&["-c", &copy]);
    assert_eq!(count(server, &copy), "40");
    // The live original (no -c: the dumped name) is never rolled back.
    seed(server, "delete", &name, &["--filter", "id < 5"]);
    refused(&[]);
    assert_eq!(count(server, &name), "45");

    // A stream cannot be resumed.
    let stream = dir.path().join("s.jsonl");
    write_stream(server, &name, &stream);
    let out = run(load(server).args(["-c", &copy, "--resume"]).arg(&stream));
    assert_eq!(out.status.code(), Some(Exit::Usage.code().into()));
}

/// Partition key and count, TTL and mmap properties, shards, consistency,
/// description, clustering key, 64 KiB strings: compared by pymilvus.
fn collection_settings_are_restored(server: Server) {
    let name = unique_name("features");
    seed(server, "features", &name, &["--rows", "30"]);
    let copy = format!("{name}_copy");
    pipe(server, &name, server, &copy, &[]);
    compare_copy((server, &name), (server, &copy));
}

#[test]
fn collection_settings_are_restored_on_lite3() {
    collection_settings_are_restored(Server::Lite3);
}

#[test]
fn collection_settings_are_restored_on_milvus235() {
    collection_settings_are_restored(Server::Milvus235);
}

#[test]
fn milvus_lite_dumps_load_into_milvus235() {
    // Collections of the types Milvus 2.3.5 has, made on the Lite servers.
    for source in [Server::Lite25, Server::Lite3] {
        let name = unique_name("back");
        run_ok(test_harness::py("seed.py").args([
            "types",
            "--uri",
            &source.uri(),
            "--server",
            "milvus235",
            "--name",
            &name,
            "--rows",
            "30",
        ]));
        pipe(source, &name, Server::Milvus235, &name, &[]);
        compare_copy((source, &name), (Server::Milvus235, &name));
    }
}

#[test]
fn bm25_functions_are_recreated_and_their_outputs_regenerated() {
    // Milvus Lite 3 has functions: the sparse output is not in the stream,
    // Milvus computes it again from the text.
    let server = Server::Lite3;
    let name = unique_name("bm25");
    seed(server, "bm25", &name, &["--rows", "40"]);
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("s.jsonl");
    write_stream(server, &name, &stream);
    let text = std::fs::read_to_string(&stream).unwrap();
    assert!(
        !text.lines().nth(1).unwrap().contains("\"sparse\""),
        "{text}"
    );
    let copy = format!("{name}_copy");
    run_ok(load(server).args(["-c", &copy]).arg(&stream));
    compare_copy((server, &name), (server, &copy));
}

#[test]
fn loads_into_another_database_created_when_missing() {
    let server = Server::Lite3;
    let name = unique_name("todb");
    seed(server, "bench", &name, &["--rows", "12", "--dim", "4"]);
    let db = unique_name("restored_db");
    pipe(server, &name, server, &name, &["--db", &db]);
    run_ok(test_harness::py("compare.py").args([
        "--uri",
        &server.uri(),
        "--name",
        &name,
        "--copy",
        &name,
        "--copy-db",
        &db,
    ]));
}

#[test]
fn compressed_and_parquet_streams_on_stdin_and_a_cut_parquet_file() {
    let server = Server::Lite3;
    let name = unique_name("formats");
    seed(server, "bench", &name, &["--rows", "20", "--dim", "4"]);
    let dir = tempfile::tempdir().unwrap();
    // zstd-compressed JSONL file, recognised by content.
    let zst = dir.path().join("s.jsonl.zst");
    run_ok(dump(server).args(["-c", &name, "--zstd", "-o"]).arg(&zst));
    let from_zst = format!("{name}_zst");
    run_ok(load(server).args(["-c", &from_zst]).arg(&zst));
    compare_copy((server, &name), (server, &from_zst));
    // Parquet on stdin (spooled: it needs its footer).
    let parquet = dir.path().join("s.parquet");
    run_ok(
        dump(server)
            .args(["-c", &name, "--format", "parquet", "-o"])
            .arg(&parquet),
    );
    let from_stdin = format!("{name}_stdin");
    let out = load(server)
        .args(["-c", &from_stdin, "-"])
        .stdin(std::fs::File::open(&parquet).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    compare_copy((server, &name), (server, &from_stdin));
    // A Parquet file cut short has no footer: refused, nothing created.
    let bytes = std::fs::read(&parquet).unwrap();
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let from_cut = format!("{name}_cut");
    let out = run(load(server).args(["-c", &from_cut]).arg(&cut));
    assert_eq!(
        out.status.code(),
        Some(Exit::Incomplete.code().into()),
        "{}",
        describe(&load(server), &out)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("cut.parquet"));
    assert_eq!(count(server, &from_cut), "missing");
}

#[test]
fn headerless_rows_with_a_schema_file_create_the_collection() {
    let server = Server::Lite3;
    let name = unique_name("schema");
    // With an explicit partition the dump's header says its rows carry
    // their partition; headerless rows do not, and still load.
    seed(
        server,
        "bench",
        &name,
        &["--rows", "3", "--dim", "4", "--partitions", "p2026"],
    );
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("header.json");
    let out = run_ok(dump(server).args(["-c", &name, "--schema-only"]));
    std::fs::write(&schema, &out.stdout).unwrap();
    let rows = dir.path().join("rows.jsonl");
    let text: String = (0..7)
        .map(|id| format!("{{\"id\":{id},\"embedding\":[1,2,3,{id}],\"text\":\"t{id}\"}}\n"))
        .collect();
    std::fs::write(&rows, text).unwrap();
    let copy = format!("{name}_new");
    run_ok(
        load(server)
            .args(["-c", &copy, "--schema"])
            .arg(&schema)
            .arg(&rows),
    );
    assert_eq!(count(server, &copy), "7");
}

#[test]
fn a_type_the_target_lacks_is_refused_with_the_field_named() {
    // Milvus Lite 2.5's float16 vectors cannot go to Milvus 2.3.5.
    let name = unique_name("lacks");
    seed(Server::Lite25, "types", &name, &["--rows", "5"]);
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("s.jsonl");
    write_stream(Server::Lite25, &name, &stream);
    let target = Server::Milvus235;
    let out = run(load(target).arg(&stream));
    assert_eq!(
        out.status.code(),
        Some(Exit::Refused.code().into()),
        "{}",
        describe(&load(target), &out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Vector") && stderr.contains("not supported"),
        "{stderr}"
    );
    assert_eq!(count(target, &name), "missing");
}

#[test]
fn dumped_aliases_are_restored_on_request() {
    let server = Server::Lite3;
    let name = unique_name("aliases");
    seed(server, "bench", &name, &["--rows", "4", "--dim", "4"]);
    let alias = format!("{name}_a");
    run_ok(test_harness::py("seed.py").args([
        "add-alias",
        "--uri",
        &server.uri(),
        "--name",
        &name,
        "--alias",
        &alias,
    ]));
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("s.jsonl");
    write_stream(server, &name, &stream);
    let copy = format!("{name}_copy");
    run_ok(
        load(server)
            .args(["-c", &copy, "--restore-aliases"])
            .arg(&stream),
    );
    assert_eq!(seed_output(server, "alias-target", &alias), copy);
}

#[test]
fn an_index_the_target_lacks_is_refused_up_front_or_substituted_on_request() {
    // Milvus Lite 3's INVERTED scalar index is newer than Milvus 2.3.5.
    let name = unique_name("idxlack");
    seed(
        Server::Lite3,
        "bench",
        &name,
        &["--rows", "6", "--dim", "4", "--text-index", "INVERTED"],
    );
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("s.jsonl");
    write_stream(Server::Lite3, &name, &stream);
    let target = Server::Milvus235;
    let refused = load(target).arg(&stream).output().unwrap();
    assert_eq!(refused.status.code(), Some(Exit::Refused.code().into()));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("INVERTED")
            && stderr.contains("\"text\"")
            && stderr.contains("--index-fallback"),
        "{stderr}"
    );
    assert_eq!(count(target, &name), "missing");

    // Trie is 2.3's VARCHAR index.
    run_ok(load(target).arg(&stream).args(["--index-fallback", "Trie"]));
    assert_eq!(count(target, &name), "6");
    let types = seed_output(target, "index-types", &name);
    assert_eq!(types, r#"{"embedding": "FLAT", "text": "Trie"}"#);
}

#[test]
fn drop_removes_a_scratch_collection_but_never_one_behind_an_alias() {
    let server = Server::Lite3;
    let scratch = unique_name("scratch");
    seed(server, "bench", &scratch, &["--rows", "3", "--dim", "4"]);
    let out = run_ok(load(server).args(["--drop", "-c", &scratch]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("dropped collection"));
    assert_eq!(count(server, &scratch), "missing");
    assert_eq!(
        run(load(server).args(["--drop", "-c", &scratch]))
            .status
            .code(),
        Some(Exit::NotFound.code().into())
    );

    let served = unique_name("served");
    seed(server, "bench", &served, &["--rows", "3", "--dim", "4"]);
    run_ok(test_harness::py("seed.py").args([
        "add-alias",
        "--uri",
        &server.uri(),
        "--name",
        &served,
        "--alias",
        &format!("{served}_live"),
    ]));
    let out = run(load(server).args(["--drop", "-c", &served]));
    assert_eq!(out.status.code(), Some(Exit::Refused.code().into()));
    assert!(String::from_utf8_lossy(&out.stderr).contains("aliases"));
    assert_eq!(count(server, &served), "3");

    // --alias-only moves the alias (a restore checked by other means), then
    // the old collection can go.
    let successor = unique_name("successor");
    seed(server, "bench", &successor, &["--rows", "2", "--dim", "4"]);
    let alias = format!("{served}_live");
    run_ok(load(server).args(["--alias-only", "--alias", &alias, "-c", &successor]));
    assert_eq!(seed_output(server, "alias-target", &alias), successor);
    run_ok(load(server).args(["--drop", "-c", &served]));
    let out = run(load(server).args(["--alias-only", "--alias", &alias, "-c", &served]));
    assert_eq!(out.status.code(), Some(Exit::NotFound.code().into()));
}

/// A loopback TCP proxy in front of a real server that cuts one connection —
/// the first to carry more than `threshold` bytes towards the server — in
/// the middle of a request, as a failing network would; the rest pass.
/// Returns the proxy's URI and whether the cut happened.
fn cut_once_proxy(
    upstream: &str,
    threshold: usize,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::io::Read as _;
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let upstream = upstream.trim_start_matches("http://").to_string();
    let cut = Arc::new(AtomicBool::new(false));
    let cut_flag = cut.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { break };
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let (mut from_server, mut to_client) =
                (server.try_clone().unwrap(), client.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_server, &mut to_client);
                let _ = to_client.shutdown(Shutdown::Both);
            });
            let cut = cut_flag.clone();
            std::thread::spawn(move || {
                let (mut from_client, mut to_server) = (client, server);
                let mut buffer = [0u8; 16 << 10];
                let mut forwarded = 0;
                loop {
                    let n = match from_client.read(&mut buffer) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if forwarded + n > threshold && !cut.swap(true, Ordering::SeqCst) {
                        let _ = from_client.shutdown(Shutdown::Both);
                        let _ = to_server.shutdown(Shutdown::Both);
                        return;
                    }
                    if to_server.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                    forwarded += n;
                }
                let _ = to_server.shutdown(Shutdown::Write);
            });
        }
    });
    (format!("http://{address}"), cut)
}

#[test]
fn a_connection_lost_mid_insert_is_retried_without_losing_or_duplicating_rows() {
    let server = Server::Lite3;
    let name = unique_name("cut");
    seed(server, "bench", &name, &["--rows", "2000", "--dim", "64"]);
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("s.jsonl");
    write_stream(server, &name, &stream);
    let (proxy, cut) = cut_once_proxy(&server.uri(), 300_000);
    let copy = format!("{name}_copy");
    // One insert in flight at a time: the cut request was never complete at
    // the server, so its retry cannot duplicate rows.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_milvus-load"));
    cmd.args(["--uri", &proxy, "-q", "-c", &copy])
        .args(["--concurrency", "1", "--batch-bytes", "64KiB"])
        .arg(&stream);
    let out = run_ok(&mut cmd);
    assert!(
        cut.load(std::sync::atomic::Ordering::SeqCst),
        "the proxy never cut"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("retrying"), "{stderr}");
    compare_copy((server, &name), (server, &copy));
}

/// A batch larger than the server takes (the suite's Milvus 2.3.5 accepts
/// requests of 16 MiB at most: MP_TEST_MILVUS235_MAX_REQUEST) is sent again
/// in halves, and the batches after it are cut to what went through.
#[test]
fn a_batch_the_server_refuses_as_too_large_is_sent_in_halves() {
    let server = Server::Milvus235;
    let limit: u64 = test_harness::required("MP_TEST_MILVUS235_MAX_REQUEST")
        .parse()
        .unwrap();
    let name = unique_name("toolarge");
    // 6,000 rows of 1,024 floats: 24 MiB of vectors, over the limit in one batch.
    let rows = 6_000;
    assert!(rows * 1_024 * 4 > limit);
    seed(server, "bench", &name, &["--rows", "6000", "--dim", "1024"]);
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("s.parquet");
    run_ok(
        dump(server)
            .args(["-c", &name, "--format", "parquet", "-o"])
            .arg(&stream),
    );
    let copy = format!("{name}_copy");
    let mut cmd = load(server);
    let out = run_ok(
        cmd.args(["-c", &copy, "--batch-bytes", "64MiB"])
            .arg(&stream),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refused a batch of") && stderr.contains("as too large"),
        "{stderr}"
    );
    compare_copy((server, &name), (server, &copy));
}
