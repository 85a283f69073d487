//! Where a test's Redis comes from. `Redis::start(name)` gives, by the
//! environment variable `REDIS_TEST`:
//!
//! | `REDIS_TEST` | what the test talks to |
//! | --- | --- |
//! | unset | a live `redis-server` when one is on `PATH`, else a replay of the captures in `tests/data/redis/` |
//! | `live` | a live `redis-server`; fails when there is none (CI sets this) |
//! | `replay` | the captures, even when a server is installed |
//! | `capture` | a live `redis-server`, whose answers `finish` writes over the captures (a test that fails before `finish` writes nothing) |
//!
//! and writes one line to stderr saying which. It writes that line to the
//! stderr handle, not through `eprintln!`, so that libtest's output capture
//! does not hide it: every `cargo test` run shows whether it was live.
//!
//! A live server is started on 127.0.0.1, on a free port, without
//! persistence, and killed when the session is dropped.
//!
//! A capture of the test `name` is two files. `name.requests` is text: a
//! header (`# key: value` lines naming the server's version, the date and
//! the command that made it, and the length and xxh3-64 of the replies
//! file), then one line per request the test sent, in order: its length in
//! bytes, the xxh3-64 of its RESP bytes, and a readable summary.
//! `name.replies` holds the bytes the server sent back, in order, exactly as
//! they came off the socket. A replay checks that the test sends exactly the
//! captured requests (length and hash) and hands it the captured replies,
//! parsed by the same code as a live socket's, so the test's own assertions
//! run on Redis' answers in both modes. A replay fails when the test sends a
//! request the capture does not hold, sends fewer, leaves replies unread, or
//! when the replies file's hash differs from its header (checked last, so
//! that an edited reply first shows what the test makes of it).

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufRead, BufReader, Cursor, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use xxhash_rust::xxh3::xxh3_64;

use crate::resp::{self, Reply};

/// The command that re-captures every test's answers.
const CAPTURE_COMMAND: &str = "REDIS_TEST=capture cargo test -p larder-hyperloglog --test redis";

/// How long a started server has to accept connections.
const SERVER_START_TIMEOUT_MS: u64 = 10_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Auto,
    Live,
    Replay,
    Capture,
}

impl Mode {
    fn from_env() -> Mode {
        match std::env::var("REDIS_TEST") {
            Err(std::env::VarError::NotPresent) => Mode::Auto,
            Ok(value) => match value.as_str() {
                "" => Mode::Auto,
                "live" => Mode::Live,
                "replay" => Mode::Replay,
                "capture" => Mode::Capture,
                other => panic!("REDIS_TEST={other:?}: expected live, replay or capture, or unset"),
            },
            Err(e) => panic!("REDIS_TEST: {e}"),
        }
    }
}

/// A connection to Redis, live or replayed; see the module doc.
pub(crate) struct Redis {
    name: &'static str,
    replies: Box<dyn BufRead>,
    link: Link,
    requests_sent: usize,
}

enum Link {
    Live {
        stream: TcpStream,
        recording: Option<Recording>,
        // Dropped after the stream: kills the server.
        _server: Server,
    },
    Replay(Replay),
}

/// What a `capture` run has seen so far.
struct Recording {
    server_version_line: String,
    request_lines: String,
    request_count: usize,
    replies: Vec<u8>,
}

/// The captured requests a replay expects, in order.
struct Replay {
    requests: Vec<CapturedRequest>,
    replies_hash_expected: String,
    replies_hash_found: String,
}

struct CapturedRequest {
    line_number: usize,
    len: usize,
    xxh3: u64,
    summary: String,
}

impl Redis {
    /// Connects the test `name` to Redis as `REDIS_TEST` says and PINGs it.
    ///
    /// # Panics
    /// When the mode asks for a live server and none is on `PATH` or it
    /// does not come up, or when a replay finds no capture for `name`.
    pub(crate) fn start(name: &'static str) -> Redis {
        let mode = Mode::from_env();
        let mut redis = if mode == Mode::Replay {
            Redis::replay(name, "REDIS_TEST=replay")
        } else {
            match installed_version_line() {
                Some(line) => Redis::live(name, line, mode == Mode::Capture),
                None if mode == Mode::Auto => Redis::replay(name, "redis-server is not on PATH"),
                None => panic!(
                    "REDIS_TEST={}: redis-server is not on PATH: install the Debian package redis-server (.ci/run does)",
                    std::env::var("REDIS_TEST").unwrap_or_default()
                ),
            }
        };
        match redis.call(&[b"PING"]) {
            Reply::Simple(pong) => assert_eq!(pong, "PONG"),
            other => panic!("{name}: PING answered {other:?}"),
        }
        redis
    }

