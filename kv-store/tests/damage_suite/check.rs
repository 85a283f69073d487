//! Runs the reading commands on a damaged copy of a store and classifies
//! what a user would have seen.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::build::Built;
use super::targets::Case;
use super::{BIN, Engine, files};

/// How many `get`s read the keys failing scans could not reach, at most
/// (spread over them; deleted keys among them too).
const GAP_GETS_MAX: usize = 8;
/// How many more scans start inside the gap two failing scans leave, at
/// most (each from a key of the gap to the next one's start).
const GAP_SCANS_MAX: usize = 4;
/// A command that runs longer than this has hung.
const COMMAND_TIMEOUT_S: &str = "120";

/// What a case came to, worst first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Outcome {
    /// A read returned a pair that is missing, stale, resurrected, extra or
    /// out of order, without an error.
    SilentLoss,
    /// As `SilentLoss`, for damage that makes the store exactly an earlier
    /// healthy state of itself (see `Case::rollback`): reads are consistent
    /// with that earlier commit. Not a failure, and documented.
    Rollback,
    /// `verify` exited 0 while a read failed.
    VerifyMissed,
    /// `verify` exited 0 on damage it must report though every key reads
    /// right (the older meta page of a B+ tree).
    Unreported,
    /// `verify` exited non-zero and named the damaged file; reads that
    /// returned pairs returned the right ones.
    Detected,
    /// `verify` exited non-zero without naming the damaged file.
    DetectedUnlocated,
    /// Open refused (no read returned a pair), naming the file.
    Refused,
    /// Open refused without naming the file.
    RefusedUnnamed,
    /// `verify` ok and every key reads right (damage to a dead file, to
    /// padding, or repaired from parity).
    Harmless,
}

impl Outcome {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Outcome::SilentLoss => "SILENT LOSS",
            Outcome::Rollback => "rollback to an earlier commit (undetectable)",
            Outcome::VerifyMissed => "VERIFY MISSED",
            Outcome::Unreported => "UNREPORTED",
            Outcome::Detected => "detected",
            Outcome::DetectedUnlocated => "detected, unlocated",
            Outcome::Refused => "refused",
            Outcome::RefusedUnnamed => "refused, unnamed",
            Outcome::Harmless => "harmless",
        }
    }

    pub(crate) fn is_failure(self) -> bool {
        matches!(
            self,
            Outcome::SilentLoss | Outcome::VerifyMissed | Outcome::Unreported
        )
    }
}

/// One case's result.
#[derive(Debug)]
pub(crate) struct CaseResult {
    pub(crate) case: Case,
    pub(crate) outcome: Outcome,
    /// A reading command changed, created or deleted a file: which and how.
    pub(crate) file_changed: Option<String>,
    /// A command panicked, died of a signal or hung: which.
    pub(crate) panic: Option<String>,
    /// `verify`'s exit code and first line of output.
    pub(crate) verify: String,
    /// What the reads found wrong, silently (first few).
    pub(crate) silent: Vec<String>,
    /// Reads that failed with an error.
    pub(crate) read_errors: usize,
    /// Live keys no read reached (beyond the `get` budget).
    pub(crate) unchecked: usize,
}

impl CaseResult {
    /// The labels of this case: the outcome, and FILE CHANGED / PANIC.
    pub(crate) fn labels(&self) -> Vec<&'static str> {
        let mut l = Vec::new();
        if self.panic.is_some() {
            l.push("PANIC");
        }
        if self.file_changed.is_some() {
            l.push("FILE CHANGED");
        }
        l.push(self.outcome.label());
        l
    }

    /// One line for the report.
    pub(crate) fn line(&self) -> String {
        let mut s = format!(
            "{} | {} | {} | {} | verify: {}",
            self.case.kind,
            self.case.file.display(),
            self.case.what(),
            self.labels().join(" + "),
            self.verify
        );
        if !self.silent.is_empty() {
            s += &format!(" | silent: {}", self.silent.join("; "));
        }
        if let Some(c) = &self.file_changed {
            s += &format!(" | {c}");
        }
        if let Some(p) = &self.panic {
            s += &format!(" | {p}");
        }
        if self.read_errors > 0 {
            s += &format!(" | {} read(s) failed", self.read_errors);
        }
        if self.unchecked > 0 {
            s += &format!(" | {} key(s) unchecked", self.unchecked);
        }
        s
    }
}

/// A command's result.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

