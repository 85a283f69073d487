//! Against a real Redis: registers and counts agree both ways. The test
//! starts its own `redis-server` on 127.0.0.1 (no persistence) and stops it;
//! CI installs the Debian package `redis-server`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hyperloglog::HyperLogLog;

/// A `redis-server` child, killed on drop (also when a test panics).
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start() -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}): install the Debian package redis-server (.ci/run does)")
            });
        Server { child, port }
    }

    fn connect(&self) -> Client {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match TcpStream::connect(("127.0.0.1", self.port)) {
                Ok(stream) => {
                    let mut client = Client {
                        reader: BufReader::new(stream.try_clone().unwrap()),
                        stream,
                    };
                    if let Reply::Simple(pong) = client.call(&[b"PING"]) {
                        assert_eq!(pong, "PONG");
                        return client;
                    }
                }
                Err(e) if Instant::now() > deadline => panic!("redis-server did not come up: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
enum Reply {
    Simple(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
}

/// Just enough RESP for PING, DEL, PFADD, PFCOUNT, GET and SET.
struct Client {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    fn call(&mut self, args: &[&[u8]]) -> Reply {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&out).unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let (kind, rest) = line.trim_end().split_at(1);
        match kind {
            "+" => Reply::Simple(rest.to_string()),
            ":" => Reply::Int(rest.parse().unwrap()),
            "$" => {
                let len: i64 = rest.parse().unwrap();
                if len < 0 {
                    return Reply::Bulk(None);
                }
                let mut buf = vec![0; len as usize + 2];
                self.reader.read_exact(&mut buf).unwrap();
                buf.truncate(len as usize);
                Reply::Bulk(Some(buf))
            }
            "-" => panic!("redis error: {rest}"),
            other => panic!("unexpected reply type {other:?}"),
        }
    }

    fn int(&mut self, args: &[&[u8]]) -> i64 {
        match self.call(args) {
            Reply::Int(n) => n,
            other => panic!("expected an integer, got {other:?}"),
        }
    }

    fn get(&mut self, key: &[u8]) -> Vec<u8> {
        match self.call(&[b"GET", key]) {
            Reply::Bulk(Some(bytes)) => bytes,
            other => panic!("expected a value, got {other:?}"),
        }
    }
}

#[test]
fn registers_and_counts_agree_with_redis_both_ways() {
    let server = Server::start();
    let mut redis = server.connect();
    for n in [0u64, 1, 10, 100, 1_000, 3_000, 10_000, 100_000, 1_000_000] {
        let key = format!("theirs:{n}").into_bytes();
        let mut ours = HyperLogLog::redis();
        redis.int(&[b"DEL", &key]);
        let items: Vec<Vec<u8>> = (0..n).map(|i| format!("item:{i}").into_bytes()).collect();
        for item in &items {
            ours.insert(item);
        }
        if items.is_empty() {
            redis.int(&[b"PFADD", &key]);
        }
        for batch in items.chunks(10_000) {
            let mut args: Vec<&[u8]> = vec![b"PFADD", &key];
            args.extend(batch.iter().map(|i| i.as_slice()));
            redis.int(&args);
        }

        // Ours read from Redis' bytes (sparse below ~3,000 bytes, dense above).
        let bytes = redis.get(&key);
        // Both of Redis' encodings are read: sparse for small sets, dense
        // once the sparse form passes hll-sparse-max-bytes (3,000).
        let expected_encoding = if n <= 1_000 {
            1
        } else if n >= 10_000 {
            0
        } else {
            bytes[4]
        };
        assert_eq!(bytes[4], expected_encoding, "n={n}: encoding");
        let theirs = HyperLogLog::from_redis(&bytes).unwrap();
        assert_eq!(
            theirs, ours,
            "n={n}: registers differ (encoding {})",
            bytes[4]
        );
        let pfcount = redis.int(&[b"PFCOUNT", &key]) as u64;
        assert_eq!(ours.count(), pfcount, "n={n}: count vs PFCOUNT");

        // Redis reading ours.
        let our_key = format!("ours:{n}").into_bytes();
        redis.call(&[b"SET", &our_key, &ours.to_redis().unwrap()]);
        assert_eq!(
            redis.int(&[b"PFCOUNT", &our_key]) as u64,
            pfcount,
            "n={n}: PFCOUNT of our bytes"
        );
        let mut merged_key = format!("merged:{n}").into_bytes();
        merged_key.extend_from_slice(b"x");
        match redis.call(&[b"PFMERGE", &merged_key, &our_key, &key]) {
            Reply::Simple(ok) => assert_eq!(ok, "OK"),
            other => panic!("PFMERGE: {other:?}"),
        }
        assert_eq!(
            HyperLogLog::from_redis(&redis.get(&merged_key)).unwrap(),
            ours,
            "n={n}: PFMERGE of equal sketches"
        );
    }
}

#[test]
fn to_redis_refuses_sketches_redis_cannot_read() {
    assert!(HyperLogLog::new(14).unwrap().to_redis().is_err());
    assert!(HyperLogLog::redis().reduce(12).unwrap().to_redis().is_err());
    assert!(HyperLogLog::from_redis(b"HYLL").is_err());
    assert!(HyperLogLog::from_redis(b"nope").is_err());
}
