//! s3-put / s3-get against the S3 server: round trip in bounded memory,
//! checksum verification, conditional put, aborted uploads.

use crate::util::*;
use pipes_cli::Exit;
use std::io::Write;
use std::time::Duration;

/// What the part buffers may use, plus the process's own footprint
/// (runtime, TLS roots, HTTP client) in a debug build.
const OVERHEAD: u64 = 48 * MIB;

#[test]
fn round_trip_larger_than_buffers_in_bounded_memory() {
    let ep = s3_endpoint();
    let url = format!("{}milvus/2026-11-24/big.bin", s3_prefix("roundtrip"));
    let (part, conc) = (5 * MIB, 2u64);
    // Larger than part × concurrency many times over, and larger than the
    // whole memory bound, so buffering the stream could not pass.
    let len = 24 * part * conc / 2 + 12_345;
    assert!(len > part * conc + OVERHEAD);

    let mut put = tool("s3-put", &ep);
    put.args([&url, "--part-size", "5MiB", "--concurrency", "2"]);
    let (r, input_sha) = run_generated(put, 7, len);
    r.ok();
    eprintln!("s3-put peak RSS: {:.1} MiB", r.peak_rss as f64 / MIB as f64);
    let receipt = r.json();
    assert_eq!(receipt["url"], url.as_str());
    assert_eq!(receipt["bytes"], len);
    assert_eq!(receipt["sha256"], input_sha.as_str());
    assert_eq!(receipt["parts"], len.div_ceil(part));
    assert!(
        receipt["etag"].as_str().is_some_and(|e| !e.is_empty()),
        "{receipt}"
    );
    assert!(receipt["seconds"].as_f64().is_some());
    assert!(
        r.peak_rss < part * conc + OVERHEAD,
        "s3-put peak RSS {} MiB exceeds {} MiB",
        r.peak_rss / MIB,
        (part * conc + OVERHEAD) / MIB
    );
    // The sidecar holds the digest in sha256sum format.
    let side = s3_fetch(&format!("{url}.sha256"), &ep);
    assert_eq!(
        String::from_utf8(side).unwrap(),
        format!("{input_sha}  big.bin\n")
    );

    let mut get = tool("s3-get", &ep);
    get.args([&url, "--part-size", "5MiB", "--concurrency", "2", "-v"]);
    let g = spawn(get, None, false).wait();
    g.ok();
    assert_eq!(g.stdout_len, len);
    assert_eq!(g.stdout_sha256, input_sha);
    assert!(
        g.stderr.contains("\"verified\":\"sidecar\""),
        "{}",
        g.stderr
    );
    eprintln!("s3-get peak RSS: {:.1} MiB", g.peak_rss as f64 / MIB as f64);
    assert!(
        g.peak_rss < part * conc + OVERHEAD,
        "s3-get peak RSS {} MiB exceeds {} MiB",
        g.peak_rss / MIB,
        (part * conc + OVERHEAD) / MIB
    );

    // --range: exactly those bytes.
    let mut get = tool("s3-get", &ep);
    get.args([&url, "--range", "5242870-5242889"]);
    let g = run(get, b"");
    g.ok();
    let mut all = vec![0u8; 5_242_890];
    Gen::new(7).fill(&mut all);
    assert_eq!(g.stdout, &all[5_242_870..5_242_890]);
}

#[test]
fn small_stream_is_one_put_with_sha256_metadata() {
    let ep = s3_endpoint();
    let url = format!("{}one/small.json", s3_prefix("small"));
    let data = b"{\"hello\":\"world\"}\n";
    let mut put = tool("s3-put", &ep);
    put.args([
        &url,
        "--content-type",
        "application/json",
        "--metadata",
        "collection=aero_docs_v1",
    ]);
    let r = run(put, data);
    r.ok();
    assert_eq!(r.json()["parts"], 1);
    let mut get = tool("s3-get", &ep);
    get.args([url.as_str(), "-v"]);
    let g = run(get, b"");
    g.ok();
    assert_eq!(g.stdout, data);
    assert!(
        g.stderr.contains("\"verified\":\"metadata\""),
        "{}",
        g.stderr
    );
}

