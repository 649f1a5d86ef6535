//! Milvus 2.3.5 runs with authorization on in the test suite (scripts/test.sh
//! starts it so, and every tool and helper connects as root through
//! MILVUS_TOKEN): a wrong password and a user without the privilege a tool
//! needs are refused with a clear message, and nothing is written.

use std::process::Command;

use pipes_cli::Exit;
use test_harness::{describe, py_inline, run, run_ok, seed, unique_name, Server};

use super::{count, dump, load};

/// A command as `user` with `password` instead of root.
fn as_user<'a>(cmd: &'a mut Command, user: &str, password: &str) -> &'a mut Command {
    cmd.env_remove("MILVUS_TOKEN")
        .env("MILVUS_USER", user)
        .env("MILVUS_PASSWORD", password)
}

/// `cmd` is denied (exit 5, as in every tool), says `said`, and never
/// prints `secret`.
fn refused(cmd: &mut Command, said: &[&str], secret: &str) {
    let out = run(cmd);
    assert_eq!(
        out.status.code(),
        Some(Exit::Denied.code().into()),
        "{}",
        describe(cmd, &out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for words in said {
        assert!(
            stderr.to_lowercase().contains(&words.to_lowercase()),
            "{words:?} not in: {stderr}"
        );
    }
    assert!(!stderr.contains(secret), "the password leaked: {stderr}");
}

#[test]
fn a_wrong_password_is_refused_and_nothing_is_written() {
    let server = Server::Milvus235;
    let name = unique_name("authpw");
    seed(server, "bench", &name, &["--rows", "10", "--dim", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let secret = "not-the-password-4711";
    refused(
        as_user(&mut dump(server), "root", secret)
            .args(["-c", &name, "-o"])
            .arg(&out),
        &["authentication failed"],
        secret,
    );
    assert!(!out.exists());

    run_ok(dump(server).args(["-c", &name, "-o"]).arg(&out));
    let copy = format!("{name}_copy");
    refused(
        as_user(&mut load(server), "root", secret)
            .args(["-c", &copy])
            .arg(&out),
        &["authentication failed"],
        secret,
    );
    assert_eq!(count(server, &copy), "missing");
}

#[test]
fn a_user_without_privileges_is_told_which_it_lacks_and_nothing_is_written() {
    let server = Server::Milvus235;
    let name = unique_name("authpriv");
    seed(server, "bench", &name, &["--rows", "10", "--dim", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("s.jsonl");
    run_ok(dump(server).args(["-c", &name, "-o"]).arg(&stream));
    // A user with no role beyond the default "public".
    let (user, password) = (unique_name("reader"), "reader-password-0815");
    run_ok(
        py_inline(
            "import os, sys\n\
             from pymilvus import MilvusClient\n\
             c = MilvusClient(uri=sys.argv[1], token=os.environ['MILVUS_TOKEN'])\n\
             c.create_user(user_name=sys.argv[2], password=sys.argv[3])",
        )
        .args([&server.uri(), &user, password]),
    );
    let copy = format!("{name}_copy");
    refused(
        as_user(&mut load(server), &user, password)
            .args(["-c", &copy])
            .arg(&stream),
        &["permission denied", "CreateCollection"],
        password,
    );
    assert_eq!(count(server, &copy), "missing");
    let out = dir.path().join("out.jsonl");
    refused(
        as_user(&mut dump(server), &user, password)
            .args(["-c", &name, "-o"])
            .arg(&out),
        &["permission denied", "Privilege"],
        password,
    );
    assert!(!out.exists());
}
