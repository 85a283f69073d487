//! Just enough RESP2 for the commands the tests send: a request is an array
//! of bulk strings; a reply is a simple string, an error, an integer or a
//! bulk string. The same reader parses a live socket and a replayed capture.

use std::io::{self, BufRead};

/// One reply from the server.
#[derive(Debug)]
pub(crate) enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
}

/// The bytes a client sends for `args`.
pub(crate) fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads one reply from `reader`, appending the bytes it spans to `raw`.
///
/// # Errors
/// I/O errors, an end of stream inside a reply, and replies this subset
/// does not parse (`InvalidData`).
pub(crate) fn read_reply(reader: &mut dyn BufRead, raw: &mut Vec<u8>) -> io::Result<Reply> {
    let start = raw.len();
    reader.read_until(b'\n', raw)?;
    let line = &raw[start..];
    let Some(line) = line.strip_suffix(b"\r\n") else {
        return Err(invalid(if line.is_empty() {
            "end of stream where a reply should start".to_string()
        } else {
            format!(
                "reply line without CRLF: {:?}",
                String::from_utf8_lossy(line)
            )
        }));
    };
    let text = std::str::from_utf8(&line[1..])
        .map_err(|_| invalid("reply line is not UTF-8".to_string()))?
        .to_string();
    let number = |text: &str| -> io::Result<i64> {
        text.parse()
            .map_err(|_| invalid(format!("not a number: {text:?}")))
    };
    match line[0] {
        b'+' => Ok(Reply::Simple(text)),
        b'-' => Ok(Reply::Error(text)),
        b':' => Ok(Reply::Int(number(&text)?)),
        b'$' => {
            let len = number(&text)?;
            if len < 0 {
                return Ok(Reply::Bulk(None));
            }
            let len = usize::try_from(len).map_err(|_| invalid(format!("bulk length {len}")))?;
            let body_start = raw.len();
            raw.resize(body_start + len + 2, 0);
            reader.read_exact(&mut raw[body_start..])?;
            if &raw[body_start + len..] != b"\r\n" {
                return Err(invalid(format!(
                    "bulk string of {len} bytes not ended by CRLF"
                )));
            }
            Ok(Reply::Bulk(Some(
                raw[body_start..body_start + len].to_vec(),
            )))
        }
        other => Err(invalid(format!(
            "unexpected reply type {:?}",
            char::from(other)
        ))),
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// A request as one readable line: the first arguments, escaped and cut,
/// and the argument count when some are left out.
pub(crate) fn summary(args: &[&[u8]]) -> String {
    const ARGS_SHOWN_MAX: usize = 3;
    const ARG_BYTES_SHOWN_MAX: usize = 24;
    let mut out: Vec<String> = args
        .iter()
        .take(ARGS_SHOWN_MAX)
        .map(|arg| {
            let mut shown: String = arg
                .iter()
                .take(ARG_BYTES_SHOWN_MAX)
                .map(|&b| match b {
                    b'!'..=b'~' if b != b'\\' => char::from(b).to_string(),
                    _ => format!("\\x{b:02x}"),
                })
                .collect();
            if arg.is_empty() {
                shown.push_str("\"\"");
            } else if arg.len() > ARG_BYTES_SHOWN_MAX {
                shown.push_str(&format!("...({} bytes)", arg.len()));
            }
            shown
        })
        .collect();
    if args.len() > ARGS_SHOWN_MAX {
        out.push(format!("... ({} args)", args.len()));
    }
    out.join(" ")
}