#[test]
fn get_refuses_data_that_does_not_match_its_sha256() {
    let ep = s3_endpoint();
    let b = s3_prefix("tamper");
    // Single-part object: the digest is in the metadata. Replace the bytes
    // but keep the old digest, as silent corruption would.
    let url = format!("{b}single.bin");
    let data = Gen::bytes(1, 1000);
    run(
        {
            let mut c = tool("s3-put", &ep);
            c.arg(&url);
            c
        },
        &data,
    )
    .ok();
    let mut bad = data.clone();
    bad[500] ^= 1;
    s3_plant(&url, &ep, &bad, &[("sha256", &sha256(&data))]);
    let mut get = tool("s3-get", &ep);
    get.arg(&url);
    let g = run(get, b"");
    g.expect_code(Exit::Corrupt);
    assert!(g.stderr.contains("sha256 mismatch"), "{}", g.stderr);
    assert!(g.stderr.contains(&url), "{}", g.stderr);
    assert!(g.stderr.contains(&sha256(&data)), "{}", g.stderr);
    assert!(
        g.stderr.contains("from the object's metadata"),
        "{}",
        g.stderr
    );

    // Multipart object: the digest is in the sidecar; tamper with that.
    let url = format!("{b}multi.bin");
    let mut put = tool("s3-put", &ep);
    put.args([&url, "--part-size", "5MiB"]);
    let (r, _) = run_generated(put, 2, 6 * MIB);
    r.ok();
    s3_plant(
        &format!("{url}.sha256"),
        &ep,
        format!("{}  multi.bin\n", "0".repeat(64)).as_bytes(),
        &[],
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("restored.bin");
    let mut get = tool("s3-get", &ep);
    get.args([url.as_str(), "-o", out.to_str().unwrap()]);
    let g = run(get, b"");
    g.expect_code(Exit::Corrupt);
    assert!(g.stderr.contains("sha256 mismatch"), "{}", g.stderr);
    assert!(
        g.stderr.contains(&format!("from the sidecar {url}.sha256")),
        "{}",
        g.stderr
    );
    // Never under the final name; kept aside for inspection.
    assert!(!out.exists());
    assert!(
        dir.path().join("restored.bin.partial").exists(),
        "{}",
        g.stderr
    );

    // --no-verify is the explicit way past it.
    let mut get = tool("s3-get", &ep);
    get.args([url.as_str(), "--no-verify", "-o", out.to_str().unwrap()]);
    run(get, b"").ok();
    assert_eq!(std::fs::metadata(&out).unwrap().len(), 6 * MIB);
}

#[test]
fn if_none_match_never_overwrites() {
    let ep = s3_endpoint();
    let b = s3_prefix("ifnone");
    let url = format!("{b}immutable.bin");
    let put = |extra: &[&str]| {
        let mut c = tool("s3-put", &ep);
        c.arg(&url).args(extra);
        c
    };
    run(put(&["--if-none-match"]), b"first").ok();
    // Single-part and multipart attempts are both refused, before reading.
    let r = run(put(&["--if-none-match"]), b"second");
    r.expect_code(Exit::Refused);
    assert!(r.stderr.contains("already exists"), "{}", r.stderr);
    let (r, _) = run_generated(
        put(&["--if-none-match", "--part-size", "5MiB"]),
        3,
        11 * MIB,
    );
    r.expect_code(Exit::Refused);
    assert_eq!(s3_fetch(&url, &ep), b"first");

    // The race: the key appears while a multipart upload is streaming. The
    // conditional completion (If-None-Match: *) must refuse it.
    let url2 = format!("{b}raced.bin");
    let mut c = tool("s3-put", &ep);
    c.args([&url2, "--if-none-match", "--part-size", "5MiB"]);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let running = spawn(
        c,
        Some(Box::new(move |mut w| {
            let part = Gen::bytes(4, (6 * MIB) as usize);
            let _ = w.write_all(&part);
            let _ = rx.recv(); // wait for the competing writer
            let _ = w.write_all(&part);
        })),
        true,
    );
    std::thread::sleep(Duration::from_millis(500));
    let mut other = tool("s3-put", &ep);
    other.arg(&url2);
    run(other, b"the other writer won").ok();
    tx.send(()).unwrap();
    let r = running.wait();
    r.expect_code(Exit::Refused);
    assert_eq!(s3_fetch(&url2, &ep), b"the other writer won");
}

#[test]
fn empty_input_writes_nothing() {
    let ep = s3_endpoint();
    let url = format!("{}empty.bin", s3_prefix("empty"));
    let mut put = tool("s3-put", &ep);
    put.arg(&url);
    let r = run(put, b"");
    r.expect_code(Exit::Empty);
    assert!(r.stderr.contains("empty"), "{}", r.stderr);
    assert!(!s3_exists(&url, &ep));
    let mut put = tool("s3-put", &ep);
    put.args([&url, "--allow-empty"]);
    run(put, b"").ok();
    assert!(s3_exists(&url, &ep));
    let mut get = tool("s3-get", &ep);
    get.arg(&url);
    let g = run(get, b"");
    g.ok();
    assert!(g.stdout.is_empty());
}

/// Streams 12 MiB, then trickles; returns once s3-put has read the 12 MiB
/// (so its signal handlers are installed and parts are in flight).
pub fn stalled_upload(url: &str, ep: &str) -> Running {
    let mut c = tool("s3-put", ep);
    c.args([url, "--part-size", "5MiB", "--concurrency", "2"]);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let r = spawn(
        c,
        Some(Box::new(move |mut w| {
            let _ = w.write_all(&Gen::bytes(5, (12 * MIB) as usize));
            let _ = tx.send(());
            // Hold the pipe open (no EOF) until the tool is gone.
            while w.write_all(b"x").is_ok() {
                std::thread::sleep(Duration::from_millis(50));
            }
        })),
        false,
    );
    rx.recv().unwrap();
    r
}

#[test]
fn sigint_or_sigterm_mid_stream_aborts_and_leaves_no_object() {
    let ep = s3_endpoint();
    let b = s3_prefix("sigint");
    for (sig, code) in [("INT", Exit::Interrupted), ("TERM", Exit::Terminated)] {
        let url = format!("{b}interrupted-{sig}.bin");
        let running = stalled_upload(&url, &ep);
        running.signal(sig);
        let r = running.wait();
        r.expect_code(code);
        assert!(r.stderr.contains("aborted"), "{}", r.stderr);
        assert!(!s3_exists(&url, &ep), "{url} exists after SIG{sig}");
        assert!(!s3_exists(&format!("{url}.sha256"), &ep));
    }
}

#[test]
fn ctrl_c_on_the_whole_pipeline_leaves_no_object() {
    // Ctrl-C signals every process of the foreground pipeline: the producer
    // dies (its pipe reads as EOF) while s3-put gets SIGINT. The EOF must not
    // complete the upload.
    let ep = s3_endpoint();
    let url = format!("{}pipeline.bin", s3_prefix("ctrlc"));
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("producer-wrote-12MiB");
    // The flag appears once s3-put has read (nearly) 12 MiB: it is mid-upload.
    let script = format!(
        "{{ head -c 12582912 /dev/zero; touch {flag}; while :; do echo milvus; sleep 0.05; done; }} | {} {url} --part-size 5MiB --concurrency 2",
        env!("CARGO_BIN_EXE_s3-put"),
        flag = flag.display(),
    );
    let mut sh = std::process::Command::new("setsid");
    sh.args(["sh", "-c", &script]).env("AWS_ENDPOINT_URL", &ep);
    let running = spawn(sh, None, false);
    while !flag.exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
    // setsid made the shell a process-group leader: signal the whole group.
    let pgid = running.child.id();
    let st = std::process::Command::new("kill")
        .args(["-INT", "--", &format!("-{pgid}")])
        .status()
        .unwrap();
    assert!(st.success());
    let r = running.wait();
    assert_ne!(r.code(), 0, "{}", r.stderr);
    assert!(r.stderr.contains("interrupted by SIGINT"), "{}", r.stderr);
    assert!(!s3_exists(&url, &ep), "{url} exists after Ctrl-C");
}

/// A reader that stops early (`s3-get … | head`) ends the download quietly
/// with 141, as a shell reports a producer whose reader went away.
#[test]
fn a_reader_that_goes_away_ends_the_download_with_141() {
    let ep = s3_endpoint();
    let url = format!("{}head/big.bin", s3_prefix("head"));
    let data = vec![7u8; 4 * MIB as usize];
    let mut put = tool("s3-put", &ep);
    put.arg(&url);
    run(put, &data).ok();
    let mut get = tool("s3-get", &ep);
    let mut child = get
        .arg(&url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(i32::from(Exit::BrokenPipe.code())),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
