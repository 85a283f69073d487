//! Progress bars on stderr, hidden when stderr is not a terminal so logs and
//! tests see only the command's own output.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over `len` units (`None`: a spinner with a rate), labelled `what`.
pub(crate) fn bar(len: Option<u64>, what: &str, unit_is_bytes: bool) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let (pos, rate) = if unit_is_bytes {
        ("{bytes}/{total_bytes}", "{bytes_per_sec}")
    } else {
        // indicatif's `{per_sec}` prints `1,319,003.3478/s`.
        ("{human_pos}/{human_len}", "{whole_per_sec}")
    };
    let template = match len {
        Some(_) => format!("{{msg:>10}} [{{bar:30}}] {pos} {rate} ETA {{eta}}"),
        None => format!(
            "{{msg:>10}} {{spinner}} {} {rate}",
            pos.split('/').next().unwrap_or(pos)
        ),
    };
    let style = ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "whole_per_sec",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let rate = state.per_sec();
                let whole = if rate.is_finite() {
                    rate.round() as u64
                } else {
                    0
                };
                let _ = write!(w, "{}/s", crate::stats::thousands(whole));
            },
        )
        .progress_chars("=> ");
    let pb = ProgressBar::with_draw_target(len, target).with_style(style);
    pb.set_message(what.to_string());
    pb
}