fn kv(dir: &Path, engine: Engine, args: &[&str]) -> Run {
    let out: Output = Command::new("timeout")
        .arg(COMMAND_TIMEOUT_S)
        .arg(BIN)
        .arg("--db")
        .arg(dir)
        .args(["--engine", engine.name()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A reading command plus the file-change and panic bookkeeping around it.
struct Reader<'a> {
    dir: &'a Path,
    engine: Engine,
    changed: Vec<String>,
    panic: Option<String>,
}

impl Reader<'_> {
    fn run(&mut self, args: &[&str]) -> Run {
        let before = files::snapshot(self.dir);
        let r = kv(self.dir, self.engine, args);
        if let Some(d) = files::diff(&before, &files::snapshot(self.dir)) {
            self.changed.push(format!("`{}` {d}", args.join(" ")));
        }
        let panicked = r.stderr.contains("panicked") || r.stderr.contains("internal error");
        let bad_exit = !matches!(r.code, Some(0..=2));
        if (panicked || bad_exit) && self.panic.is_none() {
            let what = if r.code == Some(124) {
                "hung".to_string()
            } else {
                format!("exit {:?}", r.code)
            };
            self.panic = Some(format!(
                "`{}` {what}: {}",
                args.join(" "),
                r.stderr.lines().next().unwrap_or("")
            ));
        }
        r
    }
}

/// Parses `key<TAB>value` lines of a scan (our keys and values need no
/// escapes).
fn pairs(stdout: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    stdout
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// Checks one direction of a scan (forward ones starting at `from`) against
/// the model; returns the last key it printed. `silent` collects what it
/// printed wrong, and live keys it skipped before its last key.
fn check_scan(
    built: &Built,
    printed: &[(Vec<u8>, Vec<u8>)],
    reverse: bool,
    from: Option<&Vec<u8>>,
    silent: &mut Vec<String>,
) -> Option<Vec<u8>> {
    let show = |k: &[u8]| String::from_utf8_lossy(k).into_owned();
    let mut prev: Option<&Vec<u8>> = None;
    for (k, v) in printed {
        if let Some(p) = prev
            && ((k <= p) != reverse || k == p)
        {
            silent.push(format!("{} out of order after {}", show(k), show(p)));
        }
        prev = Some(k);
        match built.model.get(k) {
            Some(want) if want == v => {}
            Some(_) => silent.push(format!("{} stale", show(k))),
            None if built.deleted.contains(k) => {
                silent.push(format!("{} deleted but read", show(k)));
            }
            None => silent.push(format!("{} unknown key", show(k))),
        }
    }
    let last = printed.last().map(|(k, _)| k.clone())?;
    let seen: std::collections::BTreeSet<&Vec<u8>> = printed.iter().map(|(k, _)| k).collect();
    let skipped = built
        .model
        .keys()
        .filter(|k| {
            if reverse {
                **k > last
            } else {
                **k < last && from.is_none_or(|f| *k >= f)
            }
        })
        .filter(|k| !seen.contains(k))
        .count();
    if skipped > 0 {
        silent.push(format!(
            "{skipped} live key(s) missing from the {} scan",
            if reverse { "reverse" } else { "forward" }
        ));
    }
    Some(last)
}

/// Damages a fresh copy of `built` in `dir` by `case`, runs the reading
/// commands and classifies the outcome.
pub(crate) fn run_case(engine: Engine, built: &Built, case: &Case, dir: &Path) -> CaseResult {
    files::write_tree(dir, &built.tree);
    case.apply(dir);
    let mut reader = Reader {
        dir,
        engine,
        changed: Vec::new(),
        panic: None,
    };
    let verify = reader.run(&["verify"]);
    let mut silent = Vec::new();
    let mut read_errors = 0usize;
    let mut unchecked = 0usize;
    let mut pairs_read = 0usize;

    let forward = reader.run(&["scan"]);
    let printed = pairs(&forward.stdout);
    pairs_read += printed.len();
    let first_fail = check_scan(built, &printed, false, None, &mut silent);
    if forward.code == Some(0) {
        if printed.len() != built.model.len() || first_fail.is_none() && !built.model.is_empty() {
            let seen: std::collections::BTreeSet<&Vec<u8>> =
                printed.iter().map(|(k, _)| k).collect();
            let missing = built.model.keys().filter(|k| !seen.contains(k)).count();
            if missing > 0 {
                silent.push(format!("{missing} live key(s) missing from a full scan"));
            }
        }
    } else {
        read_errors += 1;
        let reverse = reader.run(&["scan", "--reverse"]);
        if reverse.code != Some(0) {
            read_errors += 1;
        }
        let printed_rev = pairs(&reverse.stdout);
        pairs_read += printed_rev.len();
        let last_fail = check_scan(built, &printed_rev, true, None, &mut silent);
        let mut covered: std::collections::BTreeSet<Vec<u8>> = printed
            .iter()
            .chain(&printed_rev)
            .map(|(k, _)| k.clone())
            .collect();
        let in_gap = |k: &Vec<u8>| {
            first_fail.as_ref().is_none_or(|f| k > f) && last_fail.as_ref().is_none_or(|l| k < l)
        };
        let spread = |v: &[&Vec<u8>], n: usize| -> Vec<Vec<u8>> {
            if v.is_empty() {
                return Vec::new();
            }
            let n = n.min(v.len());
            (0..n).map(|i| v[i * v.len() / n].clone()).collect()
        };
        // Scans starting inside the gap reach what lies past the damage.
        let gap: Vec<&Vec<u8>> = built.model.keys().filter(|k| in_gap(k)).collect();
        let starts = spread(&gap, GAP_SCANS_MAX);
        for (i, start) in starts.iter().enumerate() {
            let from = String::from_utf8_lossy(start).into_owned();
            let to = starts
                .get(i + 1)
                .or(last_fail.as_ref())
                .map(|t| String::from_utf8_lossy(t).into_owned());
            let mut args = vec!["scan", "--from", &from];
            if let Some(t) = &to {
                args.extend(["--to", t]);
            }
            let probe = reader.run(&args);
            if probe.code != Some(0) {
                read_errors += 1;
            }
            let printed_probe = pairs(&probe.stdout);
            pairs_read += printed_probe.len();
            check_scan(built, &printed_probe, false, Some(start), &mut silent);
            covered.extend(printed_probe.into_iter().map(|(k, _)| k));
        }
        // The keys no scan reached: read a spread of them with `get`.
        let live: Vec<&Vec<u8>> = gap.into_iter().filter(|k| !covered.contains(*k)).collect();
        let dead: Vec<&Vec<u8>> = built.deleted.iter().filter(|k| in_gap(k)).collect();
        let live_picked = spread(&live, GAP_GETS_MAX - 2);
        unchecked = live.len() - live_picked.len();
        for k in live_picked.iter().chain(&spread(&dead, 2)) {
            let key = String::from_utf8_lossy(k).into_owned();
            let got = reader.run(&["get", &key]);
            let want = built.model.get(k);
            match (got.code, want) {
                (Some(0), Some(v))
                    if got.stdout.trim_end_matches('\n').as_bytes() == v.as_slice() =>
                {
                    pairs_read += 1;
                }
                (Some(0), Some(_)) => silent.push(format!("get {key} stale")),
                (Some(0), None) => silent.push(format!("get {key} deleted but read")),
                (Some(1), _) if got.stderr.contains("key not found") => {
                    if want.is_some() {
                        silent.push(format!("get {key} not found"));
                    }
                }
                _ => read_errors += 1,
            }
        }
    }

    let verify_line = format!(
        "exit {:?}: {}",
        verify.code,
        verify
            .text()
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(160)
            .collect::<String>()
    );
    let named = {
        let text = verify.text();
        let name = super::base_name(&case.file);
        let in_blobs = case.file.components().count() > 1;
        text.contains(&name) || (in_blobs && text.contains("blob"))
    };
    let outcome = if !silent.is_empty() {
        if case.rollback.is_some() && verify.code == Some(0) {
            Outcome::Rollback
        } else {
            Outcome::SilentLoss
        }
    } else if verify.code == Some(0) {
        if read_errors > 0 {
            Outcome::VerifyMissed
        } else if case.must_report {
            Outcome::Unreported
        } else {
            Outcome::Harmless
        }
    } else if pairs_read == 0 && !built.model.is_empty() {
        if named {
            Outcome::Refused
        } else {
            Outcome::RefusedUnnamed
        }
    } else if named {
        Outcome::Detected
    } else {
        Outcome::DetectedUnlocated
    };
    CaseResult {
        case: case.clone(),
        outcome,
        file_changed: (!reader.changed.is_empty()).then(|| reader.changed.join("; ")),
        panic: reader.panic,
        verify: verify_line,
        silent: silent.into_iter().take(4).collect(),
        read_errors,
        unchecked,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::{Built, check_scan};

    fn built() -> Built {
        let model: BTreeMap<Vec<u8>, Vec<u8>> = [("a", "1"), ("b", "2"), ("d", "4")]
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        let deleted: BTreeSet<Vec<u8>> = [b"c".to_vec()].into();
        Built {
            tree: BTreeMap::new(),
            model,
            deleted,
            history: Vec::new(),
        }
    }

    fn scan(pairs: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn check_scan_accepts_the_model_and_flags_every_silent_error() {
        let b = built();
        let mut silent = Vec::new();
        check_scan(
            &b,
            &scan(&[("a", "1"), ("b", "2"), ("d", "4")]),
            false,
            None,
            &mut silent,
        );
        check_scan(
            &b,
            &scan(&[("d", "4"), ("b", "2")]),
            true,
            None,
            &mut silent,
        );
        assert!(silent.is_empty(), "{silent:?}");
        let wrong: [(&[(&str, &str)], bool); 5] = [
            (&[("a", "1"), ("b", "old")], false),           // stale
            (&[("a", "1"), ("d", "4")], false),             // b skipped
            (&[("a", "1"), ("b", "2"), ("c", "3")], false), // deleted key back
            (&[("b", "2"), ("a", "1")], false),             // out of order
            (&[("d", "4"), ("a", "1")], true),              // b skipped in reverse
        ];
        for (pairs, reverse) in wrong {
            let mut silent = Vec::new();
            check_scan(&b, &scan(pairs), reverse, None, &mut silent);
            assert!(!silent.is_empty(), "{pairs:?} reverse={reverse} passed");
        }
    }

    #[test]
    fn check_scan_from_a_key_ignores_the_keys_before_it() {
        let b = built();
        let mut silent = Vec::new();
        let from = b"b".to_vec();
        check_scan(
            &b,
            &scan(&[("b", "2"), ("d", "4")]),
            false,
            Some(&from),
            &mut silent,
        );
        assert!(silent.is_empty(), "{silent:?}");
    }
}
