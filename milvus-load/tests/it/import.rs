//! `--import`: a set restored through Milvus 2.3.5's Import (its data nodes
//! read the Parquet parts from its local storage) equals the source value
//! for value; what the server cannot read or import is refused with the
//! reason, and nothing is left behind.

use pipes_cli::Exit;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use test_harness::{compare_copy, py_inline, run_ok, run_refused, seed, unique_name, Server};

use super::{count, dump, load};

/// A Parquet set of `name` in `dir`, `rows_per_part` rows per part.
fn parquet_set(server: Server, name: &str, dir: &Path, rows_per_part: &str) {
    run_ok(
        dump(server)
            .args([
                "-c",
                name,
                "--format",
                "parquet",
                "--part-rows",
                rows_per_part,
                "--out-dir",
            ])
            .arg(dir),
    );
}

/// The JSON summary a load prints last on stderr.
fn summary(out: &std::process::Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("no summary ({e}): {stderr}"))
}

/// The `types` collection `name` seeded on Milvus 2.3.5 with `seed_args`
/// and dumped as a Parquet set of `rows_per_part`-row parts under its
/// storage directory (removed when dropped).
fn types_set_in_server_storage(
    name: &str,
    seed_args: &[&str],
    rows_per_part: &str,
) -> tempfile::TempDir {
    let server = Server::Milvus235;
    seed(server, "types", name, seed_args);
    let set = in_server_storage(name);
    parquet_set(server, name, set.path(), rows_per_part);
    set
}

/// A directory under Milvus 2.3.5's storage, removed when dropped.
fn in_server_storage(name: &str) -> tempfile::TempDir {
    let storage = Server::milvus235_storage();
    std::fs::create_dir_all(&storage).unwrap();
    tempfile::Builder::new()
        .prefix(name)
        .tempdir_in(storage)
        .unwrap()
}

#[test]
fn a_set_restored_through_import_equals_the_source() {
    let server = Server::Milvus235;
    let name = unique_name("imported");
    // Every type 2.3.5 has, a dynamic field, arrays and JSON; finite floats
    // only (its importer refuses NaN and infinities, see below); rows in
    // three partitions, each part of one (Import puts a file into one).
    let set = types_set_in_server_storage(
        &name,
        &[
            "--rows",
            "60",
            "--bulk-compatible",
            "--partitions",
            "p1",
            "p2",
        ],
        "15",
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(set.path().join("manifest.json")).unwrap()).unwrap();
    let partitions: Vec<&str> = manifest["collections"][0]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|part| {
            part["partition"]
                .as_str()
                .expect("every part names its partition")
        })
        .collect();
    for partition in ["_default", "p1", "p2"] {
        assert!(partitions.contains(&partition), "{partitions:?}");
    }
    let copy = format!("{name}_copy");
    let out = run_ok(load(server).args(["-c", &copy, "--import"]).arg(set.path()));
    let summary = summary(&out);
    assert_eq!(summary["rows_via"], "import", "{summary}");
    assert_eq!(summary["rows"], 60, "{summary}");
    assert_eq!(
        summary["batches"], 0,
        "no row went through this process: {summary}"
    );
    // Where the time went: the indexes were built by the import, on its segments.
    let phase = |name: &str| summary["phases"][name].as_f64().unwrap();
    assert!(phase("rows") > 0.0 && phase("loaded") > 0.0, "{summary}");
    assert_eq!(phase("indexed"), 0.0, "{summary}");
    let phases: f64 = ["rows", "persisted", "indexed", "loaded"]
        .map(phase)
        .iter()
        .sum();
    assert!(phases <= summary["seconds"].as_f64().unwrap(), "{summary}");
    compare_copy((server, &name), (server, &copy));
}

