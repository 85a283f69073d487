//! `demo`: a tour that creates a store, loads generated data, then gets,
//! scans, shows stats and verifies, printing each step as the command a user
//! would type and running exactly that command line.

use std::io::{BufWriter, Write};
use std::path::Path;

use clap::Parser;

use crate::cli::{Cli, DemoArgs};
use crate::engine::EngineKind;
use crate::{Error, Result};

/// Runs the demo for `engine` (lsm when `None`).
///
/// # Errors
///
/// The first failing step's error.
pub fn run(args: &DemoArgs, engine: Option<EngineKind>, out: &mut dyn Write) -> Result<()> {
    let w = |r: std::io::Result<()>| r.map_err(Error::Output);
    let temp;
    let base = match &args.dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("kv-store-demo")
                .tempdir()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?;
            temp.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&base).map_err(|e| Error::io(&base, e))?;
    let engine = engine.unwrap_or(EngineKind::Lsm);
    let db = base.join(format!("{engine}-store"));
    let data = base.join("demo-data.tsv");
    let keys = args.keys.max(1);
    write_data(&data, keys)?;
    w(writeln!(
        out,
        "# {keys} generated pairs are in {}",
        data.display()
    ))?;
    let db_s = db.display().to_string();
    let data_s = data.display().to_string();
    let probe = format!("user:{:06}", keys / 2);
    let probe_prefix = format!("user:{:05}", keys / 20);
    let steps: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--engine", engine.as_str(), "load", &data_s],
            "bulk-load the file (a progress bar shows on a terminal)",
        ),
        (vec!["get", &probe], "read one key"),
        (
            vec!["scan", "--prefix", &probe_prefix, "--limit", "5"],
            "the first 5 keys with a prefix",
        ),
        (
            vec!["scan", "--reverse", "--limit", "3", "--format", "json"],
            "the last 3 pairs as JSON lines",
        ),
        (vec!["delete", &probe], "delete a key"),
        (vec!["compact"], "rewrite the store"),
        (vec!["stats"], "the engine's shape and counters"),
        (vec!["verify"], "read every block and check every checksum"),
    ];
    for (rest, why) in steps {
        let mut argv = vec!["kv-store", "--db", &db_s];
        argv.extend(rest);
        w(writeln!(out, "\n# {why}\n$ {}", quote_line(&argv)))?;
        w(out.flush())?;
        let cli = Cli::try_parse_from(&argv).map_err(|e| Error::Internal(e.to_string()))?;
        crate::run::run(&cli, out)?;
    }
    w(writeln!(out))?;
    if args.dir.is_some() {
        w(writeln!(
            out,
            "# the store is kept at {db_s}; try `kv-store --db {db_s} shell`"
        ))
    } else {
        w(writeln!(
            out,
            "# the temporary store was removed; pass --dir DIR to keep it"
        ))
    }
}

fn write_data(path: &Path, keys: u64) -> Result<()> {
    let f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut f = BufWriter::new(f);
    let colors = ["red", "green", "blue", "amber", "violet"];
    for i in 0..keys {
        let color = colors[(i % colors.len() as u64) as usize];
        writeln!(
            f,
            "user:{i:06}\t{{\"name\":\"user {i}\",\"color\":\"{color}\",\"score\":{}}}",
            i * 7919 % 1000
        )
        .map_err(|e| Error::io(path, e))?;
    }
    f.flush().map_err(|e| Error::io(path, e))
}

fn quote_line(argv: &[&str]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@".contains(c))
            {
                (*a).to_string()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