    fn live(name: &'static str, server_version_line: String, capture: bool) -> Redis {
        let mut server = Server::start();
        let stream = server.connect();
        let version = version_number(&server_version_line);
        let port = server.port;
        if capture {
            announce(&format!(
                "{name}: capturing redis-server {version} at 127.0.0.1:{port} into {}",
                shown(&capture_paths(name).0)
            ));
        } else {
            announce(&format!(
                "{name}: live redis-server {version} at 127.0.0.1:{port}"
            ));
        }
        let recording = capture.then(|| Recording {
            server_version_line,
            request_lines: String::new(),
            request_count: 0,
            replies: Vec::new(),
        });
        Redis {
            name,
            replies: Box::new(BufReader::new(
                stream.try_clone().expect("clone the server socket"),
            )),
            link: Link::Live {
                stream,
                recording,
                _server: server,
            },
            requests_sent: 0,
        }
    }

    fn replay(name: &'static str, why: &str) -> Redis {
        let (requests_path, replies_path) = capture_paths(name);
        let read_failed = |path: &Path, e: io::Error| -> ! {
            panic!(
                "{name}: no capture to replay ({why}): {}: {e}; make one with `{CAPTURE_COMMAND}` where redis-server is installed",
                shown(path)
            )
        };
        let text =
            fs::read_to_string(&requests_path).unwrap_or_else(|e| read_failed(&requests_path, e));
        let replies = fs::read(&replies_path).unwrap_or_else(|e| read_failed(&replies_path, e));
        let (header, requests) = parse_requests(&text, &requests_path);
        let field = |key: &str| -> String {
            header.get(key).cloned().unwrap_or_else(|| {
                panic!("{}: header has no `# {key}:` line", shown(&requests_path))
            })
        };
        let replay = Replay {
            requests,
            replies_hash_expected: field("replies_xxh3"),
            replies_hash_found: format!("{:016x}", xxh3_64(&replies)),
        };
        announce(&format!(
            "{name}: replaying captures of redis-server {} made on {} ({why}): {}",
            field("redis_version"),
            field("captured_on"),
            shown(&requests_path)
        ));
        if replay.replies_hash_found != replay.replies_hash_expected {
            announce(&format!(
                "{name}: CAPTURE ALTERED: {} hashes to {}, its header says {}; the replay will fail",
                shown(&replies_path),
                replay.replies_hash_found,
                replay.replies_hash_expected
            ));
        }
        Redis {
            name,
            replies: Box::new(Cursor::new(replies)),
            link: Link::Replay(replay),
            requests_sent: 0,
        }
    }

    /// Sends one request and returns the reply.
    ///
    /// # Panics
    /// On an error reply, a broken connection, or (replaying) a request the
    /// capture does not hold at this point.
    pub(crate) fn call(&mut self, args: &[&[u8]]) -> Reply {
        let request = resp::encode(args);
        self.requests_sent += 1;
        let number = self.requests_sent;
        let name = self.name;
        match &mut self.link {
            Link::Live {
                stream, recording, ..
            } => {
                stream
                    .write_all(&request)
                    .unwrap_or_else(|e| panic!("{name}: send request {number}: {e}"));
                if let Some(recording) = recording {
                    recording.request_count += 1;
                    recording.request_lines.push_str(&format!(
                        "{} {:016x} {}\n",
                        request.len(),
                        xxh3_64(&request),
                        resp::summary(args)
                    ));
                }
            }
            Link::Replay(replay) => replay.check(name, number, &request, args),
        }
        let mut raw = Vec::new();
        let reply = resp::read_reply(&mut *self.replies, &mut raw).unwrap_or_else(|e| {
            panic!(
                "{name}: reply to request {number} ({}): {e}",
                resp::summary(args)
            )
        });
        if let Link::Live {
            recording: Some(recording),
            ..
        } = &mut self.link
        {
            recording.replies.extend_from_slice(&raw);
        }
        if let Reply::Error(message) = &reply {
            panic!(
                "{name}: redis error for request {number} ({}): {message}",
                resp::summary(args)
            );
        }
        reply
    }

