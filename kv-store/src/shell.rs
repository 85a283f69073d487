//! `shell`: one open store, commands read a line at a time. On a terminal the
//! prompt is `rustyline` (line editing, history kept in the store's
//! `KV-HISTORY`); otherwise lines are read plainly from stdin, so scripts and
//! tests can pipe commands in.

use std::io::{BufRead, IsTerminal, Write};

use clap::Parser;

use crate::cli::ShellLine;
use crate::engine::Engine;
use crate::store::Store;
use crate::{Error, Result};

/// The file holding the prompt's history, in the store directory.
pub const HISTORY_FILE: &str = "KV-HISTORY";

/// Whether the shell goes on after a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Read the next line.
    Continue,
    /// `exit` or `quit` was typed.
    Exit,
}

/// Runs the shell on `store` until end of input or `exit`.
///
/// # Errors
///
/// Only a failure to write `out` or to set up the prompt; a failing command
/// prints its error line and the shell goes on.
pub fn run(store: &Store, out: &mut dyn Write) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|e| Error::io("<stdin>", e))?;
            if handle_line(store.engine(), &line, out)? == Next::Exit {
                break;
            }
        }
        return Ok(());
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
    loop {
        match rl.readline("kv> ") {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = rl.add_history_entry(line.as_str());
                }
                if handle_line(store.engine(), &line, out)? == Next::Exit {
                    break;
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(Error::Terminal(e.to_string())),
        }
    }
    let _ = rl.save_history(&history);
    Ok(())
}

/// Runs one typed line: a command as on the command line, without
/// `kv-store` and global options; `help`; or `exit`/`quit`.
///
/// # Errors
///
/// Only a failure to write `out`; command errors print to stderr.
pub fn handle_line(engine: &dyn Engine, line: &str, out: &mut dyn Write) -> Result<Next> {
    let words = match split_words(line) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Next::Continue);
        }
    };
    match words.first().map(String::as_str) {
        None => return Ok(Next::Continue),
        Some("exit" | "quit" | ".quit" | ".exit") => return Ok(Next::Exit),
        _ => {}
    }
    match ShellLine::try_parse_from(&words) {
        Ok(parsed) => {
            if let Err(e) = crate::run::execute(engine, &parsed.command, out) {
                eprintln!("error: {e}");
            }
        }
        Err(e) => match e.kind() {
            clap::error::ErrorKind::DisplayHelp
            | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                write!(out, "{}", e.render()).map_err(Error::Output)?;
            }
            _ => {
                let text = e.render().to_string();
                let lines: Vec<&str> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                    .collect();
                eprintln!("{} (type `help`)", lines.join(" "));
            }
        },
    }
    out.flush().map_err(Error::Output)?;
    Ok(Next::Continue)
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
