//! Sharded dumps (`milvus-dump --shard K/N`) as an operator chains them:
//! N processes into one set, one killed and resumed, then backup-verify and
//! milvus-load; a set missing a shard is incomplete for both.

use pipes_cli::Exit;
use std::process::{Command, Stdio};
use std::time::Duration;

use test_harness::{
    compare, compare_copy, run, run_ok, run_refused, s3_keys, s3_prefix, seed, unique_name,
    with_s3, workspace_bin, Server,
};

use super::{dump, load};

fn verify() -> Command {
    let mut cmd = Command::new(workspace_bin("backup-verify"));
    with_s3(&mut cmd);
    cmd
}

/// `milvus-dump --shard K/N` of `name` into `set`, with `extra` flags.
fn shard(server: Server, name: &str, set: &str, k_of_n: &str, extra: &[&str]) -> Command {
    let mut cmd = dump(server);
    with_s3(&mut cmd)
        .args(["-c", name, "--format", "parquet"])
        .args(["--shard", k_of_n, "--out-dir", set])
        .args(extra)
        .stdin(Stdio::null());
    cmd
}

/// Rows per shard directory in a manifest.
fn rows_by_shard(manifest: &serde_json::Value) -> Vec<u64> {
    let mut rows = std::collections::BTreeMap::<String, u64>::new();
    for part in manifest["collections"][0]["parts"].as_array().unwrap() {
        let path = part["path"].as_str().unwrap();
        let shard = path.rsplit('/').nth(1).unwrap().to_string();
        *rows.entry(shard).or_default() += part["rows"].as_u64().unwrap();
    }
    rows.into_values().collect()
}

#[test]
fn three_shards_into_one_s3_set_one_killed_and_resumed_restore_exactly() {
    let server = Server::Lite25;
    let name = unique_name("shards");
    // Skewed keys: 3,000 dense ids, then 1,500 far away.
    seed(server, "bench", &name, &["--rows", "3000", "--dim", "4"]);
    seed(
        server,
        "append",
        &name,
        &["--start", "1000000000", "--rows", "1500", "--dim", "4"],
    );
    let set = s3_prefix("three-shards");

    // Shard 1 starts first, held to 300 rows/s: it waits for shard 0's plan.
    let rows_200 = ["--part-rows", "200"];
    let mut slow = shard(
        server,
        &name,
        &set,
        "1/3",
        &[
            "--part-rows",
            "200",
            "--max-rows-per-second",
            "300",
            "--jobs",
            "1",
        ],
    )
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let out = run_ok(&mut shard(server, &name, &set, "0/3", &rows_200));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("completes when shards 1/3, 2/3"), "{said}");

    // Shard 1 killed (SIGKILL: no clean-up) once one of its parts is complete.
    let record = format!("{name}/shard-001/part-00000.parquet.json");
    for _ in 0..3000 {
        if s3_keys(&set).contains(&record) {
            break;
        }
        assert!(slow.try_wait().unwrap().is_none(), "shard 1 ended early");
        std::thread::sleep(Duration::from_millis(10));
    }
    slow.kill().unwrap();
    slow.wait().unwrap();

    // Incomplete: verify and load name the missing shards; nothing is created.
    let copy = format!("{name}_copy");
    for missing in ["shard 1/3", "shard 2/3"] {
        run_refused(verify().arg(&set), Exit::Incomplete, missing);
        run_refused(
            with_s3(&mut load(server)).args([&set, "-c", &copy]),
            Exit::Incomplete,
            missing,
        );
    }
    run_refused(
        with_s3(&mut dump(server)).args(["--out-dir", &set, "--finish"]),
        Exit::Incomplete,
        "shard 1/3",
    );

    // Every shard dumps the rows shard 0 planned for.
    run_refused(
        &mut shard(
            server,
            &name,
            &set,
            "2/3",
            &["--part-rows", "200", "--filter", "id > 5"],
        ),
        Exit::Refused,
        "every shard of a set dumps the same rows",
    );
    run_ok(&mut shard(server, &name, &set, "2/3", &rows_200));
    // A killed shard continues only with --resume, and with the same N.
    run_refused(
        &mut shard(server, &name, &set, "1/3", &rows_200),
        Exit::Refused,
        "add --resume",
    );
    run_refused(
        &mut shard(
            server,
            &name,
            &set,
            "1/4",
            &["--part-rows", "200", "--resume"],
        ),
        Exit::Refused,
        "is dumped in 3 shards",
    );
    let out = run_ok(&mut shard(
        server,
        &name,
        &set,
        "1/3",
        &["--part-rows", "200", "--resume"],
    ));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("resuming after"), "{said}");
    assert!(said.contains("finished last"), "{said}");

    // Complete: equal shards whatever the keys, no progress file left.
    let keys = s3_keys(&set);
    assert!(
        keys.iter()
            .all(|k| k == "manifest.json" || k.ends_with(".parquet")),
        "{keys:?}"
    );
    run_ok(verify().arg(&set));
    let manifest = test_harness::s3_fetch(
        &format!("{}/manifest.json", set.trim_end_matches('/')),
        &test_harness::s3_endpoint(),
    );
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(manifest["collections"][0]["rows"], 4500);
    assert_eq!(rows_by_shard(&manifest), [1500, 1500, 1500]);

    run_ok(with_s3(&mut load(server)).args([&set, "-c", &copy]));
    compare_copy((server, &name), (server, &copy));
}

#[test]
fn shards_started_together_agree_on_varchar_keys_and_finish_once() {
    let server = Server::Lite25;
    let name = unique_name("vshards");
    seed(server, "varchar-pk", &name, &["--rows", "300"]);
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set");
    let set = set.to_str().unwrap();
    let children: Vec<_> = ["0/2", "1/2"]
        .iter()
        .map(|k| {
            shard(server, &name, set, k, &["--part-rows", "50"])
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Shard 0 first: were it to fail, shard 1 would wait an hour for its plan.
    let mut said = Vec::new();
    let mut failed = false;
    for mut child in children {
        if failed {
            child.kill().unwrap();
        }
        let out = child.wait_with_output().unwrap();
        failed |= !out.status.success();
        said.push(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    assert!(!failed, "{said:?}");
    // Exactly one of them wrote the manifest.
    let wrote = said
        .iter()
        .filter(|s| s.contains("the manifest is written"))
        .count();
    assert_eq!(wrote, 1, "{said:?}");
    compare(server, &name, "--set", std::path::Path::new(set));
    let out = run(dump(server).args(["--out-dir", set, "--finish"]));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("complete already"),
        "{out:?}"
    );
    assert!(out.status.success());
}
