//! Runs one command: opens the store the way the command needs, executes it
//! on the [`Engine`] trait, closes the store.

use std::io::{Read, Write};

use crate::cli::{Cli, Command, CountArgs, GetArgs, PutArgs, RangeArgs, ReportFormat, ScanArgs};
use crate::codec::{self, Encoding, Format};
use crate::engine::EngineKind;
use crate::engine::{Corruption, Engine, Flow, ScanSpec, VerifyReport};
use crate::remote::S3Url;
use crate::stats;
use crate::store::{Create, Store};
use crate::{Error, Result};

/// Runs `cli`, writing its output to `out`.
///
/// # Errors
///
/// Whatever stopped the command; [`Error::exit_code`] gives the exit code.
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<()> {
    let wait = cli.wait.unwrap_or_default();
    if cli.keyspace.is_some() && !in_keyspace(&cli.command) {
        return Err(Error::BadArgument(
            "--keyspace works with put, get, delete, scan, count, load, dump and compact; \
             the other commands work on the whole store"
                .to_string(),
        ));
    }
    if let Some(url) = S3Url::parse(&cli.db) {
        return run_remote(cli, &url?, out);
    }
    if let Some(dir) = &cli.wal_dir {
        return Err(Error::BadArgument(format!(
            "--wal-dir {} is for --db s3://BUCKET/PREFIX; a local store keeps its log in its own directory",
            dir.display()
        )));
    }
    match &cli.command {
        Command::Demo(args) => crate::demo::run(args, cli.db_if_given(), cli.engine, out),
        Command::Bench(args) => crate::bench::run(args, cli.db_if_given(), cli.engine, out),
        Command::Restore(_) => crate::backup::execute(None, &cli.command, out),
        Command::Backup(args) if args.list => crate::backup::execute(None, &cli.command, out),
        Command::Checkpoint(_) | Command::Backup(_) => {
            let store = crate::backup::open_for_copy(&cli.db, cli.engine, wait)?;
            let result = crate::backup::execute(Some(store.engine()), &cli.command, out);
            let closed = store.close();
            result.and(closed)
        }
        Command::Shell(args) => {
            let store = Store::open_with_wait(&cli.db, cli.engine, Create::IfMissing, wait)?;
            let result = crate::shell::run(&store, *args, out);
            let closed = store.close();
            result.and(closed)
        }
        cmd => {
            // A key or value that does not decode, or an input file that
            // cannot be opened, is refused before the store is opened (or
            // created).
            check_arguments(cmd)?;
            check_inputs(cmd)?;
            // Reading commands open read-only: they write nothing, not even
            // on a damaged store, and run beside each other.
            let opened = match cmd {
                Command::Put(_) | Command::Delete(_) | Command::Load(_) => {
                    Store::open_with_wait(&cli.db, cli.engine, Create::IfMissing, wait)
                }
                Command::Keyspaces(args) if args.drop.is_some() => {
                    Store::open_with_wait(&cli.db, cli.engine, Create::Never, wait)
                }
                Command::Compact | Command::Repair => {
                    Store::open_with_wait(&cli.db, cli.engine, Create::Never, wait)
                }
                _ => Store::open_read_only_with_wait(&cli.db, cli.engine, wait),
            };
            let verify_format = match cmd {
                Command::Verify(args) => Some(args.format),
                _ => None,
            };
            let store = match opened {
                Err(Error::Corruption { file, offset, what }) if verify_format.is_some() => {
                    // The engine refused to open: that is verify's finding.
                    let report = VerifyReport {
                        corruptions: vec![Corruption { file, offset, what }],
                        ..VerifyReport::default()
                    };
                    return print_verify(&report, verify_format.unwrap_or_default(), out);
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
                Err(Error::Damaged { engine, message })
                    if verify_format == Some(ReportFormat::Text) =>
                {
                    writeln!(out, "corrupt: {engine} store: {message}").map_err(Error::Output)?;
                    return Err(Error::CorruptionFound { count: 1 });
                }
                Err(Error::Damaged { engine, message }) if verify_format.is_some() => {
                    let report = VerifyReport {
                        corruptions: vec![Corruption {
                            file: cli.db.clone(),
                            offset: 0,
                            what: format!("{engine} store: {message}"),
                        }],
                        ..VerifyReport::default()
                    };
                    return print_verify(&report, verify_format.unwrap_or_default(), out);
                }
                other => other?,
            };
            let mut store = store;
            let creates = matches!(cmd, Command::Put(_) | Command::Load(_));
            let result = match &cli.keyspace {
                Some(name) => store.use_keyspace(name, creates),
                None => Ok(()),
            }
            .and_then(|()| execute(store.engine(), cmd, out));
            // A write that failed on a store this command created (a key
            // over the limit, a bad first line) leaves no empty store.
            let closed = if result.is_err() {
                store.discard_if_empty().map(|_| ())
            } else {
                store.close()
            };
            result.and(closed)
        }
    }
}

/// Runs `cli` on the store at `url` (`--db s3://...`): reading commands
/// on an `lsm::Reader` of the published manifest, writing
/// ones on a writer whose log and manifest are in `--wal-dir`.
fn run_remote(cli: &Cli, url: &S3Url, out: &mut dyn Write) -> Result<()> {
    let name = url.to_string();
    let local_only = match &cli.command {
        // These do not use --db.
        Command::Restore(_) => return crate::backup::execute(None, &cli.command, out),
        Command::Backup(args) if args.list => {
            return crate::backup::execute(None, &cli.command, out);
        }
        Command::Checkpoint(_) => Some("checkpoint"),
        Command::Backup(_) => Some("backup"),
        Command::Bench(_) => Some("bench"),
        Command::Demo(_) => Some("demo"),
        _ => None,
    };
    if let Some(command) = local_only {
        return Err(Error::Remote(format!(
            "{command} needs a local store (--db DIR), not {name}"
        )));
    }
    if cli.engine == Some(EngineKind::Btree) {
        return Err(Error::Remote(format!(
            "--db {name}: only lsm stores keep their tables on an object store, not btree"
        )));
    }
    if cli.keyspace.is_some() {
        return Err(Error::Remote(format!(
            "--keyspace: {name} publishes its default keyspace only"
        )));
    }
    let cmd = &cli.command;
    check_arguments(cmd)?;
    check_inputs(cmd)?;
    let create = match cmd {
        Command::Put(_) | Command::Delete(_) | Command::Load(_) | Command::Shell(_) => {
            Some(Create::IfMissing)
        }
        Command::Compact | Command::Repair => Some(Create::Never),
        _ => None,
    };
    let tables = url.open()?;
    if let Some(create) = create {
        let wal_dir = cli.wal_dir.as_deref().ok_or_else(|| {
            Error::Remote(format!(
                "writing to {name} needs --wal-dir DIR: the write-ahead log and the manifest stay on a local disk"
            ))
        })?;
        let wait = cli.wait.unwrap_or_default();
        let store = Store::open_remote_writer(wal_dir, &name, tables, create, wait)?;
        let result = match cmd {
            Command::Shell(args) => crate::shell::run(&store, *args, out),
            cmd => execute(store.engine(), cmd, out),
        };
        let closed = store.close();
        return result.and(closed);
    }
    let store = match (Store::open_remote_reader(&name, tables), cmd) {
        // The published store did not open: that is verify's finding.
        (Err(Error::Corruption { file, offset, what }), Command::Verify(args)) => {
            let report = VerifyReport {
                corruptions: vec![Corruption { file, offset, what }],
                ..VerifyReport::default()
            };
            return print_verify(&report, args.format, out);
        }
        (opened, _) => opened?,
    };
    let result = execute(store.engine(), cmd, out);
    let closed = store.close();
    result.and(closed)
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
            let started = std::time::Instant::now();
            let format = Format::for_path(args.format, &args.input);
            let r = if args.sorted {
                crate::transfer::load_sorted(engine, &args.input, format)?
            } else {
                crate::transfer::load(engine, &args.input, format, args.batch)?
            };
            let took = started.elapsed();
            let bom = if r.bom_skipped {
                "; skipped a UTF-8 byte-order mark at the start"
            } else {
                ""
            };
            w(writeln!(
                out,
                "loaded {} pairs ({} bytes) in {}, {}{bom}",
                r.pairs,
                r.bytes,
                stats::human_duration(took),
                stats::per_second(r.pairs, took)
            ))
        }
        Command::Dump(args) => {
            let started = std::time::Instant::now();
            let n = crate::transfer::dump(
                engine,
                &args.output,
                Format::for_path(args.format, &args.output),
                out,
            )?;
            if args.output != "-" {
                let took = started.elapsed();
                w(writeln!(
                    out,
                    "dumped {n} pairs to {} in {}, {}",
                    args.output,
                    stats::human_duration(took),
                    stats::per_second(n, took)
                ))?;
            }
            Ok(())
        }
        Command::Stats(args) => {
            let facts = engine.store_stats()?;
            match args.format {
                ReportFormat::Text => w(writeln!(out, "{facts}")),
                ReportFormat::Json => w(writeln!(out, "{}", facts.to_json())),
            }
        }
        Command::Compact => {
            let started = std::time::Instant::now();
            let (files_before, bytes_before) = engine.store_stats()?.footprint();
            engine.compact()?;
            let (files_after, bytes_after) = engine.store_stats()?.footprint();
            w(writeln!(
                out,
                "compacted: {} {} -> {} {} in {}",
                stats::files(files_before),
                stats::human_bytes(bytes_before),
                stats::files(files_after),
                stats::human_bytes(bytes_after),
                stats::human_duration(started.elapsed())
            ))
        }
        Command::Verify(args) => {
            let report = engine.verify()?;
            print_verify(&report, args.format, out)
        }
        Command::Count(args) => count(engine, args, out),
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
        Command::Checkpoint(_) | Command::Backup(_) | Command::Restore(_) => {
            crate::backup::execute(Some(engine), cmd, out)
        }
        Command::Inspect(args) => crate::inspect::run(engine, args, out),
        Command::Keyspaces(args) => match &args.drop {
            Some(name) => {
                engine.drop_keyspace(name)?;
                w(writeln!(out, "dropped keyspace {name}"))
            }
            None => {
                for name in engine.keyspace_names() {
                    w(writeln!(out, "{name}"))?;
                }
                Ok(())
            }
        },
        Command::Shell(_) | Command::Demo(_) | Command::Bench(_) => Err(Error::BadArgument(
            "shell, demo and bench cannot run inside the shell".to_string(),
        )),
    }
}

