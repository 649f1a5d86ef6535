//! Conditional completion of S3 multipart uploads (`If-None-Match: *`).
//!
//! `object_store` sends `If-None-Match: *` on single-request puts
//! (`PutMode::Create`) but its public multipart API always completes in
//! overwrite mode. S3 (since 2024), MinIO and SeaweedFS honour the header on
//! `CompleteMultipartUpload` too, so this HTTP layer adds it to exactly that
//! request (a `POST` carrying `uploadId`). The header is not an `x-amz-*`
//! header, so adding it after SigV4 signing keeps the signature valid.

use async_trait::async_trait;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpRequest, HttpResponse, HttpService, ReqwestConnector,
};
use object_store::ClientOptions;

/// An [`HttpConnector`] around `reqwest` that can make multipart completion conditional.
#[derive(Debug, Default)]
pub struct Connector {
    /// Add `If-None-Match: *` to `CompleteMultipartUpload`.
    pub create_only: bool,
}

impl HttpConnector for Connector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let inner = ReqwestConnector::default().connect(options)?;
        if !self.create_only {
            return Ok(inner);
        }
        Ok(HttpClient::new(CreateOnly { inner }))
    }
}

#[derive(Debug)]
struct CreateOnly {
    inner: HttpClient,
}

/// Whether a request is `CompleteMultipartUpload`.
pub fn is_complete_multipart(method: &http::Method, query: Option<&str>) -> bool {
    method == http::Method::POST
        && query.is_some_and(|q| q.split('&').any(|kv| kv.starts_with("uploadId=")))
}

#[async_trait]
impl HttpService for CreateOnly {
    async fn call(&self, mut req: HttpRequest) -> Result<HttpResponse, HttpError> {
        if is_complete_multipart(req.method(), req.uri().query()) {
            req.headers_mut().insert(
                http::header::IF_NONE_MATCH,
                http::HeaderValue::from_static("*"),
            );
        }
        self.inner.execute(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_completion_only() {
        assert!(is_complete_multipart(
            &http::Method::POST,
            Some("uploadId=abc")
        ));
        assert!(!is_complete_multipart(
            &http::Method::POST,
            Some("uploads=")
        ));
        assert!(!is_complete_multipart(
            &http::Method::PUT,
            Some("partNumber=1&uploadId=abc")
        ));
        assert!(!is_complete_multipart(&http::Method::POST, None));
    }
}