#[test]
fn a_set_the_server_cannot_read_is_refused_and_nothing_is_left() {
    let server = Server::Milvus235;
    let name = unique_name("unseen");
    let set = types_set_in_server_storage(&name, &["--rows", "30", "--bulk-compatible"], "10");
    // A wrong --import-root: the server is handed paths it does not have
    // (as a server with its storage mounted elsewhere would be).
    let wrong_root = format!("{}/", set.path().parent().unwrap().display());
    let copy = format!("{name}_copy");
    let import = |when: &str| {
        let mut cmd = load(server);
        cmd.args(["-c", &copy, when, "--import-root", &wrong_root])
            .arg(set.path());
        cmd
    };
    run_refused(
        &mut import("--import"),
        Exit::Refused,
        "the server cannot read it",
    );
    assert_eq!(count(server, &copy), "missing");
    // --import=auto: nothing was imported, so the rows are inserted instead.
    let summary = summary(&run_ok(&mut import("--import=auto")));
    assert_eq!(summary["rows_via"], "insert", "{summary}");
    assert!(
        summary["warnings"].to_string().contains("inserted instead"),
        "{summary}"
    );
    compare_copy((server, &name), (server, &copy));
}

/// A set as milvus-dump wrote them before parts were cut by partition:
/// one part whose `$partition` column names each row's partition, no
/// partition in the manifest. It still restores every row into its
/// partition by inserts; `--import` refuses it before creating anything
/// (Import would put the whole file into one partition).
#[test]
fn a_set_whose_parts_mix_partitions_restores_by_insert_and_is_refused_by_import() {
    use record_stream::hashing::HashingWriter;
    use record_stream::manifest::{CollectionEntry, Manifest, Part};

    let server = Server::Milvus235;
    let name = unique_name("mixed_parts");
    seed(
        server,
        "types",
        &name,
        &[
            "--rows",
            "30",
            "--bulk-compatible",
            "--partitions",
            "p1",
            "p2",
        ],
    );
    let set = in_server_storage(&name);
    // The part: the collection as one Parquet stream (its $partition column).
    let relative = format!("{name}/part-00000.parquet");
    std::fs::create_dir_all(set.path().join(&name)).unwrap();
    let part_path = set.path().join(&relative);
    run_ok(
        dump(server)
            .args(["-c", &name, "--format", "parquet", "-o"])
            .arg(&part_path),
    );
    let mut hashing = HashingWriter::new(std::io::sink());
    std::io::copy(&mut std::fs::File::open(&part_path).unwrap(), &mut hashing).unwrap();
    let (_, bytes, sha256) = hashing.finish();
    let described: serde_json::Value =
        serde_json::from_slice(&run_ok(dump(server).args(["-c", &name, "--schema-only"])).stdout)
            .unwrap();
    let header: record_stream::Header =
        serde_json::from_value(described[record_stream::header::HEADER_KEY].clone()).unwrap();
    assert!(header.scope.row_partitions, "{:?}", header.scope);
    let manifest = Manifest {
        format_version: header.format_version,
        tool: "milvus-dump".into(),
        tool_version: "0.1.0".into(),
        created_at: header.created_at.clone(),
        completed_at: header.created_at.clone(),
        format: "parquet".into(),
        collections: vec![CollectionEntry {
            header,
            rows: 30,
            bytes,
            parts: vec![Part {
                path: relative,
                rows: 30,
                bytes,
                sha256,
                // The types seed's keys: 3·i − 1000.
                first_pk: serde_json::json!(-1000),
                last_pk: serde_json::json!(-913),
                partition: None,
            }],
        }],
    };
    std::fs::write(
        set.path().join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();

    let copy = format!("{name}_copy");
    run_refused(
        load(server).args(["-c", &copy, "--import"]).arg(set.path()),
        Exit::Refused,
        "$partition",
    );
    assert_eq!(count(server, &copy), "missing");
    let summary = summary(&run_ok(load(server).args(["-c", &copy]).arg(set.path())));
    // Inserted, then indexed: both phases timed.
    assert_eq!(summary["rows_via"], "insert", "{summary}");
    for phase in ["rows", "indexed"] {
        assert!(
            summary["phases"][phase].as_f64().unwrap() > 0.0,
            "{summary}"
        );
    }
    compare_copy((server, &name), (server, &copy));
}

#[test]
fn what_import_cannot_take_is_refused_before_anything_is_created() {
    // JSONL parts. (Parts that mix partitions, as sets written before
    // parts were cut by partition have them: the unit tests of import.rs.)
    let server = Server::Milvus235;
    let name = unique_name("parted");
    seed(
        server,
        "types",
        &name,
        &["--rows", "20", "--bulk-compatible", "--partitions", "p1"],
    );
    let copy = format!("{name}_copy");
    let jsonl = in_server_storage(&format!("{name}_jsonl"));
    run_ok(
        dump(server)
            .args(["-c", &name, "--out-dir"])
            .arg(jsonl.path()),
    );
    run_refused(
        load(server)
            .args(["-c", &copy, "--import"])
            .arg(jsonl.path()),
        Exit::Refused,
        "not Parquet",
    );
    assert_eq!(count(server, &copy), "missing");

    // A server without Import (Milvus Lite).
    let lite = Server::Lite3;
    let on_lite = unique_name("no_import");
    seed(lite, "bench", &on_lite, &["--rows", "10", "--dim", "4"]);
    let lite_set = tempfile::tempdir().unwrap();
    parquet_set(lite, &on_lite, lite_set.path(), "10");
    let lite_copy = format!("{on_lite}_copy");
    run_refused(
        load(lite)
            .args(["-c", &lite_copy, "--import"])
            .arg(lite_set.path()),
        Exit::Refused,
        "has no Import",
    );
    assert_eq!(count(lite, &lite_copy), "missing");
}

#[test]
fn values_the_importer_refuses_are_reported_and_the_new_collection_dropped() {
    // Milvus 2.3.5's importer refuses infinities in float fields, which
    // inserts accept: the load says so and leaves nothing behind.
    let server = Server::Milvus235;
    let name = unique_name("infinite");
    let set = types_set_in_server_storage(&name, &["--rows", "20"], "20");
    let copy = format!("{name}_copy");
    run_refused(
        load(server).args(["-c", &copy, "--import"]).arg(set.path()),
        Exit::Refused,
        "importer refused",
    );
    assert_eq!(count(server, &copy), "missing");
}

/// Import tasks of `collection` that have persisted their rows.
fn persisted_imports(server: Server, collection: &str) -> usize {
    let out = run_ok(
        py_inline(
            "import os, sys\n\
             from pymilvus import connections, utility\n\
             connections.connect(uri=sys.argv[1], token=os.environ.get('MILVUS_TOKEN', ''))\n\
             tasks = utility.list_bulk_insert_tasks(collection_name=sys.argv[2])\n\
             print(sum(t.state_name in ('Persisted', 'Flushed', 'Completed') for t in tasks))",
        )
        .args([&server.uri(), collection]),
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn an_import_stopped_midway_resumes_with_the_parts_not_yet_imported() {
    let server = Server::Milvus235;
    let name = unique_name("resumed_import");
    let set = types_set_in_server_storage(&name, &["--rows", "60", "--bulk-compatible"], "10");
    let copy = format!("{name}_copy");
    // One import task at a time, stopped once the first has persisted.
    let mut child = load(server)
        .args(["-c", &copy, "--import", "--concurrency", "1"])
        .arg(set.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while persisted_imports(server, &copy) == 0 && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(200));
    }
    test_harness::process::signal(child.id(), "TERM");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    // The server's record of the persisted tasks says which parts are in:
    // the rest are imported, none twice.
    let resumed = run_ok(
        load(server)
            .args(["-c", &copy, "--import", "--resume"])
            .arg(set.path()),
    );
    let summary = summary(&resumed);
    assert_eq!(summary["mode"], "resume", "{summary}");
    assert!(summary["rows"].as_u64().unwrap() < 60, "{summary}");
    compare_copy((server, &name), (server, &copy));
}
