//! The benchmark report: runs comparable workloads over every structure and
//! engine, and writes `index.md`, one SVG per plot and `results.json`.
//!
//! A workload returns a [`Section`]: tables whose columns state their units,
//! and plots. [`run`] gathers them with the [`Machine`] they ran on;
//! [`write()`] renders them.

mod adapters;
pub mod device;
pub mod engines;
mod erasure;
mod machine;
mod plot;
mod structures;

use std::fmt::Write as _;
use std::path::Path;

pub use machine::Machine;

/// How much work each workload does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Seconds in all: for tests of the harness itself.
    Tiny,
    /// Under five minutes on a 2-core machine.
    Quick,
    /// A million keys: the sizes the report used to stop at.
    Full,
    /// At the scale users run engines: 20 M keys, 36× the block cache,
    /// every phase bounded by a time budget; 40 minutes on a 2-core machine.
    Large,
}

impl Scale {
    /// `tiny`, `quick`, `full` of some quantity; `Large` takes `full`
    /// (the structure workloads do not grow past it).
    pub fn pick<T>(self, tiny: T, quick: T, full: T) -> T {
        match self {
            Scale::Tiny => tiny,
            Scale::Quick => quick,
            Scale::Full | Scale::Large => full,
        }
    }

    /// `tiny`, `quick`, `full`, `large` of some quantity.
    pub fn pick4<T>(self, tiny: T, quick: T, full: T, large: T) -> T {
        match self {
            Scale::Large => large,
            _ => self.pick(tiny, quick, full),
        }
    }

    /// The scale named `tiny`, `quick`, `full` or `large`.
    ///
    /// # Errors
    ///
    /// Any other name, with the known ones.
    pub fn from_name(name: &str) -> Result<Scale, String> {
        match name {
            "tiny" => Ok(Scale::Tiny),
            "quick" => Ok(Scale::Quick),
            "full" => Ok(Scale::Full),
            "large" => Ok(Scale::Large),
            other => Err(format!(
                "no scale named {other:?} (known: tiny, quick, full, large)"
            )),
        }
    }
}

/// A table cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Words.
    Text(String),
    /// A measured number; its unit is in the column header.
    Num(f64),
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<f64> for Cell {
    fn from(v: f64) -> Cell {
        Cell::Num(v)
    }
}

/// A table: a caption, headers with units, rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// What the table shows.
    pub caption: String,
    /// Column headers, each naming its unit, e.g. `"lookup (ns)"`.
    pub columns: Vec<String>,
    /// The rows, as many cells as columns.
    pub rows: Vec<Vec<Cell>>,
}

/// One line of a plot.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend entry.
    pub name: String,
    /// `(x, y)` points in order of `x`.
    pub points: Vec<(f64, f64)>,
}

/// A line plot written as an SVG file.
#[derive(Clone, Debug, PartialEq)]
pub struct Plot {
    /// The file name, `<name>.svg`.
    pub name: String,
    /// The title above the plot.
    pub title: String,
    /// The x axis label, with its unit.
    pub x_label: String,
    /// The y axis label, with its unit.
    pub y_label: String,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// Names of the x values 1, 2, ... when the x axis is categorical: the
    /// plot is then grouped bars (one per series) under those names, not
    /// lines. Empty for a numeric x axis.
    pub categories: Vec<String>,
    /// The lines (or, with categories, the bars).
    pub series: Vec<Series>,
}

/// What one workload measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    /// The name `--only` selects it by.
    pub name: String,
    /// The heading.
    pub title: String,
    /// Paragraphs before the tables: method, sizes, caveats.
    pub notes: Vec<String>,
    /// Tables of results.
    pub tables: Vec<Table>,
    /// Plots of results.
    pub plots: Vec<Plot>,
}

/// Called with the name of each step as it starts.
pub type Progress<'a> = &'a mut dyn FnMut(&str);

/// What every workload runs with.
#[derive(Clone, Debug)]
pub struct Context {
    /// How large.
    pub scale: Scale,
    /// Where engines keep their files (a real disk, not tmpfs, for write
    /// amplification to be measured).
    pub data_dir: std::path::PathBuf,
    /// Every engine phase's time budget is multiplied by this (1 as
    /// calibrated for a 2-core machine).
    pub budget_factor: f64,
}

