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

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Command, ShellArgs, ShellLine};
use crate::completion::ShellHelper;
use crate::engine::Engine;
use crate::store::Store;
use crate::{Error, Result};

/// The file holding the prompt's history, in the store directory.
pub(crate) const HISTORY_FILE: &str = "KV-HISTORY";

/// What a line did, and whether the shell goes on after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
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

/// Rows an interactive `scan` without `--limit` prints before it stops,
/// unless changed with `.limit N`.
pub(crate) const ROW_LIMIT_DEFAULT: u64 = 1000;

/// The parser of shell lines: [`ShellLine`]'s commands with those the shell
/// does not run (`shell`, `bench`, `demo`) hidden from `help` and from
/// completion. Typed anyway, they are refused with a message.
pub(crate) fn line_parser() -> clap::Command {
    let mut cmd = ShellLine::command();
    for name in NOT_IN_SHELL {
        cmd = cmd.mut_subcommand(name, |c| c.hide(true));
    }
    cmd.build();
    cmd
}

/// Commands of the command line that the shell refuses.
pub(crate) const NOT_IN_SHELL: [&str; 3] = ["shell", "bench", "demo"];

/// Words the shell itself understands, beside the commands.
pub(crate) const SHELL_WORDS: [&str; 5] = [".limit", "set", "help", "exit", "quit"];

/// One shell session's settings: what `handle_line` needs besides the line.
#[derive(Debug)]
pub(crate) struct Session {
    parser: clap::Command,
    /// Rows a `scan` without `--limit` prints before stopping; `None`: all.
    pub row_limit: Option<u64>,
    /// Whether the lines come from a person at a terminal: then Ctrl-C
    /// during a command is not a failure, and errors carry no line number.
    pub interactive: bool,
}

