//! Retries, proven through the fault-injecting proxy: the object that lands
//! is byte-identical, and a part that keeps failing is named.

use crate::proxy::{Fault, Proxy};
use crate::util::*;
use pipes_cli::Exit;
use std::sync::Arc;

#[test]
fn upload_and_download_survive_5xx_slowdown_and_resets() {
    let ep = s3_endpoint();
    // First attempt of part 2: 500; of part 3: 503 SlowDown; of part 4: the
    // connection is reset half-way through the body; completion: 500 once.
    let proxy = Proxy::start(
        &ep,
        Arc::new(|h, attempt| {
            if attempt > 0 {
                return None;
            }
            match (h.method.as_str(), h.query_param("partNumber").as_deref()) {
                ("PUT", Some("2")) => Some(Fault::Status(500, "InternalError")),
                ("PUT", Some("3")) => Some(Fault::Status(503, "SlowDown")),
                ("PUT", Some("4")) => Some(Fault::ResetMidBody),
                ("POST", None) if h.query_param("uploadId").is_some() => {
                    Some(Fault::Status(500, "InternalError"))
                }
                // Downloads: the 2nd chunk fails, the 3rd is cut mid-body.
                ("GET", None)
                    if h.header("range")
                        .is_some_and(|r| r.starts_with("bytes=5242880-")) =>
                {
                    Some(Fault::Status(503, "SlowDown"))
                }
                ("GET", None)
                    if h.header("range")
                        .is_some_and(|r| r.starts_with("bytes=10485760-")) =>
                {
                    Some(Fault::CutResponse(100_000))
                }
                _ => None,
            }
        }),
    );
    let url = format!("{}flaky/landed.bin", s3_prefix("faults"));
    let len = 5 * 5 * MIB + 777;
    let mut put = tool("s3-put", &proxy.endpoint);
    put.args([
        &url,
        "--part-size",
        "5MiB",
        "--concurrency",
        "2",
        "--max-retries",
        "5",
    ]);
    let (r, input_sha) = run_generated(put, 11, len);
    r.ok();
    assert_eq!(r.json()["sha256"], input_sha.as_str());
    let injected = proxy.injected();
    for want in [
        Fault::Status(500, "InternalError"),
        Fault::Status(503, "SlowDown"),
        Fault::ResetMidBody,
    ] {
        assert!(
            injected.iter().any(|(_, f)| *f == want),
            "{want:?} never injected: {injected:?}"
        );
    }
    // What landed, read directly from the server, is byte-identical.
    assert_eq!(sha256(&s3_fetch(&url, &ep)), input_sha);

    let mut get = tool("s3-get", &proxy.endpoint);
    get.args([
        &url,
        "--part-size",
        "5MiB",
        "--concurrency",
        "2",
        "--max-retries",
        "5",
    ]);
    let g = spawn(get, None, false).wait();
    g.ok();
    assert_eq!(
        (g.stdout_len, g.stdout_sha256.as_str()),
        (len, input_sha.as_str())
    );
    let injected = proxy.injected();
    assert!(
        injected
            .iter()
            .any(|(_, f)| matches!(f, Fault::CutResponse(_))),
        "{injected:?}"
    );
}

#[test]
fn a_part_that_keeps_failing_is_named_and_nothing_lands() {
    let ep = s3_endpoint();
    let proxy = Proxy::start(
        &ep,
        Arc::new(|h, _| {
            (h.method == "PUT" && h.query_param("partNumber").as_deref() == Some("2"))
                .then_some(Fault::Status(500, "InternalError"))
        }),
    );
    let url = format!("{}doomed/part2.bin", s3_prefix("giveup"));
    let mut put = tool("s3-put", &proxy.endpoint);
    put.args([
        &url,
        "--part-size",
        "5MiB",
        "--concurrency",
        "1",
        "--max-retries",
        "2",
    ]);
    let (r, _) = run_generated(put, 12, 12 * MIB);
    r.expect_code(Exit::Unreachable);
    assert!(r.stderr.contains(&url), "{}", r.stderr);
    assert!(r.stderr.contains("part 2"), "{}", r.stderr);
    assert!(r.stderr.contains("aborted"), "{}", r.stderr);
    let attempts = proxy
        .log
        .lock()
        .unwrap()
        .attempts
        .iter()
        .filter(|(k, _)| k.starts_with("PUT") && k.contains("partNumber=2"))
        .map(|(_, n)| *n)
        .sum::<u32>();
    assert_eq!(attempts, 3, "one attempt and two retries");
    assert!(!s3_exists(&url, &ep));
}

#[test]
fn a_request_that_times_out_is_retried() {
    let ep = s3_endpoint();
    // The first attempt of part 1 and of the completion get no answer.
    let proxy = Proxy::start(
        &ep,
        Arc::new(|h, attempt| {
            let first_part =
                h.method == "PUT" && h.query_param("partNumber").as_deref() == Some("1");
            let complete = h.method == "POST" && h.query_param("uploadId").is_some();
            (attempt == 0 && (first_part || complete)).then_some(Fault::Stall(6))
        }),
    );
    let url = format!("{}slow/landed.bin", s3_prefix("timeout"));
    let mut put = tool("s3-put", &proxy.endpoint);
    put.args([
        &url,
        "--part-size",
        "5MiB",
        "--timeout",
        "2",
        "--max-retries",
        "5",
    ]);
    let (r, input_sha) = run_generated(put, 13, 7 * MIB);
    r.ok();
    assert_eq!(proxy.injected().len(), 2, "{:?}", proxy.injected());
    assert_eq!(sha256(&s3_fetch(&url, &ep)), input_sha);
}

#[test]
fn server_side_encryption_is_requested_for_single_and_multipart_uploads() {
    let ep = s3_endpoint();
    let proxy = Proxy::start(&ep, Arc::new(|_, _| None));
    let b = s3_prefix("sse");
    let mut put = tool("s3-put", &proxy.endpoint);
    put.args([&format!("{b}single"), "--sse", "AES256"]);
    run(put, b"secret backup").ok();
    let mut put = tool("s3-put", &proxy.endpoint);
    put.args([
        &format!("{b}multi"),
        "--sse",
        "AES256",
        "--part-size",
        "5MiB",
    ]);
    run_generated(put, 14, 6 * MIB).0.ok();
    let log = proxy.log.lock().unwrap();
    // Requests by method and path (query string aside).
    let sse = |method: &str, path_end: &str| {
        log.requests
            .iter()
            .filter(|h| {
                h.method == method && h.target.split('?').next().unwrap().ends_with(path_end)
            })
            .filter(|h| method != "POST" || h.query_param("uploads").is_some())
            .map(|h| h.header("x-amz-server-side-encryption").map(str::to_string))
            .collect::<Vec<_>>()
    };
    // The single PUT, the CreateMultipartUpload and the sidecars carry it.
    let aes = [Some("AES256".to_string())];
    assert_eq!(sse("PUT", "/single"), aes);
    assert_eq!(sse("POST", "/multi"), aes);
    assert_eq!(sse("PUT", "/single.sha256"), aes);
    assert_eq!(sse("PUT", "/multi.sha256"), aes);
    // --sse-kms-key-id without --sse aws:kms is a usage error.
    let mut put = tool("s3-put", &ep);
    put.args([&format!("{b}x"), "--sse", "AES256", "--sse-kms-key-id", "k"]);
    run(put, b"x").expect_code(Exit::Usage);
}
