//! What the integration tests share: running the built binary.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// The `kv-store` binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_kv-store");

/// Runs `kv-store --db DB ARGS` with `stdin` piped in and returns what it
/// did. A command that stops reading early (`shell --bail`, a refused flag)
/// may close its end first; its output says why, so a broken pipe here is
/// not an error.
#[allow(dead_code)] // Not every test binary that includes this module uses it.
pub(crate) fn run(db: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = spawn_piped(db, args);
    let mut input = child.stdin.take().unwrap();
    if let Err(e) = input.write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// Starts `kv-store --db DB ARGS` with stdin, stdout and stderr piped.
#[allow(dead_code)] // Not every test binary that includes this module uses it.
pub(crate) fn spawn_piped(db: &Path, args: &[&str]) -> Child {
    Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Asserts that the command succeeded and returns its stdout (UTF-8).
#[allow(dead_code)] // Not every test binary that includes this module uses it.
pub(crate) fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The command's stderr, as text.
#[allow(dead_code)] // Not every test binary that includes this module uses it.
pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
