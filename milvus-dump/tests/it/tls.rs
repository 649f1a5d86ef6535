//! TLS with a private CA (`--ca-cert`): a TLS-terminating proxy (rustls,
//! ALPN h2) in front of the real Milvus Lite 3, as an ingress would stand
//! in front of Milvus, with certificates openssl makes for the test.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

use test_harness::{describe, run, seed, unique_name, Server};

/// A CA and a server certificate for localhost signed by it: (ca.pem, server.pem, server.key).
fn make_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let mut cmd = Command::new("openssl");
        cmd.current_dir(dir).args(args);
        let out = run(&mut cmd);
        assert!(out.status.success(), "{}", describe(&cmd, &out));
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=milvus-pipes test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

/// Serves TLS on a free loopback port, forwarding the plaintext to `upstream`.
fn tls_proxy(upstream: String, cert: &Path, key: &Path) -> SocketAddr {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    crate::serve_on_loopback(move |listener| async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return; // the client refused our certificate
                };
                if let Ok(mut plain) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    })
}

#[test]
fn tls_with_a_private_ca_needs_ca_cert() {
    let server = Server::Lite3;
    let name = unique_name("tls");
    seed(server, "bench", &name, &["--rows", "5", "--dim", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_certificates(dir.path());
    let upstream = server.uri().trim_start_matches("http://").to_string();
    let port = tls_proxy(upstream, &cert, &key).port();
    let uri = format!("https://localhost:{port}");
    let dump = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_milvus-dump"));
        cmd.args(["--uri", &uri, "-q", "-c", &name]);
        cmd
    };

    let mut trusted = dump();
    let out = run(trusted.arg("--ca-cert").arg(&ca));
    assert!(out.status.success(), "{}", describe(&trusted, &out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 7, "header, 5 rows, trailer:\n{text}");

    // Without our CA the server's certificate is not trusted: a clear error, no output.
    let mut untrusted = dump();
    let out = run(&mut untrusted);
    assert!(!out.status.success(), "{}", describe(&untrusted, &out));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&uri) && stderr.contains("--ca-cert"),
        "{stderr}"
    );
}
