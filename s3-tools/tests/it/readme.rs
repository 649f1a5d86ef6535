//! The README's usage examples, run as written (bucket and /tmp paths
//! replaced by this test's own).

use crate::util::*;

#[test]
fn readme_examples_run() {
    let ep = s3_endpoint();
    let readme = include_str!("../../README.md");
    let start = readme.find("<!-- examples:start -->").unwrap();
    let end = readme.find("<!-- examples:end -->").unwrap();
    let block: String = readme[start..end]
        .lines()
        .filter(|l| !l.starts_with("```") && !l.starts_with("<!--"))
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().display().to_string();
    let b = s3_prefix("readme");
    let script = block
        .replace("s3://backups/", &b)
        // Also turns file:///tmp/ into file://TMP/.
        .replace("/tmp/", &format!("{tmp}/"));
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_s3-put"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut sh = std::process::Command::new("bash");
    sh.args(["-c", &format!("set -euo pipefail\n{script}")])
        .env("PATH", path)
        .env("AWS_ENDPOINT_URL", &ep);
    let r = run(sh, b"");
    r.ok();
    let out = r.stdout_text();
    for want in [
        format!("\"url\":\"{b}milvus/2026-11-24/numbers.gz\""),
        "refused: 4".to_string(),
        "200000\n".to_string(),
        "1\n2\n3\n".to_string(),
        "1000\n".to_string(),
        format!("PRE  {b}milvus/2026-11-24/"),
    ] {
        assert!(
            out.contains(&want),
            "missing {want:?} in:\n{out}\nstderr:\n{}",
            r.stderr
        );
    }
    assert!(r.stderr.contains("dry run: would delete"), "{}", r.stderr);
}