/// A workload: its name and the function that runs it.
pub struct Workload {
    /// The name `--only` selects it by.
    pub name: &'static str,
    /// Runs it, reporting each step's name to `progress`.
    pub run: fn(&Context, Progress<'_>) -> Section,
    /// Steps it reports, for a progress bar.
    pub steps: u64,
}

/// Every workload, in report order.
pub fn workloads() -> Vec<Workload> {
    let mut all = structures::workloads();
    all.push(Workload {
        name: "erasure",
        run: erasure::erasure,
        steps: 2,
    });
    all.push(Workload {
        name: "engines",
        run: run_engines,
        steps: engines::STEPS_PER_ENGINE * adapters::engines().len() as u64,
    });
    all
}

fn run_engines(context: &Context, progress: Progress<'_>) -> Section {
    let sizes = engines::Sizes::of(context.scale).budgets_times(context.budget_factor);
    // A probe as large as the engines' data, up to 1 GiB: past the device's
    // own cache, and a fraction of memory (the page cache is dropped anyway).
    let probe_bytes = (sizes.keys * (sizes.key_len + sizes.value_len) as u64).min(1 << 30);
    let limits = device::measure(&context.data_dir, probe_bytes, sizes.phase_secs, sizes.ops);
    let runs: Vec<engines::EngineRun> = adapters::engines()
        .iter()
        .map(|spec| engines::run_engine(spec, &context.data_dir, sizes, progress))
        .collect();
    engines::section(&runs, sizes, limits)
}

/// A finished report.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// How large.
    pub scale: Scale,
    /// Whether peers were measured (`--features peers`).
    pub peers: bool,
    /// The results, in report order.
    pub sections: Vec<Section>,
}

