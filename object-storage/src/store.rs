//! Opening a backend for a [`Location`]: credentials, endpoint, retries, encryption.

use crate::conditional::Connector;
use crate::location::{Location, Scheme};
use crate::profile::Profile;
use crate::{Error, Result};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::{BackoffConfig, ClientConfigKey, ObjectStore, RetryConfig};
use std::sync::Arc;
use std::time::Duration;

/// Server-side encryption requested for new objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sse {
    /// SSE-S3 (`AES256`).
    #[value(name = "AES256")]
    Aes256,
    /// SSE-KMS (`aws:kms`), with `--sse-kms-key-id` or the account's default key.
    #[value(name = "aws:kms")]
    Kms,
}

/// How to reach the object store, independent of the URL.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Custom S3 endpoint (MinIO, Ceph, SeaweedFS); overrides `AWS_ENDPOINT_URL`.
    pub endpoint_url: Option<String>,
    /// Region; overrides `AWS_REGION`.
    pub region: Option<String>,
    /// Retries per request after the first attempt.
    pub max_retries: usize,
    /// Give up retrying one request after this long.
    pub retry_timeout: Duration,
    /// First backoff delay (doubled each retry, with jitter, up to `max_backoff`).
    pub init_backoff: Duration,
    /// Longest backoff delay.
    pub max_backoff: Duration,
    /// Timeout of one HTTP request (a whole part upload or chunk download).
    pub timeout: Duration,
    /// Make multipart completion conditional (`If-None-Match: *`).
    pub create_only: bool,
    /// Server-side encryption.
    pub sse: Option<Sse>,
    /// KMS key for `Sse::Kms`.
    pub sse_kms_key_id: Option<String>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            endpoint_url: None,
            region: None,
            max_retries: 10,
            retry_timeout: Duration::from_secs(300),
            init_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(20),
            timeout: Duration::from_secs(300),
            create_only: false,
            sse: None,
            sse_kms_key_id: None,
        }
    }
}

/// An opened backend plus the location it was opened for.
#[derive(Debug, Clone)]
pub struct Store {
    /// The backend (one bucket, or the local root).
    pub inner: Arc<dyn ObjectStore>,
    /// The URL given on the command line.
    pub location: Location,
}