/// Whether `--keyspace` applies to `cmd`: the commands on keys and values.
fn in_keyspace(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::Put(_)
            | Command::Get(_)
            | Command::Delete(_)
            | Command::Scan(_)
            | Command::Count(_)
            | Command::Load(_)
            | Command::Dump(_)
            | Command::Compact
    )
}

/// Decodes the key, value and bound arguments of `cmd`, only to refuse a
/// bad one before anything is opened.
fn check_arguments(cmd: &Command) -> Result<()> {
    let (enc, args): (Encoding, Vec<&String>) = match cmd {
        Command::Put(a) => (
            a.enc.encoding(),
            [Some(&a.key), a.value.as_ref()]
                .into_iter()
                .flatten()
                .collect(),
        ),
        Command::Get(a) => (a.enc.encoding(), vec![&a.key]),
        Command::Delete(a) => (a.enc.encoding(), vec![&a.key]),
        Command::Scan(a) => (a.enc.encoding(), a.range.given().collect()),
        Command::Count(a) => (a.enc.encoding(), a.range.given().collect()),
        _ => return Ok(()),
    };
    args.into_iter()
        .try_for_each(|arg| decode(enc, arg).map(drop))
}

/// Refuses, before the store is opened (and perhaps created), an input the
/// command would fail on: a `load` file or `put --file` that cannot be
/// opened. So a failed command leaves no new empty store behind.
fn check_inputs(cmd: &Command) -> Result<()> {
    let input = match cmd {
        Command::Load(args) if args.input != "-" => std::path::Path::new(&args.input),
        Command::Put(PutArgs {
            file: Some(path), ..
        }) if path.as_os_str() != "-" => path.as_path(),
        _ => return Ok(()),
    };
    let f = std::fs::File::open(input).map_err(|e| Error::io(input, e))?;
    let meta = f.metadata().map_err(|e| Error::io(input, e))?;
    if meta.is_dir() {
        return Err(Error::io(
            input,
            std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory"),
        ));
    }
    Ok(())
}

