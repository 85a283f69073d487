//! Runs one command: opens the store the way the command needs, executes it
//! on the [`Engine`] trait, closes the store.

use std::io::Write;

use crate::cli::{Cli, Command, GetArgs, PutArgs, ScanArgs};
use crate::codec::{self, Encoding, Format};
use crate::engine::{Engine, Flow, ScanSpec};
use crate::store::{Create, Store};
use crate::{Error, Result};

/// Runs `cli`, writing its output to `out`.
///
/// # Errors
///
/// Whatever stopped the command; [`Error::exit_code`] gives the exit code.
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<()> {
    match &cli.command {
        Command::Demo(args) => crate::demo::run(args, cli.engine, out),
        Command::Bench(args) => crate::bench::run(args, cli.engine, out),
        Command::Shell(args) => {
            let store = Store::open(&cli.db, cli.engine, Create::IfMissing)?;
            let result = crate::shell::run(&store, *args, out);
            let closed = store.close();
            result.and(closed)
        }
        cmd => {
            // Reading commands open read-only: they write nothing, not even
            // on a damaged store, and run beside each other.
            let opened = match cmd {
                Command::Put(_) | Command::Delete(_) | Command::Load(_) => {
                    Store::open(&cli.db, cli.engine, Create::IfMissing)
                }
                Command::Compact | Command::Repair => {
                    Store::open(&cli.db, cli.engine, Create::Never)
                }
                _ => Store::open_read_only(&cli.db, cli.engine),
            };
            let store = match opened {
                Err(Error::Corruption { file, offset, what }) if matches!(cmd, Command::Verify) => {
                    // The engine refused to open: that is verify's finding.
                    writeln!(
                        out,
                        "corrupt: {} at offset {offset}: {what}",
                        file.display()
                    )
                    .map_err(Error::Output)?;
                    return Err(Error::CorruptionFound { count: 1 });
                }
                // Damage kept the engine from opening: inspect lists the files.
                Err(e) if e.exit_code() == 1 && matches!(cmd, Command::Inspect(_)) => {
                    return match cmd {
                        Command::Inspect(args) => {
                            crate::inspect::run_unopened(&cli.db, &e, args, out)
                        }
                        _ => Err(e),
                    };
                }
                Err(Error::Damaged { engine, message }) if matches!(cmd, Command::Verify) => {
                    writeln!(out, "corrupt: {engine} store: {message}").map_err(Error::Output)?;
                    return Err(Error::CorruptionFound { count: 1 });
                }
                other => other?,
            };
            let result = execute(store.engine(), cmd, out);
            let closed = store.close();
            result.and(closed)
        }
    }
}

/// Executes a store command on an open engine (shared by `run` and `shell`).
///
/// # Errors
///
/// As [`run`]; `shell`, `demo` and `bench` are refused here.
pub fn execute(engine: &dyn Engine, cmd: &Command, out: &mut dyn Write) -> Result<()> {
    let w = |r: std::io::Result<()>| r.map_err(Error::Output);
    match cmd {
        Command::Put(args) => put(engine, args),
        Command::Get(args) => get(engine, args, out),
        Command::Delete(args) => {
            let key = decode(args.enc.encoding(), &args.key)?;
            engine.delete(&key)
        }
        Command::Scan(args) => scan(engine, args, out),
        Command::Load(args) => {
            let r = crate::transfer::load(
                engine,
                &args.input,
                Format::for_path(args.format, &args.input),
                args.batch,
            )?;
            w(writeln!(
                out,
                "loaded {} pairs ({} bytes)",
                r.pairs, r.bytes
            ))
        }
        Command::Dump(args) => {
            let n = crate::transfer::dump(
                engine,
                &args.output,
                Format::for_path(args.format, &args.output),
                out,
            )?;
            if args.output != "-" {
                w(writeln!(out, "dumped {n} pairs to {}", args.output))?;
            }
            Ok(())
        }
        Command::Stats => {
            let text = engine.stats()?;
            w(writeln!(out, "{text}"))
        }
        Command::Compact => {
            engine.compact()?;
            w(writeln!(out, "compacted"))
        }
        Command::Verify => {
            let report = engine.verify()?;
            for c in &report.corruptions {
                w(writeln!(out, "corrupt: {c}"))?;
            }
            if report.corruptions.is_empty() {
                w(writeln!(
                    out,
                    "ok: {} pairs in {} file(s) read, every checksum matched",
                    report.pairs_checked, report.files_checked
                ))
            } else {
                Err(Error::CorruptionFound {
                    count: report.corruptions.len(),
                })
            }
        }
        Command::Repair => {
            let text = engine.repair()?;
            w(writeln!(out, "{text}"))?;
            // What the engine's repair cannot mend stays; only a verify
            // after it tells whether the store is whole again.
            let report = engine.verify()?;
            for c in &report.corruptions {
                w(writeln!(out, "not repaired: {c}"))?;
            }
            if report.corruptions.is_empty() {
                w(writeln!(
                    out,
                    "verified: {} pairs in {} file(s), every checksum matched",
                    report.pairs_checked, report.files_checked
                ))
            } else {
                Err(Error::DamageRemains {
                    count: report.corruptions.len(),
                    first: report.corruptions[0].to_string(),
                })
            }
        }
        Command::Inspect(args) => crate::inspect::run(engine, args, out),
        Command::Shell(_) | Command::Demo(_) | Command::Bench(_) => Err(Error::BadArgument(
            "shell, demo and bench cannot run inside the shell".to_string(),
        )),
    }
}

fn decode(enc: Encoding, arg: &str) -> Result<Vec<u8>> {
    enc.decode(arg).map_err(Error::BadArgument)
}

fn put(engine: &dyn Engine, args: &PutArgs) -> Result<()> {
    let enc = args.enc.encoding();
    let key = decode(enc, &args.key)?;
    let value = match (&args.file, &args.value) {
        (Some(path), _) => std::fs::read(path).map_err(|e| Error::io(path, e))?,
        (None, Some(v)) => decode(enc, v)?,
        (None, None) => {
            return Err(Error::BadArgument(
                "put needs a VALUE or --file".to_string(),
            ));
        }
    };
    engine.put(&key, &value)
}

fn get(engine: &dyn Engine, args: &GetArgs, out: &mut dyn Write) -> Result<()> {
    let enc = args.enc.encoding();
    let key = decode(enc, &args.key)?;
    let value = engine.get(&key)?.ok_or(Error::NotFound)?;
    match &args.out {
        Some(path) => std::fs::write(path, &value).map_err(|e| Error::io(path, e)),
        None => writeln!(out, "{}", enc.encode(&value)).map_err(Error::Output),
    }
}

fn scan(engine: &dyn Engine, args: &ScanArgs, out: &mut dyn Write) -> Result<()> {
    let enc = args.enc.encoding();
    let opt = |a: &Option<String>| a.as_deref().map(|s| decode(enc, s)).transpose();
    let spec = ScanSpec {
        prefix: opt(&args.prefix)?,
        from: opt(&args.from)?,
        to: opt(&args.to)?,
        reverse: args.reverse,
        limit: args.limit,
    };
    engine.scan(&spec, &mut |k, v| {
        let value = (!args.keys_only).then_some(v);
        let line = codec::format_line(args.format, enc, k, value);
        writeln!(out, "{line}").map_err(Error::Output)?;
        Ok(Flow::Continue)
    })
}
