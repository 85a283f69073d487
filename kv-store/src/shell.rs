//! `shell`: one open store, commands read a line at a time. On a terminal the
//! prompt is `rustyline` (line editing, history kept in the store's
//! `KV-HISTORY`); otherwise lines are read plainly from stdin, so scripts and
//! tests can pipe commands in.
//!
//! Every line given is run, in order: `rustyline` is built with its
//! `buffer-redux` feature, so keys typed ahead or pasted without bracketed
//! paste survive from one prompt to the next (without it each prompt reads
//! the terminal through a fresh 1 KiB buffer and drops what it read past the
//! first line), and a bracketed paste of several lines is split into its
//! lines. Piped input is read a line at a time from the one shared stdin
//! buffer, without holding its lock, so `load -` inside a script reads the
//! lines after it.

use std::io::{IsTerminal, Write};

use clap::Parser;

use crate::cli::{ShellArgs, ShellLine};
use crate::engine::Engine;
use crate::store::Store;
use crate::{Error, Result};

/// The file holding the prompt's history, in the store directory.
pub const HISTORY_FILE: &str = "KV-HISTORY";

/// What a line did, and whether the shell goes on after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// The line ran (or was empty): read the next line.
    Continue,
    /// The line failed and printed its error; `exit_code` is what the
    /// command would have exited with on the command line.
    Failed {
        /// 1 for not found or damage, 2 otherwise ([`Error::exit_code`]).
        exit_code: u8,
    },
    /// `exit` or `quit` was typed.
    Exit,
}

/// The failures of one shell session.
#[derive(Debug, Default)]
struct Failures {
    /// Failed lines so far.
    count: u64,
    /// Input line and exit code of the first failure.
    first: Option<(u64, u8)>,
}

impl Failures {
    fn record(&mut self, line_no: u64, exit_code: u8) {
        self.count += 1;
        self.first.get_or_insert((line_no, exit_code));
    }

    fn into_result(self) -> Result<()> {
        match self.first {
            None => Ok(()),
            Some((line, exit_code)) => Err(Error::ShellFailed {
                failed: self.count,
                line,
                exit_code,
            }),
        }
    }
}

/// Runs the shell on `store` until end of input or `exit`.
///
/// # Errors
///
/// A failure to read input, write `out` or set up the prompt; and
/// [`Error::ShellFailed`] when a command failed and stdin is not a terminal,
/// or with `--bail` (which stops at the first failure).
pub fn run(store: &Store, args: ShellArgs, out: &mut dyn Write) -> Result<()> {
    let stdin = std::io::stdin();
    let mut failures = Failures::default();
    let mut line_no = 0u64;
    if !stdin.is_terminal() {
        let mut line = String::new();
        loop {
            line.clear();
            // `Stdin::read_line` takes the lock for this line only.
            if stdin
                .read_line(&mut line)
                .map_err(|e| Error::io("<stdin>", e))?
                == 0
            {
                break;
            }
            line_no += 1;
            let text = line.strip_suffix('\n').unwrap_or(&line);
            let text = text.strip_suffix('\r').unwrap_or(text);
            match handle_line(store.engine(), text, Some(line_no), out)? {
                Next::Continue => {}
                Next::Exit => break,
                Next::Failed { exit_code } => {
                    failures.record(line_no, exit_code);
                    if args.bail {
                        break;
                    }
                }
            }
        }
        return failures.into_result();
    }
    let mut rl = rustyline::DefaultEditor::new()
        .map_err(|e| Error::Terminal(format!("cannot start the line editor: {e}")))?;
    let history = store.dir().join(HISTORY_FILE);
    let _ = rl.load_history(&history);
    writeln!(
        out,
        "kv-store shell on {} ({} engine). Type `help`, or `exit` to leave.",
        store.dir().display(),
        store.engine().kind()
    )
    .and_then(|()| out.flush())
    .map_err(Error::Output)?;
    'prompt: loop {
        let read = match rl.readline("kv> ") {
            Ok(read) => read,
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(Error::Terminal(e.to_string())),
        };
        // A bracketed paste of several lines arrives as one string.
        for line in read.split('\n') {
            line_no += 1;
            if !line.trim().is_empty() {
                let _ = rl.add_history_entry(line);
            }
            match handle_line(store.engine(), line, None, out)? {
                Next::Continue => {}
                Next::Exit => break 'prompt,
                Next::Failed { exit_code } => {
                    failures.record(line_no, exit_code);
                    if args.bail {
                        break 'prompt;
                    }
                }
            }
        }
    }
    let _ = rl.save_history(&history);
    if args.bail {
        failures.into_result()
    } else {
        Ok(())
    }
}

/// Runs one line: a command as on the command line, without `kv-store` and
/// global options; `help`; or `exit`/`quit`. A failing command prints one
/// error line to stderr, `error: line N: ...` when `line_no` is given.
///
/// # Errors
///
/// Only a failure to write `out`; a failing command is [`Next::Failed`].
pub fn handle_line(
    engine: &dyn Engine,
    line: &str,
    line_no: Option<u64>,
    out: &mut dyn Write,
) -> Result<Next> {
    let place = line_no.map(|n| format!("line {n}: ")).unwrap_or_default();
    let words = match split_words(line) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {place}{e}");
            return Ok(Next::Failed { exit_code: 2 });
        }
    };
    match words.first().map(String::as_str) {
        None => return Ok(Next::Continue),
        Some("exit" | "quit" | ".quit" | ".exit") => return Ok(Next::Exit),
        _ => {}
    }
    let next = match ShellLine::try_parse_from(&words) {
        Ok(parsed) => match crate::run::execute(engine, &parsed.command, out) {
            Ok(()) => Next::Continue,
            Err(Error::Output(e)) => return Err(Error::Output(e)),
            Err(e) => {
                eprintln!("error: {place}{e}");
                Next::Failed {
                    exit_code: e.exit_code(),
                }
            }
        },
        Err(e) => match e.kind() {
            clap::error::ErrorKind::DisplayHelp
            | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                write!(out, "{}", e.render()).map_err(Error::Output)?;
                Next::Continue
            }
            _ => {
                let text = e.render().to_string();
                let lines: Vec<&str> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                    .collect();
                let joined = lines.join(" ");
                // clap's own `error: ` goes first, as on the command line.
                let message = joined.strip_prefix("error: ").unwrap_or(&joined);
                eprintln!("error: {place}{message} (type `help`)");
                Next::Failed { exit_code: 2 }
            }
        },
    };
    out.flush().map_err(Error::Output)?;
    Ok(next)
}

/// Splits a line into words: whitespace separates, `'...'` is literal,
/// `"..."` and bare words take `\` escapes of the next character.
///
/// # Errors
///
/// An unterminated quote or a trailing backslash.
pub fn split_words(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unterminated ' quote".to_string()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => cur.push(chars.next().ok_or("unterminated \" quote")?),
                        Some(c) => cur.push(c),
                        None => return Err("unterminated \" quote".to_string()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next().ok_or("line ends with a backslash")?);
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split_words;

    #[test]
    fn split_words_honours_quotes() {
        assert_eq!(
            split_words(r#"put 'a b' "c \"d\"" e\ f"#).unwrap(),
            ["put", "a b", "c \"d\"", "e f"]
        );
        assert!(split_words("put 'a").is_err());
    }
}