/// Prints what `verify` found, as lines or one JSON object
/// (`{"ok","files_checked","pairs_checked","corruptions":[{"file","offset","what"}]}`).
///
/// # Errors
///
/// [`Error::CorruptionFound`] if it found any (exit 1), after printing.
fn print_verify(report: &VerifyReport, format: ReportFormat, out: &mut dyn Write) -> Result<()> {
    let w = |r: std::io::Result<()>| r.map_err(Error::Output);
    match format {
        ReportFormat::Text => {
            for c in &report.corruptions {
                w(writeln!(out, "corrupt: {c}"))?;
            }
            if report.corruptions.is_empty() {
                w(writeln!(
                    out,
                    "ok: {} pairs in {} file(s) read, every checksum matched",
                    report.pairs_checked, report.files_checked
                ))?;
            }
        }
        ReportFormat::Json => {
            let corruptions: Vec<serde_json::Value> = report
                .corruptions
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "file": c.file.to_string_lossy(),
                        "offset": c.offset,
                        "what": c.what,
                    })
                })
                .collect();
            let o = serde_json::json!({
                "ok": report.corruptions.is_empty(),
                "files_checked": report.files_checked,
                "pairs_checked": report.pairs_checked,
                "corruptions": corruptions,
            });
            w(writeln!(out, "{o}"))?;
        }
    }
    if report.corruptions.is_empty() {
        Ok(())
    } else {
        Err(Error::CorruptionFound {
            count: report.corruptions.len(),
        })
    }
}

