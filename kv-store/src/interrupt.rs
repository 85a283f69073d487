//! Ctrl-C (SIGINT): stop the running command, not the process, where the
//! command can stop cleanly.
//!
//! The binary calls [`install`] once. From then on a SIGINT does one of two
//! things:
//!
//! - while a [`Guard`] is alive (the shell, `scan`, `dump`, `load`, `bench`,
//!   `demo`), it sets a flag that those commands check once per row or per
//!   line ([`check`]); the command returns [`Error::Interrupted`], closes the
//!   store as usual, and the process exits 130, or in the shell the prompt
//!   comes back;
//! - otherwise (a command that runs in one engine call, like `verify` or
//!   `compact`) the process exits 130 at once, as the default SIGINT would;
//!   the engines are crash-safe, so this loses nothing that was committed.
//!
//! *Concurrency*: the handler runs on `ctrlc`'s own thread; it only reads
//! the count of live guards and sets the flag. Both are atomics, so any thread may
//! call every function here at any time.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::{Error, Result};

/// The exit code of a command stopped by Ctrl-C (128 + SIGINT, as shells
/// report a process killed by it).
pub const EXIT_CODE: u8 = 130;

/// Set by the handler while a guard is alive; cleared by [`clear`].
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How many [`Guard`]s are alive.
static GUARDS: AtomicUsize = AtomicUsize::new(0);

static INSTALL: Once = Once::new();

/// Installs the SIGINT handler (once; later calls do nothing). It replaces
/// any handler installed before, so the shell calls it after creating its
/// line editor, which installs one of its own.
///
/// # Errors
///
/// [`Error::Internal`] when another handler was installed before.
pub fn install() -> Result<()> {
    let mut result = Ok(());
    INSTALL.call_once(|| {
        result = ctrlc::set_handler(|| {
            if GUARDS.load(Ordering::SeqCst) > 0 {
                INTERRUPTED.store(true, Ordering::SeqCst);
            } else {
                std::process::exit(i32::from(EXIT_CODE));
            }
        })
        .map_err(|e| Error::Internal(format!("cannot install the Ctrl-C handler: {e}")));
    });
    result
}

/// While alive, Ctrl-C sets the flag instead of ending the process. Guards
/// nest (the shell's guard and `scan`'s inside it).
#[derive(Debug)]
pub struct Guard(());

impl Guard {
    /// Starts a section that checks [`check`] often enough to stop soon.
    pub fn new() -> Guard {
        GUARDS.fetch_add(1, Ordering::SeqCst);
        Guard(())
    }
}

impl Default for Guard {
    fn default() -> Guard {
        Guard::new()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        GUARDS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether Ctrl-C was pressed since the last [`clear`].
pub fn is_set() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Forgets an earlier Ctrl-C (the shell does this before each command).
pub fn clear() {
    INTERRUPTED.store(false, Ordering::SeqCst);
}

/// Called once per row or line by commands that can stop early.
///
/// # Errors
///
/// [`Error::Interrupted`] once Ctrl-C was pressed.
pub fn check() -> Result<()> {
    if is_set() {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}
