//! file:// URLs and plain paths behave like s3:// ones.

use crate::util::*;
use pipes_cli::Exit;

#[test]
fn file_urls_behave_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let base = format!("file://{}", dir.path().display());
    let url = format!("{base}/backups/2026-11-24/big.bin");
    let ep = "http://127.0.0.1:9"; // never contacted for file://

    // Multipart round trip in bounded memory, sidecar included.
    let len = 23 * MIB + 5;
    let mut put = tool("s3-put", ep);
    put.args([&url, "--part-size", "5MiB", "--concurrency", "2"]);
    let (r, sha) = run_generated(put, 21, len);
    r.ok();
    assert_eq!(r.json()["sha256"], sha.as_str());
    assert_eq!(r.json()["bytes"], len);
    let path = dir.path().join("backups/2026-11-24/big.bin");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("backups/2026-11-24/big.bin.sha256")).unwrap(),
        format!("{sha}  big.bin\n")
    );
    let mut get = tool("s3-get", ep);
    get.args([url.as_str(), "-v", "--part-size", "5MiB"]);
    let g = spawn(get, None, false).wait();
    g.ok();
    assert_eq!(
        (g.stdout_len, g.stdout_sha256.as_str()),
        (len, sha.as_str())
    );
    assert!(
        g.stderr.contains("\"verified\":\"sidecar\""),
        "{}",
        g.stderr
    );
    // A plain path is the same object.
    let mut get = tool("s3-get", ep);
    get.arg(path.to_str().unwrap());
    let g = spawn(get, None, false).wait();
    g.ok();
    assert_eq!(g.stdout_sha256, sha);

    // Conditional put.
    let mut put = tool("s3-put", ep);
    put.args([&url, "--if-none-match"]);
    run(put, b"nope").expect_code(Exit::Refused);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len);

    // Tampering is detected.
    let small = format!("{base}/small.txt");
    let mut put = tool("s3-put", ep);
    put.arg(&small);
    run(put, b"hello\n").ok();
    std::fs::write(dir.path().join("small.txt"), b"hellO\n").unwrap();
    let mut get = tool("s3-get", ep);
    get.arg(&small);
    let g = run(get, b"");
    g.expect_code(Exit::Corrupt);
    assert!(g.stderr.contains("sha256 mismatch"), "{}", g.stderr);

    // Empty input and SIGINT leave nothing, not even a temporary file.
    let mut put = tool("s3-put", ep);
    put.arg(format!("{base}/empty"));
    run(put, b"").expect_code(Exit::Empty);
    let running = crate::put_get::stalled_upload(&format!("{base}/stalled.bin"), ep);
    running.signal("INT");
    running.wait().expect_code(Exit::Interrupted);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["backups", "small.txt", "small.txt.sha256"],
        "{names:?}"
    );

    // ls and rm.
    let mut ls = tool("s3-ls", ep);
    ls.args([base.as_str(), "--recursive"]);
    let r = run(ls, b"");
    r.ok();
    assert_eq!(r.stdout_text().lines().count(), 4, "{}", r.stdout_text());
    let mut rm = tool("s3-rm", ep);
    rm.args(["--recursive", &format!("{base}/backups/")]);
    run(rm, b"").ok();
    assert!(!path.exists());
    let mut rm = tool("s3-rm", ep);
    rm.arg(&small);
    run(rm, b"").ok();
    assert!(!dir.path().join("small.txt.sha256").exists());
}

/// `--version` names the tool, its release and the git revision built.
#[test]
fn every_tool_says_its_name_release_and_revision() {
    for name in ["s3-put", "s3-get", "s3-ls", "s3-rm"] {
        let mut cmd = tool(name, "http://127.0.0.1:9");
        cmd.arg("--version");
        let r = run(cmd, b"");
        r.ok();
        let text = r.stdout_text();
        assert!(
            text.starts_with(&format!("{name} {} (git ", env!("CARGO_PKG_VERSION"))),
            "{text}"
        );
    }
}