/// `count`: the exact number of live keys in the selected range.
fn count(engine: &dyn Engine, args: &CountArgs, out: &mut dyn Write) -> Result<()> {
    let enc = args.enc.encoding();
    let spec = range_spec(&args.range, enc)?;
    let mut n = 0u64;
    engine.scan(&spec, &mut |_, _| {
        n += 1;
        Ok(Flow::Continue)
    })?;
    match args.format {
        ReportFormat::Text => writeln!(out, "{n}"),
        ReportFormat::Json => writeln!(out, "{}", serde_json::json!({ "count": n })),
    }
    .map_err(Error::Output)
}

/// The scan over `range`, its bounds decoded with `enc`.
fn range_spec(range: &RangeArgs, enc: Encoding) -> Result<ScanSpec> {
    let opt = |a: &Option<String>| a.as_deref().map(|s| decode(enc, s)).transpose();
    Ok(ScanSpec {
        prefix: opt(&range.prefix)?,
        from: opt(&range.from)?,
        to: opt(&range.to)?,
        ..ScanSpec::default()
    })
}

fn decode(enc: Encoding, arg: &str) -> Result<Vec<u8>> {
    enc.decode(arg).map_err(Error::BadArgument)
}

fn put(engine: &dyn Engine, args: &PutArgs) -> Result<()> {
    let enc = args.enc.encoding();
    let key = decode(enc, &args.key)?;
    let value = match (&args.file, &args.value) {
        (Some(path), _) if path.as_os_str() == "-" => {
            let mut value = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut value)
                .map_err(|e| Error::io("<stdin>", e))?;
            value
        }
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
    let value = engine.get(&key)?.ok_or_else(|| Error::NotFound {
        key: enc.encode(&key),
    })?;
    let o = |r: std::io::Result<()>| r.map_err(Error::Output);
    match (&args.out, args.format) {
        (Some(path), _) if path.as_os_str() != "-" => {
            std::fs::write(path, &value).map_err(|e| Error::io(path, e))
        }
        // `--out -` is `--raw`: the bytes as they are, no newline.
        (Some(_), _) => o(out.write_all(&value)),
        (None, _) if args.raw => o(out.write_all(&value)),
        (None, Some(format)) => o(writeln!(
            out,
            "{}",
            codec::format_line(format, enc, &key, Some(&value))
        )),
        (None, None) => o(writeln!(out, "{}", enc.encode(&value))),
    }
}
fn scan(engine: &dyn Engine, args: &ScanArgs, out: &mut dyn Write) -> Result<()> {
    let enc = args.enc.encoding();
    let spec = ScanSpec {
        reverse: args.reverse,
        limit: args.limit,
        ..range_spec(&args.range, enc)?
    };
    let _interruptible = crate::interrupt::Guard::new();
    engine.scan(&spec, &mut |k, v| {
        crate::interrupt::check()?;
        let value = (!args.keys_only).then_some(v);
        let line = codec::format_line(args.format, enc, k, value);
        writeln!(out, "{line}").map_err(Error::Output)?;
        Ok(Flow::Continue)
    })
}