    /// Sends a request whose reply must be an integer.
    pub(crate) fn int(&mut self, args: &[&[u8]]) -> i64 {
        match self.call(args) {
            Reply::Int(n) => n,
            other => panic!("{}: expected an integer, got {other:?}", self.name),
        }
    }

    /// `GET key`, which must hold a value.
    pub(crate) fn get(&mut self, key: &[u8]) -> Vec<u8> {
        match self.call(&[b"GET", key]) {
            Reply::Bulk(Some(bytes)) => bytes,
            other => panic!("{}: expected a value, got {other:?}", self.name),
        }
    }

    /// Ends the session: a capture writes its files; a replay checks that
    /// the test used the whole capture and that the capture is as made.
    ///
    /// # Panics
    /// When a replay's test sent fewer requests than captured, left replies
    /// unread, or ran on a replies file altered since its capture.
    pub(crate) fn finish(mut self) {
        let name = self.name;
        match self.link {
            Link::Live {
                recording: Some(recording),
                ..
            } => recording.write(name),
            Link::Live { .. } => {}
            Link::Replay(replay) => {
                assert_eq!(
                    self.requests_sent,
                    replay.requests.len(),
                    "{name}: the test sent {} requests, the capture holds {}: the test changed since the capture; re-capture with `{CAPTURE_COMMAND}`",
                    self.requests_sent,
                    replay.requests.len()
                );
                let left = self
                    .replies
                    .fill_buf()
                    .expect("read the replayed replies")
                    .len();
                assert_eq!(
                    left, 0,
                    "{name}: {left} bytes of replies left after the last request"
                );
                assert_eq!(
                    replay.replies_hash_found, replay.replies_hash_expected,
                    "{name}: the replies file was altered since its capture (xxh3-64 differs from its header); re-capture with `{CAPTURE_COMMAND}`"
                );
            }
        }
    }
}

impl Replay {
    fn check(&self, name: &str, number: usize, request: &[u8], args: &[&[u8]]) {
        let sent_len = request.len();
        let sent_xxh3 = xxh3_64(request);
        let Some(captured) = self.requests.get(number - 1) else {
            panic!(
                "{name}: request {number} ({}) is past the {} captured; the test changed since the capture: re-capture with `{CAPTURE_COMMAND}` where redis-server is installed",
                resp::summary(args),
                self.requests.len()
            );
        };
        assert!(
            captured.len == sent_len && captured.xxh3 == sent_xxh3,
            "{name}: request {number} differs from the capture: sent `{}` ({sent_len} bytes, xxh3 {sent_xxh3:016x}), captured `{}` ({} bytes, xxh3 {:016x}, line {} of the requests file); the test or the bytes it sends changed: run it against a live redis-server, then re-capture with `{CAPTURE_COMMAND}`",
            resp::summary(args),
            captured.summary,
            captured.len,
            captured.xxh3,
            captured.line_number
        );
    }
}

impl Recording {
    fn write(self, name: &str) {
        let (requests_path, replies_path) = capture_paths(name);
        let mut text = String::new();
        text.push_str(&format!(
            "# The requests the test `{name}` of hyperloglog/tests/redis sent to a live\n\
             # redis-server, in order; {name}.replies holds the bytes the server sent\n\
             # back, in order. Written by the test itself; see README.md beside this file.\n"
        ));
        let header = [
            (
                "redis_version",
                version_number(&self.server_version_line).to_string(),
            ),
            ("redis_server", self.server_version_line.clone()),
            (
                "server_args",
                "--port <a free port> --bind 127.0.0.1 --save \"\" --appendonly no".to_string(),
            ),
            (
                "platform",
                format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            ),
            ("captured_on", now_utc()),
            ("captured_by", CAPTURE_COMMAND.to_string()),
            ("requests", self.request_count.to_string()),
            ("replies_len", self.replies.len().to_string()),
            ("replies_xxh3", format!("{:016x}", xxh3_64(&self.replies))),
        ];
        for (key, value) in header {
            text.push_str(&format!("# {key}: {value}\n"));
        }
        text.push_str("# Each line: the request's length in bytes, the xxh3-64 of its RESP bytes, a summary.\n");
        text.push_str(&self.request_lines);
        fs::create_dir_all(requests_path.parent().expect("captures have a directory"))
            .expect("create the captures' directory");
        write_file(&replies_path, &self.replies);
        write_file(&requests_path, text.as_bytes());
        announce(&format!(
            "{name}: wrote {} requests to {} and {} bytes of replies to {}",
            self.request_count,
            shown(&requests_path),
            self.replies.len(),
            shown(&replies_path)
        ));
    }
}