impl Store {
    /// Opens the backend for `location`.
    pub fn open(location: &Location, config: &StoreConfig) -> Result<Store> {
        let url = location.to_string();
        let setup = |source| Error::Setup {
            url: url.clone(),
            source,
        };
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: config.init_backoff,
                max_backoff: config.max_backoff,
                base: 2.0,
            },
            max_retries: config.max_retries,
            retry_timeout: config.retry_timeout,
        };
        let timeout = format!("{}s", config.timeout.as_secs().max(1));
        if config.sse.is_some() && location.scheme != Scheme::S3 {
            return Err(Error::Config(
                "--sse applies to s3:// URLs only (other stores encrypt at rest by their own settings)".into(),
            ));
        }
        let inner: Arc<dyn ObjectStore> = match location.scheme {
            Scheme::Local => Arc::new(LocalFileSystem::new()),
            Scheme::S3 => {
                let mut b = AmazonS3Builder::from_env()
                    .with_bucket_name(&location.bucket)
                    .with_retry(retry)
                    .with_config(
                        AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
                        &timeout,
                    )
                    .with_http_connector(Connector {
                        create_only: config.create_only,
                    });
                let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
                let mut profile_endpoint = None;
                if env("AWS_ACCESS_KEY_ID").is_none()
                    || env("AWS_REGION").or(env("AWS_DEFAULT_REGION")).is_none()
                    || env("AWS_ENDPOINT_URL").is_none()
                {
                    let name = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
                    let p = Profile::load(&name);
                    if env("AWS_ACCESS_KEY_ID").is_none() {
                        if let (Some(k), Some(s)) = (p.access_key_id, p.secret_access_key) {
                            b = b.with_access_key_id(k).with_secret_access_key(s);
                            if let Some(t) = p.session_token {
                                b = b.with_token(t);
                            }
                        }
                    }
                    if env("AWS_REGION").or(env("AWS_DEFAULT_REGION")).is_none() {
                        if let Some(r) = p.region {
                            b = b.with_region(r);
                        }
                    }
                    if env("AWS_ENDPOINT_URL").is_none() {
                        if let Some(e) = p.endpoint_url {
                            b = b.with_endpoint(&e);
                            profile_endpoint = Some(e);
                        }
                    }
                }
                if let Some(r) = &config.region {
                    b = b.with_region(r);
                }
                if let Some(e) = &config.endpoint_url {
                    b = b.with_endpoint(e);
                }
                // Plain-HTTP endpoints are what MinIO/SeaweedFS on a LAN look
                // like: an explicit http:// endpoint is consent enough.
                let endpoint = config
                    .endpoint_url
                    .clone()
                    .or(env("AWS_ENDPOINT_URL"))
                    .or(profile_endpoint);
                if endpoint.is_some_and(|e| e.starts_with("http://")) {
                    b = b.with_allow_http(true);
                }
                // object_store does not export its encryption key enum: name the keys.
                let sse_key = |name: &str| {
                    name.parse::<AmazonS3ConfigKey>()
                        .map_err(|e| Error::Config(format!("internal: {name}: {e}")))
                };
                match config.sse {
                    None => {}
                    Some(Sse::Aes256) => {
                        b = b.with_config(sse_key("aws_server_side_encryption")?, "AES256");
                    }
                    Some(Sse::Kms) => {
                        b = b.with_config(sse_key("aws_server_side_encryption")?, "aws:kms");
                        if let Some(k) = &config.sse_kms_key_id {
                            b = b.with_config(sse_key("aws_sse_kms_key_id")?, k);
                        }
                    }
                }
                Arc::new(b.build().map_err(setup)?)
            }
            Scheme::Gcs => Arc::new(
                GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(&location.bucket)
                    .with_retry(retry)
                    .with_http_connector(Connector::default())
                    .build()
                    .map_err(setup)?,
            ),
            Scheme::Azure => Arc::new(
                MicrosoftAzureBuilder::from_env()
                    .with_container_name(&location.bucket)
                    .with_retry(retry)
                    .with_http_connector(Connector::default())
                    .build()
                    .map_err(setup)?,
            ),
        };
        if config.sse_kms_key_id.is_some() && config.sse != Some(Sse::Kms) {
            return Err(Error::Config("--sse-kms-key-id needs --sse aws:kms".into()));
        }
        Ok(Store {
            inner,
            location: location.clone(),
        })
    }

    /// Whether this is the local file system.
    pub fn is_local(&self) -> bool {
        self.location.scheme == Scheme::Local
    }

    /// The URL of `key` in this store.
    pub fn url_of(&self, key: &object_store::path::Path) -> String {
        self.location.with_key(key.clone()).to_string()
    }

    /// The local file system path of `key` (for `file://` stores).
    pub fn local_path(&self, key: &object_store::path::Path) -> std::path::PathBuf {
        std::path::PathBuf::from(format!("/{key}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_opens_and_maps_paths() {
        let loc = Location::parse("file:///var/backups/a.zst").unwrap();
        let s = Store::open(&loc, &StoreConfig::default()).unwrap();
        assert!(s.is_local());
        assert_eq!(
            s.local_path(&loc.key),
            std::path::PathBuf::from("/var/backups/a.zst")
        );
        assert_eq!(
            s.url_of(&object_store::path::Path::from("x/y")),
            "file:///x/y"
        );
    }

    #[test]
    fn encryption_flags_are_checked() {
        let gs = Location::parse("gs://b/k").unwrap();
        let cfg = StoreConfig {
            sse: Some(Sse::Aes256),
            ..Default::default()
        };
        assert!(matches!(Store::open(&gs, &cfg), Err(Error::Config(_))));
        let s3 = Location::parse("s3://b/k").unwrap();
        let cfg = StoreConfig {
            endpoint_url: Some("http://127.0.0.1:9".into()),
            region: Some("us-east-1".into()),
            sse_kms_key_id: Some("k".into()),
            ..Default::default()
        };
        assert!(matches!(Store::open(&s3, &cfg), Err(Error::Config(_))));
        let cfg = StoreConfig {
            sse: Some(Sse::Kms),
            ..cfg
        };
        assert!(Store::open(&s3, &cfg).is_ok());
    }
}