impl Session {
    /// A session; the row limit is [`ROW_LIMIT_DEFAULT`] when `interactive`
    /// and output goes to a terminal, else none.
    pub(crate) fn new(interactive: bool, output_is_terminal: bool) -> Session {
        Session {
            parser: line_parser(),
            row_limit: (interactive && output_is_terminal).then_some(ROW_LIMIT_DEFAULT),
            interactive,
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
pub(crate) fn run(store: &Store, args: ShellArgs, out: &mut dyn Write) -> Result<()> {
    // Ctrl-C stops the running command; the session goes on.
    let _interruptible = crate::interrupt::Guard::new();
    let stdin = std::io::stdin();
    let mut failures = Failures::default();
    let mut line_no = 0u64;
    let mut session = Session::new(stdin.is_terminal(), std::io::stdout().is_terminal());
    if !session.interactive {
        crate::interrupt::install()?;
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
            match session.handle_line(store.engine(), text, Some(line_no), out)? {
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
    let mut rl = rustyline::Editor::<ShellHelper, rustyline::history::DefaultHistory>::new()
        .map_err(|e| Error::Terminal(format!("cannot start the line editor: {e}")))?;
    rl.set_helper(Some(ShellHelper::new()));
    // After the editor: it takes SIGINT for its own use when created (in
    // raw mode at the prompt, Ctrl-C is a key, not a signal), and the
    // handler installed last is the one that runs.
    crate::interrupt::install()?;
    let history = store.dir().join(HISTORY_FILE);
    let _ = rl.load_history(&history);
    writeln!(
        out,
        "kv-store shell on {} ({} engine). Type `help`, or `exit` to leave; Tab completes, Ctrl-C stops a command.",
        store.dir().display(),
        store.engine().kind()
    )
    .and_then(|()| out.flush())
    .map_err(Error::Output)?;
    'prompt: loop {
        let read = match rl.readline("kv> ") {
            Ok(read) => read,
            // Ctrl-C at the prompt clears the line, as in sqlite3.
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
            match session.handle_line(store.engine(), line, None, out)? {
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

impl Session {
    /// Runs one line: a command as on the command line, without `kv-store`
    /// and global options; `help`; `.limit N` or `set limit N`; or
    /// `exit`/`quit`. A failing command prints one error line to stderr,
    /// starting `line N: ` when `line_no` is given. A command stopped by
    /// Ctrl-C prints `interrupted`; it fails (exit code 130) only when the
    /// session is not interactive.
    ///
    /// # Errors
    ///
    /// Only a failure to write `out`; a failing command is [`Next::Failed`].
    pub(crate) fn handle_line(
        &mut self,
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
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        match words.as_slice() {
            [] => return Ok(Next::Continue),
            ["exit" | "quit" | ".quit" | ".exit"] => return Ok(Next::Exit),
            [".limit", rest @ ..] | ["set", "limit", rest @ ..] => {
                let next = match self.set_row_limit(rest, out) {
                    Ok(()) => Next::Continue,
                    Err(Error::Output(e)) => return Err(Error::Output(e)),
                    Err(e) => {
                        eprintln!("error: {place}{e}");
                        Next::Failed { exit_code: 2 }
                    }
                };
                out.flush().map_err(Error::Output)?;
                return Ok(next);
            }
            _ => {}
        }
        crate::interrupt::clear();
        let next = match self.parse(&words) {
            Ok(mut command) => match self.execute(engine, &mut command, out) {
                Ok(()) => Next::Continue,
                Err(Error::Output(e)) => return Err(Error::Output(e)),
                Err(Error::Interrupted) => {
                    out.flush().map_err(Error::Output)?;
                    crate::interrupt::clear();
                    if self.interactive {
                        eprintln!("{place}interrupted");
                        Next::Continue
                    } else {
                        // A failure of the script, spelled like the others.
                        eprintln!("error: {place}interrupted");
                        Next::Failed {
                            exit_code: crate::interrupt::EXIT_CODE,
                        }
                    }
                }
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

    fn parse(&mut self, words: &[&str]) -> std::result::Result<Command, clap::Error> {
        let matches = self.parser.try_get_matches_from_mut(words)?;
        ShellLine::from_arg_matches(&matches).map(|line| line.command)
    }

    /// Runs `command`; a `scan` without `--limit` stops after the row limit
    /// and says so.
    fn execute(
        &self,
        engine: &dyn Engine,
        command: &mut Command,
        out: &mut dyn Write,
    ) -> Result<()> {
        let rows = match (&mut *command, self.row_limit) {
            (Command::Scan(args), Some(rows)) if args.limit.is_none() && rows > 0 => {
                // One row more than shown tells whether there were more.
                args.limit = Some(rows.saturating_add(1));
                rows
            }
            _ => return crate::run::execute(engine, command, out),
        };
        let mut capped = LineCap::new(out, rows);
        crate::run::execute(engine, command, &mut capped)?;
        if capped.cut {
            writeln!(
                out,
                "... stopped after {rows} rows; use --limit N, or `.limit N` (`set limit N`) to change, 0 for none"
            )
            .map_err(Error::Output)?;
        }
        Ok(())
    }

    fn set_row_limit(&mut self, rest: &[&str], out: &mut dyn Write) -> Result<()> {
        match rest {
            [] => {}
            [n] => {
                let n: u64 = n.parse().map_err(|_| {
                    Error::BadArgument(format!(
                        "`.limit N` takes a whole number of rows (0 for none), not {n:?}"
                    ))
                })?;
                self.row_limit = (n > 0).then_some(n);
            }
            _ => {
                return Err(Error::BadArgument(
                    "`.limit N` takes one number (0 for none)".to_string(),
                ));
            }
        }
        let text = match self.row_limit {
            Some(n) => format!("scan without --limit stops after {n} rows"),
            None => "scan without --limit prints every row".to_string(),
        };
        writeln!(out, "{text}").map_err(Error::Output)
    }
}

/// Passes the first `lines` lines of what is written through to the inner
/// writer and drops the rest, noting that it did.
struct LineCap<'a> {
    inner: &'a mut dyn Write,
    lines_left: u64,
    cut: bool,
}

impl<'a> LineCap<'a> {
    fn new(inner: &'a mut dyn Write, lines: u64) -> LineCap<'a> {
        LineCap {
            inner,
            lines_left: lines,
            cut: false,
        }
    }
}

impl Write for LineCap<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut keep = 0;
        while keep < buf.len() && self.lines_left > 0 {
            match buf[keep..].iter().position(|&b| b == b'\n') {
                Some(i) => {
                    keep += i + 1;
                    self.lines_left -= 1;
                }
                None => keep = buf.len(),
            }
        }
        if keep < buf.len() {
            self.cut = true;
        }
        self.inner.write_all(&buf[..keep])?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Splits a line into words: whitespace separates, `'...'` is literal,
/// `"..."` and bare words take `\` escapes of the next character.
///
/// # Errors
///
/// An unterminated quote or a trailing backslash.
pub(crate) fn split_words(line: &str) -> std::result::Result<Vec<String>, String> {
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
    use super::{LineCap, ROW_LIMIT_DEFAULT, Session, split_words};
    use crate::store::{Create, Store};
    use std::io::Write;

    /// Runs `lines` in `session` on a store of `keys` pairs; returns stdout.
    fn session_output(session: &mut Session, keys: u64, lines: &[&str]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), None, Create::IfMissing).unwrap();
        for i in 0..keys {
            store
                .engine()
                .put(format!("k{i:05}").as_bytes(), b"v")
                .unwrap();
        }
        let mut out = Vec::new();
        for line in lines {
            session
                .handle_line(store.engine(), line, None, &mut out)
                .unwrap();
        }
        store.close().unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn an_interactive_scan_on_a_terminal_stops_at_the_row_limit() {
        let mut session = Session::new(true, true);
        assert_eq!(session.row_limit, Some(ROW_LIMIT_DEFAULT));
        let out = session_output(&mut session, ROW_LIMIT_DEFAULT + 5, &["scan"]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len() as u64, ROW_LIMIT_DEFAULT + 1, "{out}");
        assert_eq!(lines[ROW_LIMIT_DEFAULT as usize - 1], "k00999\tv");
        assert!(
            lines[ROW_LIMIT_DEFAULT as usize]
                .starts_with("... stopped after 1000 rows; use --limit N"),
            "{out}"
        );

        // `.limit N` changes it, `set limit 0` lifts it, `--limit` wins.
        let out = session_output(&mut session, 10, &[".limit 3", "scan"]);
        assert_eq!(
            out,
            "scan without --limit stops after 3 rows\nk00000\tv\nk00001\tv\nk00002\tv\n... stopped after 3 rows; use --limit N, or `.limit N` (`set limit N`) to change, 0 for none\n"
        );
        let out = session_output(&mut session, 3, &["scan --limit 5"]);
        assert_eq!(out.lines().count(), 3, "{out}");
        let out = session_output(&mut session, 5, &["scan --limit 4 --format json"]);
        assert_eq!(out.lines().count(), 4, "{out}");
        // Exactly the limit: nothing was cut, nothing is said.
        let out = session_output(&mut session, 3, &["scan"]);
        assert_eq!(out, "k00000\tv\nk00001\tv\nk00002\tv\n");
        let out = session_output(&mut session, 1200, &["set limit 0", "scan --keys-only"]);
        assert_eq!(out.lines().count(), 1201, "{out}");
        assert!(out.starts_with("scan without --limit prints every row\n"));
    }

    #[test]
    fn scripts_and_piped_output_are_not_limited() {
        for (interactive, terminal) in [(false, false), (false, true), (true, false)] {
            let mut session = Session::new(interactive, terminal);
            assert_eq!(session.row_limit, None);
            let out = session_output(&mut session, ROW_LIMIT_DEFAULT + 5, &["scan"]);
            assert_eq!(out.lines().count() as u64, ROW_LIMIT_DEFAULT + 5);
        }
    }

    #[test]
    fn a_bad_limit_is_refused() {
        let mut session = Session::new(true, true);
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), None, Create::IfMissing).unwrap();
        let mut out = Vec::new();
        for line in [".limit ten", ".limit 1 2", "set limit -1"] {
            let next = session
                .handle_line(store.engine(), line, None, &mut out)
                .unwrap();
            assert_eq!(next, super::Next::Failed { exit_code: 2 }, "{line}");
        }
        assert_eq!(session.row_limit, Some(ROW_LIMIT_DEFAULT));
        store.close().unwrap();
    }

    #[test]
    fn line_cap_passes_whole_lines_up_to_its_count() {
        let mut inner = Vec::new();
        let mut cap = LineCap::new(&mut inner, 2);
        cap.write_all(b"a\nb").unwrap();
        assert!(!cap.cut);
        cap.write_all(b"b\nc\nd\n").unwrap();
        assert!(cap.cut);
        assert_eq!(inner, b"a\nbb\n");
    }

    #[test]
    fn split_words_honours_quotes() {
        assert_eq!(
            split_words(r#"put 'a b' "c \"d\"" e\ f"#).unwrap(),
            ["put", "a b", "c \"d\"", "e f"]
        );
        assert!(split_words("put 'a").is_err());
    }
}
