//! `RemoteStore` over `object_store`'s S3 client against a server that
//! answers every request with one HTTP status: server errors, 408 and 429
//! are retried with backoff; every other 4xx is a final answer, sent once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use larder_objstore::{Error, PutMode, RemoteOptions, RemoteStore, Store};
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;

/// A server on 127.0.0.1 answering `status` to every request; returns its
/// endpoint and the count of requests it answered.
fn answering(status: u16) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    let count = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&count);
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(socket) = socket else { continue };
            let mut reader = BufReader::new(socket);
            let mut body_len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    body_len = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0u8; body_len];
            let _ = reader.read_exact(&mut body);
            counted.fetch_add(1, Ordering::SeqCst);
            let answer = format!(
                "HTTP/1.1 {status} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = reader.get_mut().write_all(answer.as_bytes());
        }
    });
    (endpoint, count)
}

/// A `RemoteStore` over an S3 client for `endpoint`, the client's own
/// retries off, three retries of its own with a millisecond's backoff.
fn store(endpoint: &str) -> RemoteStore {
    let s3 = AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .with_bucket_name("b")
        .with_region("us-east-1")
        .with_access_key_id("k")
        .with_secret_access_key("s")
        .with_retry(object_store::RetryConfig {
            max_retries: 0,
            ..object_store::RetryConfig::default()
        })
        .build()
        .expect("client");
    let inner: Arc<dyn ObjectStore> = Arc::new(s3);
    let options = RemoteOptions {
        request_timeout: Duration::from_secs(10),
        retries_max: 3,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(2),
        worker_threads: 1,
        ..RemoteOptions::default()
    };
    RemoteStore::with_options(inner, "", options).expect("store")
}

/// Requests one `get_range`, one `head` and one `put(Overwrite)` cost
/// against a server answering `status`. A failed ranged get is followed by
/// a HEAD (to tell a range past the end, S3's 416, from other failures):
/// two requests a try.
fn requests_per_call(status: u16) -> Vec<u64> {
    let (endpoint, count) = answering(status);
    let s = store(&endpoint);
    let mut per_call = Vec::new();
    let calls: [&dyn Fn() -> Result<(), Error>; 3] = [
        &|| s.get_range("t", 0..4).map(|_| ()),
        &|| s.head("t").map(|_| ()),
        &|| {
            s.put("t", Bytes::from_static(b"x"), PutMode::Overwrite)
                .map(|_| ())
        },
    ];
    for call in calls {
        let before = count.load(Ordering::SeqCst);
        match call() {
            Err(Error::Remote { name, .. }) => assert_eq!(name, "t", "{status}"),
            other => panic!("{status}: expected Error::Remote, got {other:?}"),
        }
        per_call.push(count.load(Ordering::SeqCst) - before);
    }
    per_call
}

#[test]
fn server_errors_408_and_429_are_retried_with_backoff() {
    for status in [500, 502, 503, 408, 429] {
        // The first try and three retries.
        assert_eq!(requests_per_call(status), vec![8, 4, 4], "{status}");
    }
}

#[test]
fn other_client_errors_are_final_and_sent_once() {
    for status in [400, 405, 411, 416, 422] {
        assert_eq!(requests_per_call(status), vec![2, 1, 1], "{status}");
    }
}

#[test]
fn a_conditional_put_refused_with_a_client_error_is_not_read_back() {
    let (endpoint, count) = answering(400);
    let s = store(&endpoint);
    let r = s.put("m", Bytes::from_static(b"x"), PutMode::Create);
    assert!(
        matches!(r, Err(Error::Remote { ref name, .. }) if name == "m"),
        "{r:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1, "no retry, no read-back");
}