/// Writes through a temporary name, so an interrupted capture leaves the
/// old file whole.
fn write_file(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).unwrap_or_else(|e| panic!("write {}: {e}", shown(&tmp)));
    fs::rename(&tmp, path)
        .unwrap_or_else(|e| panic!("rename {} to {}: {e}", shown(&tmp), shown(path)));
}

/// The header's `# key: value` lines and the captured requests.
fn parse_requests(text: &str, path: &Path) -> (HashMap<String, String>, Vec<CapturedRequest>) {
    let mut header = HashMap::new();
    let mut requests = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        if let Some(comment) = line.strip_prefix('#') {
            if let Some((key, value)) = comment.trim().split_once(": ")
                && !key.contains(' ')
            {
                header.insert(key.to_string(), value.to_string());
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let bad = || -> ! {
            panic!(
                "{}:{line_number}: not `<len> <xxh3> <summary>`: {line:?}",
                shown(path)
            )
        };
        let mut fields = line.splitn(3, ' ');
        let len = fields
            .next()
            .and_then(|f| f.parse().ok())
            .unwrap_or_else(|| bad());
        let xxh3 = fields
            .next()
            .and_then(|f| u64::from_str_radix(f, 16).ok())
            .unwrap_or_else(|| bad());
        let summary = fields.next().unwrap_or_default().to_string();
        requests.push(CapturedRequest {
            line_number,
            len,
            xxh3,
            summary,
        });
    }
    (header, requests)
}

/// `path` from the workspace root, as messages show it.
fn shown(path: &Path) -> String {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = crate_dir.parent().unwrap_or(crate_dir);
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn capture_paths(name: &str) -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/redis");
    (
        dir.join(format!("{name}.requests")),
        dir.join(format!("{name}.replies")),
    )
}

/// Says which Redis the test uses, past libtest's output capture.
fn announce(line: &str) {
    // Direct to the handle: `eprintln!` output is captured (and shown only
    // on failure); this line must show on every run.
    let _ = writeln!(io::stderr(), "redis test {line}");
}

/// `redis-server --version`'s output, or `None` when no `redis-server` is
/// on `PATH`.
fn installed_version_line() -> Option<String> {
    match Command::new("redis-server").arg("--version").output() {
        Ok(out) if out.status.success() => {
            Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
        }
        Ok(out) => panic!(
            "redis-server --version: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => panic!("cannot run redis-server --version: {e}"),
    }
}

/// `7.0.15` from `Redis server v=7.0.15 sha=...`.
fn version_number(line: &str) -> &str {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix("v="))
        .unwrap_or(line)
}

/// The time now, `YYYY-MM-DD HH:MM UTC`.
fn now_utc() -> String {
    const SECONDS_PER_DAY: u64 = 86_400;
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_secs();
    let minutes = secs % SECONDS_PER_DAY / 60;
    // Howard Hinnant's `civil_from_days`: days since 1970-01-01 to a
    // proleptic Gregorian date, with years starting in March.
    let z = i64::try_from(secs / SECONDS_PER_DAY).expect("days fit i64") + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minutes / 60,
        minutes % 60
    )
}

/// A `redis-server` child, killed on drop (also when a test panics).
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start() -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("find a free port on 127.0.0.1")
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server: {e}"));
        Server { child, port }
    }

    fn connect(&mut self) -> TcpStream {
        let deadline = Instant::now() + Duration::from_millis(SERVER_START_TIMEOUT_MS);
        loop {
            match TcpStream::connect(("127.0.0.1", self.port)) {
                Ok(stream) => return stream,
                Err(e) => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        panic!(
                            "redis-server exited ({status}) before accepting connections on port {}",
                            self.port
                        );
                    }
                    if Instant::now() > deadline {
                        panic!("redis-server did not come up on port {}: {e}", self.port);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
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