/// Runs the workloads named in `only` (all if empty), calling `progress`
/// with each step's name.
pub fn run(
    scale: Scale,
    only: &[String],
    data_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Report {
    run_with(
        &Context {
            scale,
            data_dir: data_dir.to_path_buf(),
            budget_factor: 1.0,
        },
        only,
        progress,
    )
}

/// [`run`] with every setting of `context`.
pub fn run_with(context: &Context, only: &[String], progress: &mut dyn FnMut(&str)) -> Report {
    let (scale, data_dir) = (context.scale, context.data_dir.as_path());
    let sections = workloads()
        .into_iter()
        .filter(|w| only.is_empty() || only.iter().any(|o| o == w.name))
        .map(|w| (w.run)(context, progress))
        .collect();
    Report {
        machine: Machine::detect(data_dir),
        scale,
        peers: cfg!(feature = "peers"),
        sections,
    }
}

/// Writes `index.md`, one SVG per plot and `results.json` into `out`.
///
/// # Errors
///
/// Creating the directory or writing a file failed.
pub fn write(report: &Report, out: &Path, command: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    for section in &report.sections {
        for p in &section.plots {
            plot::svg(p, &out.join(format!("{}.svg", p.name)))?;
        }
    }
    std::fs::write(out.join("index.md"), markdown(report, command))?;
    std::fs::write(out.join("results.json"), json(report).to_string())?;
    Ok(())
}

/// `n` with thousands separated, for captions.
pub fn thousands(n: u64) -> String {
    format_num(n as f64)
}

fn format_num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a < 1000.0 && v.fract() == 0.0 {
        // Counts and sizes: no decimals.
        format!("{v:.0}")
    } else if a >= 1000.0 {
        // Thousands separated, no decimals.
        let s = format!("{:.0}", v.abs());
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if v < 0.0 { format!("-{out}") } else { out }
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.01 {
        format!("{v:.3}")
    } else {
        format!("{v:.2e}")
    }
}

/// The peers this binary measures, for the report's header.
fn peers_line(peers: bool) -> String {
    let mut built = Vec::new();
    if peers {
        built.push("fjall, redb (`--features peers`)");
    }
    if cfg!(feature = "rocksdb") {
        built.push("RocksDB (`rocksdb`)");
    }
    if cfg!(feature = "lmdb") {
        built.push("LMDB (`lmdb`)");
    }
    if built.is_empty() {
        "not built (add `--features peers`, `rocksdb`, `lmdb`)".into()
    } else {
        format!("measured in the same run: {}", built.join(", "))
    }
}

fn markdown(report: &Report, command: &str) -> String {
    let m = &report.machine;
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmark report\n");
    let _ = writeln!(s, "Made by `{command}`.\n");
    let _ = writeln!(
        s,
        "Object storage (lsm tables on S3 against local tables and SlateDB): \
         [remote.md](remote.md), made by the `remote` binary.\n"
    );
    let _ = writeln!(s, "| | |\n| --- | --- |");
    for (k, v) in [
        ("date (UTC)", m.date.as_str()),
        ("commit", m.commit.as_str()),
        ("CPU", m.cpu.as_str()),
        ("cores", &m.cores.to_string()),
        ("memory", &format!("{:.1} GiB", m.memory_gib)),
        ("kernel", m.kernel.as_str()),
        ("data directory filesystem", m.filesystem.as_str()),
        ("data device read-ahead", m.read_ahead.as_str()),
        ("scale", &format!("{:?}", report.scale)),
        ("peers", &peers_line(report.peers)),
    ] {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Sections: {}\n",
        report
            .sections
            .iter()
            .map(|x| format!("[{}](#{})", x.title, x.name))
            .collect::<Vec<_>>()
            .join(" · ")
    );
    for section in &report.sections {
        let _ = writeln!(s, "<a id=\"{}\"></a>\n## {}\n", section.name, section.title);
        for note in &section.notes {
            let _ = writeln!(s, "{note}\n");
        }
        for table in &section.tables {
            let _ = writeln!(s, "{}\n", table.caption);
            let _ = writeln!(s, "| {} |", table.columns.join(" | "));
            let _ = writeln!(s, "|{}", " --- |".repeat(table.columns.len()));
            for row in &table.rows {
                let cells: Vec<String> = row
                    .iter()
                    .map(|c| match c {
                        Cell::Text(t) => t.clone(),
                        Cell::Num(v) => format_num(*v),
                    })
                    .collect();
                let _ = writeln!(s, "| {} |", cells.join(" | "));
            }
            let _ = writeln!(s);
        }
        for p in &section.plots {
            let _ = writeln!(s, "![{}]({}.svg)\n", p.title, p.name);
        }
    }
    s
}

fn json(report: &Report) -> serde_json::Value {
    use serde_json::json;
    let m = &report.machine;
    json!({
        "machine": {
            "date": m.date, "commit": m.commit, "cpu": m.cpu, "cores": m.cores,
            "memory_gib": m.memory_gib, "kernel": m.kernel, "filesystem": m.filesystem,
            "read_ahead": m.read_ahead,
        },
        "scale": format!("{:?}", report.scale),
        "peers": report.peers,
        "sections": report.sections.iter().map(|s| json!({
            "name": s.name,
            "title": s.title,
            "tables": s.tables.iter().map(|t| json!({
                "caption": t.caption,
                "columns": t.columns,
                "rows": t.rows.iter().map(|r| r.iter().map(|c| match c {
                    Cell::Text(t) => json!(t),
                    Cell::Num(v) => json!(v),
                }).collect::<Vec<_>>()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "plots": s.plots.iter().map(|p| json!({
                "name": p.name, "title": p.title, "x": p.x_label, "y": p.y_label,
                "series": p.series.iter().map(|x| json!({"name": x.name, "points": x.points})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_are_named_and_large_grows_only_the_engines() {
        for (name, scale) in [
            ("tiny", Scale::Tiny),
            ("quick", Scale::Quick),
            ("full", Scale::Full),
            ("large", Scale::Large),
        ] {
            assert_eq!(Scale::from_name(name), Ok(scale));
        }
        assert!(Scale::from_name("huge").unwrap_err().contains("large"));
        assert_eq!(Scale::Large.pick(1, 2, 3), 3);
        assert_eq!(Scale::Large.pick4(1, 2, 3, 4), 4);
        assert_eq!(Scale::Full.pick4(1, 2, 3, 4), 3);
        assert_eq!(engines::Sizes::of(Scale::Large).keys, 20_000_000);
    }

    #[test]
    fn numbers_are_printed_readably() {
        assert_eq!(format_num(1_234_567.0), "1,234,567");
        assert_eq!(format_num(-1234.0), "-1,234");
        assert_eq!(format_num(12.345), "12.3");
        assert_eq!(format_num(0.5), "0.500");
        assert_eq!(format_num(0.000_123), "1.23e-4");
        assert_eq!(format_num(4.0), "4");
        assert_eq!(format_num(352.0), "352");
    }
}
