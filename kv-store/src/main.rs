//! The `kv-store` binary: parse, run, print one error line, exit with the
//! code of [`kv_store::Error::exit_code`] (0, 1, 2 or 3; see `--help`).

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let _ = writeln!(
            std::io::stderr(),
            "error: internal error (a bug in kv-store): {info}"
        );
    }));
    let cli = kv_store::cli::Cli::parse_env();
    // Ctrl-C stops a long command cleanly (exit 130). The shell installs
    // the handler itself, after its line editor took SIGINT for its own.
    if !matches!(cli.command, kv_store::cli::Command::Shell(_))
        && let Err(e) = kv_store::interrupt::install()
    {
        let _ = writeln!(std::io::stderr(), "kv-store: warning: {e}");
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = kv_store::run::run(&cli, &mut out);
    let flushed = out.flush();
    match result {
        Ok(()) => match flushed {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "error: writing output: {e}");
                ExitCode::from(2)
            }
        },
        // A reader that went away (`kv-store dump - | head`) is not an error.
        Err(kv_store::Error::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
