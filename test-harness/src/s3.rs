//! The S3 test server (SeaweedFS, started by scripts/test.sh): its address,
//! a prefix of each test's own, and direct access to what is stored, for
//! checks that do not go through the binaries under test.

use crate::{py_inline, required, run_ok, unique_name};
use std::process::Command;

/// The S3 test server's endpoint (SeaweedFS, started by scripts/test.sh).
pub fn s3_endpoint() -> String {
    required("MP_TEST_S3_ENDPOINT")
}

/// `s3://BUCKET/TEST/`, a prefix of this test's own in a bucket of this
/// test process (created on first use; each bucket costs the server
/// volumes, so a process shares one).
pub fn s3_prefix(test: &str) -> String {
    static BUCKET: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let bucket = BUCKET.get_or_init(|| {
        let bucket = format!("it-{}-{}", std::process::id(), unique_name("b").replace('_', "-"));
        run_ok(py_inline(
            "import sys, boto3; boto3.client('s3', endpoint_url=sys.argv[1]).create_bucket(Bucket=sys.argv[2])",
        )
        .args([&s3_endpoint(), &bucket]));
        bucket
    });
    format!("s3://{bucket}/{}/", test.replace('_', "-"))
}

/// The keys under an `s3://` URL (a prefix), relative to it, sorted.
pub fn s3_keys(url: &str) -> Vec<String> {
    let rest = url.strip_prefix("s3://").expect("an s3:// URL");
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let out = run_ok(
        py_inline(
            "import sys, boto3\n\
             s3 = boto3.client('s3', endpoint_url=sys.argv[1])\n\
             for page in s3.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[2], Prefix=sys.argv[3]):\n\
             \x20   for o in page.get('Contents', []): print(o['Key'][len(sys.argv[3]):])",
        )
        .args([&s3_endpoint(), bucket, prefix]),
    );
    let mut keys: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    keys.sort();
    keys
}

/// A command that reaches the S3 test server (our tools read
/// `AWS_ENDPOINT_URL` and the `AWS_*` credentials scripts/test.sh exports).
pub fn with_s3(cmd: &mut Command) -> &mut Command {
    cmd.env("AWS_ENDPOINT_URL", s3_endpoint())
}

/// The store at `url` through `endpoint`, opened directly (not through our binaries).
fn s3_store(url: &str, endpoint: &str) -> object_storage::Store {
    let loc = object_storage::Location::parse(url).unwrap();
    let cfg = object_storage::StoreConfig {
        endpoint_url: Some(endpoint.to_string()),
        max_retries: 2,
        ..Default::default()
    };
    object_storage::Store::open(&loc, &cfg).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Whether the object at `url` exists.
pub fn s3_exists(url: &str, endpoint: &str) -> bool {
    use object_store::ObjectStoreExt;
    let s = s3_store(url, endpoint);
    match rt().block_on(s.inner.head(&s.location.key)) {
        Ok(_) => true,
        Err(object_store::Error::NotFound { .. }) => false,
        Err(e) => panic!("head {url}: {e}"),
    }
}

/// The object's bytes.
pub fn s3_fetch(url: &str, endpoint: &str) -> Vec<u8> {
    use object_store::ObjectStoreExt;
    let s = s3_store(url, endpoint);
    rt().block_on(async {
        s.inner
            .get(&s.location.key)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    })
    .to_vec()
}

/// Writes `data` (with `metadata`) directly, bypassing s3-put.
pub fn s3_plant(url: &str, endpoint: &str, data: &[u8], metadata: &[(&str, &str)]) {
    use object_store::{Attribute, AttributeValue, Attributes, PutOptions};
    let s = s3_store(url, endpoint);
    let mut attrs = Attributes::new();
    if !s.is_local() {
        for (k, v) in metadata {
            attrs.insert(
                Attribute::Metadata(k.to_string().into()),
                AttributeValue::from(v.to_string()),
            );
        }
    }
    let opts = PutOptions {
        attributes: attrs,
        ..Default::default()
    };
    rt().block_on(
        s.inner
            .put_opts(&s.location.key, data.to_vec().into(), opts),
    )
    .unwrap();
}
