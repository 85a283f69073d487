//! Tab completion at the `shell` prompt: command names, then the flags of
//! the command being typed. Both come from the `clap` declaration of the
//! shell's parser ([`crate::shell::line_parser`]), so they follow every
//! command and flag added there.

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use crate::shell::{SHELL_WORDS, line_parser};

/// The `rustyline` helper of the shell: completion only.
#[derive(Debug)]
pub(crate) struct ShellHelper {
    parser: clap::Command,
}

impl ShellHelper {
    /// A helper completing against [`line_parser`].
    pub(crate) fn new() -> ShellHelper {
        ShellHelper {
            parser: line_parser(),
        }
    }

    /// Completes `line` as typed up to the cursor: returns where the word
    /// being completed starts and the words it can become, sorted. The
    /// first word completes to a command name (or `help`, `exit`, ...);
    /// after `help`, a command name; a later word starting with `-`, to a
    /// flag of that command not given yet.
    pub(crate) fn candidates(&self, line: &str) -> (usize, Vec<String>) {
        let start = line
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = &line[start..];
        let before: Vec<&str> = line[..start].split_whitespace().collect();
        let mut found: Vec<String> = match before.as_slice() {
            [] => self
                .command_names()
                .chain(SHELL_WORDS.iter().map(|w| (*w).to_string()))
                .collect(),
            ["help"] => self.command_names().collect(),
            [name, given @ ..] if word.starts_with('-') => {
                match self
                    .parser
                    .get_subcommands()
                    .find(|c| !c.is_hide_set() && c.get_name() == *name)
                {
                    Some(command) => command
                        .get_arguments()
                        .filter(|a| !a.is_hide_set())
                        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                        .filter(|flag| !given.contains(&flag.as_str()))
                        .collect(),
                    None => Vec::new(),
                }
            }
            _ => Vec::new(),
        };
        found.retain(|c| c.starts_with(word));
        found.sort();
        found.dedup();
        (start, found)
    }

    fn command_names(&self) -> impl Iterator<Item = String> + '_ {
        self.parser
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .map(|c| c.get_name().to_string())
    }
}

impl Default for ShellHelper {
    fn default() -> ShellHelper {
        ShellHelper::new()
    }
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, found) = self.candidates(&line[..pos]);
        let pairs = found
            .into_iter()
            .map(|c| Pair {
                replacement: format!("{c} "),
                display: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {}

impl Validator for ShellHelper {}

impl Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::ShellHelper;

    fn complete(line: &str) -> (usize, Vec<String>) {
        ShellHelper::new().candidates(line)
    }

    #[test]
    fn the_first_word_completes_to_commands_the_shell_runs() {
        assert_eq!(complete("sc"), (0, vec!["scan".to_string()]));
        assert_eq!(complete("  de"), (2, vec!["delete".to_string()]));
        let (_, all) = complete("");
        for name in [
            "put", "get", "scan", "load", "dump", "verify", "help", "exit", ".limit",
        ] {
            assert!(all.iter().any(|c| c == name), "{name} missing from {all:?}");
        }
        for name in ["shell", "bench", "demo"] {
            assert!(!all.iter().any(|c| c == name), "{name} offered: {all:?}");
        }
        assert_eq!(complete("help sc"), (5, vec!["scan".to_string()]));
    }

    #[test]
    fn flags_complete_from_the_commands_declaration() {
        assert_eq!(complete("scan --pre"), (5, vec!["--prefix".to_string()]));
        assert_eq!(
            complete("scan --prefix a --re"),
            (16, vec!["--reverse".to_string()])
        );
        let (_, flags) = complete("get key --");
        assert!(flags.contains(&"--hex".to_string()), "{flags:?}");
        assert!(flags.contains(&"--help".to_string()), "{flags:?}");
        // A flag already given is not offered again.
        let (_, flags) = complete("scan --reverse --");
        assert!(!flags.contains(&"--reverse".to_string()), "{flags:?}");
        // No flags for a word that is not a flag, nor for an unknown command.
        assert_eq!(complete("scan pre").1, Vec::<String>::new());
        assert_eq!(complete("bogus --").1, Vec::<String>::new());
        assert_eq!(complete("bench --").1, Vec::<String>::new());
    }
}
