//! s3-ls and s3-rm against the S3 server.

use crate::util::*;
use pipes_cli::Exit;

fn put(ep: &str, url: &str, data: &[u8]) {
    let mut c = tool("s3-put", ep);
    c.arg(url);
    run(c, data).ok();
}

#[test]
fn list_and_delete() {
    let ep = s3_endpoint();
    let b = s3_prefix("lsrm");
    let root = format!("{b}milvus");
    put(&ep, &format!("{root}/2026-11-23/a.zst"), b"aaaa");
    put(&ep, &format!("{root}/2026-11-24/a.zst"), b"bbbbbb");
    put(&ep, &format!("{root}/2026-11-24/b.zst"), b"cc");
    put(&ep, &format!("{b}milvus-other/x"), b"x");

    // Direct children: two prefixes, nothing else (segment-wise prefixes).
    let mut ls = tool("s3-ls", &ep);
    ls.arg(format!("{root}/"));
    let r = run(ls, b"");
    r.ok();
    let text = r.stdout_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("PRE") && lines[0].ends_with(&format!("{root}/2026-11-23/")),
        "{text}"
    );
    assert!(lines[1].ends_with(&format!("{root}/2026-11-24/")), "{text}");

    // Recursive JSON: objects with sizes, dates and the sidecars.
    let mut ls = tool("s3-ls", &ep);
    ls.args([root.as_str(), "--recursive", "--json"]);
    let r = run(ls, b"");
    r.ok();
    let rows: Vec<serde_json::Value> = r
        .stdout_text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let urls: Vec<&str> = rows.iter().map(|v| v["url"].as_str().unwrap()).collect();
    assert_eq!(
        urls,
        [
            format!("{root}/2026-11-23/a.zst"),
            format!("{root}/2026-11-23/a.zst.sha256"),
            format!("{root}/2026-11-24/a.zst"),
            format!("{root}/2026-11-24/a.zst.sha256"),
            format!("{root}/2026-11-24/b.zst"),
            format!("{root}/2026-11-24/b.zst.sha256"),
        ]
    );
    assert_eq!(rows[2]["size"], 6);
    assert!(rows[2]["last_modified"].as_str().unwrap().ends_with('Z'));

    // One object: s3-ls shows it; a missing one exits 3.
    let mut ls = tool("s3-ls", &ep);
    ls.arg(format!("{root}/2026-11-24/b.zst"));
    let r = run(ls, b"");
    r.ok();
    assert_eq!(r.stdout_text().lines().count(), 1);
    let mut ls = tool("s3-ls", &ep);
    ls.arg(format!("{root}/nothing-here/"));
    run(ls, b"").expect_code(Exit::NotFound);

    // rm one object: it and its sidecar go; a missing object exits 3.
    let mut rm = tool("s3-rm", &ep);
    rm.arg(format!("{root}/2026-11-24/b.zst"));
    let r = run(rm, b"");
    r.ok();
    assert_eq!(
        r.stdout_text(),
        format!("{root}/2026-11-24/b.zst\n{root}/2026-11-24/b.zst.sha256\n")
    );
    assert!(!s3_exists(&format!("{root}/2026-11-24/b.zst"), &ep));
    let mut rm = tool("s3-rm", &ep);
    rm.arg(format!("{root}/2026-11-24/b.zst"));
    run(rm, b"").expect_code(Exit::NotFound);

    // Recursive dry run deletes nothing; the real one deletes the prefix only.
    let mut rm = tool("s3-rm", &ep);
    rm.args(["--recursive", "--dry-run", &format!("{root}/2026-11-23/")]);
    let r = run(rm, b"");
    r.ok();
    assert_eq!(r.stdout_text().lines().count(), 2, "{}", r.stdout_text());
    assert!(s3_exists(&format!("{root}/2026-11-23/a.zst"), &ep));
    let mut rm = tool("s3-rm", &ep);
    rm.args(["--recursive", root.as_str()]);
    let r = run(rm, b"");
    r.ok();
    assert_eq!(r.stdout_text().lines().count(), 4, "{}", r.stdout_text());
    assert!(!s3_exists(&format!("{root}/2026-11-23/a.zst"), &ep));
    assert!(!s3_exists(&format!("{root}/2026-11-24/a.zst"), &ep));
    assert!(
        s3_exists(&format!("{b}milvus-other/x"), &ep),
        "a sibling prefix was deleted"
    );

    // A whole bucket is refused; a prefix without --recursive too.
    let bucket_only = b.trim_start_matches("s3://").split('/').next().unwrap();
    let mut rm = tool("s3-rm", &ep);
    rm.args(["--recursive", &format!("s3://{bucket_only}")]);
    let r = run(rm, b"");
    r.expect_code(Exit::Usage);
    assert!(r.stderr.contains("whole bucket"), "{}", r.stderr);
    assert!(s3_exists(&format!("{b}milvus-other/x"), &ep));
    let mut rm = tool("s3-rm", &ep);
    rm.arg(format!("{b}milvus-other/"));
    let r = run(rm, b"");
    r.expect_code(Exit::Usage);
    assert!(r.stderr.contains("add --recursive"), "{}", r.stderr);
}
