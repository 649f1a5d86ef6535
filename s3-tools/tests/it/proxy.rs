//! A loopback HTTP proxy in front of the S3 server that injects faults:
//! error statuses (500, 503 SlowDown), connections reset in the middle of a
//! request body, and responses cut short. Requests are forwarded unchanged
//! (the Host header too, so SigV4 signatures stay valid).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and an S3 error body.
    Status(u16, &'static str),
    /// Read half the request body, then drop the connection (RST).
    ResetMidBody,
    /// Forward, but cut the response after this many bytes.
    CutResponse(usize),
    /// Read the request, then answer nothing for this many seconds.
    Stall(u64),
}

/// The request line and headers.
#[derive(Debug, Clone)]
pub struct Head {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn query_param(&self, name: &str) -> Option<String> {
        let q = self.target.split_once('?')?.1;
        q.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == name).then(|| v.to_string())
        })
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Decides a fault from the request and how many times this exact request
/// (method + target + range) was seen before (0 on the first attempt).
pub type Rule = Arc<dyn Fn(&Head, u32) -> Option<Fault> + Send + Sync>;

#[derive(Default)]
pub struct Log {
    /// Attempts per request key.
    pub attempts: HashMap<String, u32>,
    /// Faults injected, in order.
    pub injected: Vec<(String, Fault)>,
    /// Every request seen.
    pub requests: Vec<Head>,
}

pub struct Proxy {
    pub endpoint: String,
    pub log: Arc<Mutex<Log>>,
}

impl Proxy {
    pub fn start(upstream: &str, rule: Rule) -> Proxy {
        let up = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Log::default()));
        let log2 = Arc::clone(&log);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (up, rule, log) = (up.clone(), Arc::clone(&rule), Arc::clone(&log2));
                std::thread::spawn(move || {
                    let _ = serve(conn, &up, &rule, &log);
                });
            }
        });
        Proxy { endpoint, log }
    }

    pub fn injected(&self) -> Vec<(String, Fault)> {
        self.log.lock().unwrap().injected.clone()
    }
}

fn read_head(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<Head>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            return Ok(None);
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok(Some(Head {
        method,
        target,
        headers,
    }))
}

/// One request per client connection (the answer says `Connection: close`).
fn serve(client: TcpStream, up: &str, rule: &Rule, log: &Mutex<Log>) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    let Some(head) = read_head(&mut reader)? else {
        return Ok(());
    };
    let len: usize = head
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let key = format!(
        "{} {} {}",
        head.method,
        head.target,
        head.header("range").unwrap_or("")
    );
    let attempt = {
        let mut l = log.lock().unwrap();
        l.requests.push(head.clone());
        let a = l.attempts.entry(key.clone()).or_insert(0);
        let n = *a;
        *a += 1;
        n
    };
    let fault = rule(&head, attempt);
    if let Some(f) = fault {
        log.lock().unwrap().injected.push((key, f));
    }
    match fault {
        Some(Fault::ResetMidBody) => {
            let mut half = vec![0u8; len / 2];
            reader.read_exact(&mut half)?;
            // Closing with unread data pending makes the kernel send RST.
            drop(reader);
            drop(client);
            return Ok(());
        }
        Some(Fault::Stall(secs)) => {
            std::io::copy(&mut (&mut reader).take(len as u64), &mut std::io::sink())?;
            std::thread::sleep(std::time::Duration::from_secs(secs));
            return Ok(());
        }
        Some(Fault::Status(code, s3_code)) => {
            std::io::copy(&mut (&mut reader).take(len as u64), &mut std::io::sink())?;
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{s3_code}</Code>\
                 <Message>injected by the test proxy</Message></Error>"
            );
            let reason = if code == 503 {
                "Slow Down"
            } else {
                "Internal Server Error"
            };
            write!(
                client,
                "HTTP/1.1 {code} {reason}\r\nContent-Type: application/xml\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )?;
            client.flush()?;
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
        _ => {}
    }
    let mut upstream = TcpStream::connect(up)?;
    let mut req = format!("{} {} HTTP/1.1\r\n", head.method, head.target);
    for (k, v) in &head.headers {
        if !k.eq_ignore_ascii_case("connection") {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    req.push_str("Connection: close\r\n\r\n");
    upstream.write_all(req.as_bytes())?;
    std::io::copy(&mut (&mut reader).take(len as u64), &mut upstream)?;
    upstream.flush()?;
    match fault {
        Some(Fault::CutResponse(n)) => {
            let mut buf = vec![0u8; n];
            let mut got = 0;
            while got < n {
                let k = upstream.read(&mut buf[got..])?;
                if k == 0 {
                    break;
                }
                got += k;
            }
            client.write_all(&buf[..got])?;
            drop(client);
        }
        _ => {
            std::io::copy(&mut upstream, &mut client)?;
            let _ = client.shutdown(Shutdown::Write);
        }
    }
    Ok(())
}
