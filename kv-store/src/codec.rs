//! How keys and values are typed and printed: escaped text, hex, base64, and
//! the two line formats of `scan`, `load` and `dump`.
//!
//! Escaped text prints bytes `0x20..=0x7e` as themselves except `\`, and every
//! other byte as `\\`, `\t`, `\n`, `\r` or `\xHH`, so a line holds no raw tab
//! or newline and every byte string has exactly one spelling.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// How keys and values given as arguments are decoded and printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Encoding {
    /// Arguments as typed; output escaped.
    #[default]
    Text,
    /// Hexadecimal, both ways.
    Hex,
    /// Standard base64 with padding, both ways.
    Base64,
}

impl Encoding {
    /// Decodes a command-line argument.
    ///
    /// # Errors
    ///
    /// A message naming the bad digit or length.
    pub fn decode(self, arg: &str) -> Result<Vec<u8>, String> {
        match self {
            Encoding::Text => Ok(arg.as_bytes().to_vec()),
            Encoding::Hex => hex_decode(arg),
            Encoding::Base64 => BASE64
                .decode(arg)
                .map_err(|e| format!("invalid base64 {arg:?}: {e}")),
        }
    }

    /// Encodes bytes for printing.
    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Text => escape(bytes),
            Encoding::Hex => hex_encode(bytes),
            Encoding::Base64 => BASE64.encode(bytes),
        }
    }
}

/// Lower-case hex of `bytes`.
pub fn hex_encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(HEX_DIGITS[usize::from(b >> 4)]));
        s.push(char::from(HEX_DIGITS[usize::from(b & 0xf)]));
    }
    s
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Decodes hex (either case).
///
/// # Errors
///
/// Odd length or a non-hex digit.
pub fn hex_decode(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return Err(format!("hex {s:?} has an odd number of digits"));
    }
    b.chunks_exact(2)
        .map(|pair| match (hex_digit(pair[0]), hex_digit(pair[1])) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => Err(format!("invalid hex digit in {s:?}")),
        })
        .collect()
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Escapes `bytes` as described in the module doc.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + bytes.len() / 2);
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => {
                s.push_str("\\x");
                s.push(char::from(HEX_DIGITS[usize::from(b >> 4)]));
                s.push(char::from(HEX_DIGITS[usize::from(b & 0xf)]));
            }
        }
    }
    s
}

/// Reverses [`escape`]. Raw non-ASCII characters are taken as their UTF-8 bytes.
///
/// # Errors
///
/// A backslash not followed by `\`, `t`, `n`, `r` or `x` and two hex digits.
pub fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'\\') => out.push(b'\\'),
            Some(b't') => out.push(b'\t'),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b'x') => {
                let byte = b
                    .get(i + 2..i + 4)
                    .and_then(|h| Some(hex_digit(h[0])? << 4 | hex_digit(h[1])?))
                    .ok_or_else(|| format!("bad \\x escape at column {}", i + 1))?;
                out.push(byte);
                i += 4;
                continue;
            }
            Some(_) => return Err(format!("unknown escape at column {}", i + 1)),
            None => return Err("line ends with a lone backslash".to_string()),
        }
        i += 2;
    }
    Ok(out)
}

/// The line formats of `scan`, `load` and `dump`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// `key<TAB>value`, both escaped.
    #[default]
    Tsv,
    /// One JSON object a line: `{"key":..,"value":..}`; bytes that are not
    /// UTF-8 go in `key_base64` / `value_base64` instead.
    Json,
}

impl Format {
    /// `chosen` if given, else guessed from the file name: JSON lines for
    /// `.json`, `.jsonl` and `.ndjson`, tsv otherwise (and for `-`).
    pub fn for_path(chosen: Option<Format>, path: &str) -> Format {
        chosen.unwrap_or_else(|| {
            let ext = std::path::Path::new(path)
                .extension()
                .and_then(|e| e.to_str());
            match ext {
                Some("json" | "jsonl" | "ndjson") => Format::Json,
                _ => Format::Tsv,
            }
        })
    }
}

/// Formats one pair (or a key alone) as a line, without the newline.
pub fn format_line(format: Format, enc: Encoding, key: &[u8], value: Option<&[u8]>) -> String {
    match format {
        Format::Tsv => match value {
            Some(v) => format!("{}\t{}", enc.encode(key), enc.encode(v)),
            None => enc.encode(key),
        },
        Format::Json => {
            let mut obj = serde_json::Map::new();
            json_field(&mut obj, "key", key);
            if let Some(v) = value {
                json_field(&mut obj, "value", v);
            }
            serde_json::Value::Object(obj).to_string()
        }
    }
}

fn json_field(obj: &mut serde_json::Map<String, serde_json::Value>, name: &str, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => obj.insert(name.to_string(), s.into()),
        Err(_) => obj.insert(format!("{name}_base64"), BASE64.encode(bytes).into()),
    };
}

/// Parses one line of `load` input into a pair.
///
/// # Errors
///
/// A message saying what is wrong with the line.
pub fn parse_line(format: Format, line: &str) -> Result<(Vec<u8>, Vec<u8>), String> {
    match format {
        Format::Tsv => {
            let (k, v) = line
                .split_once('\t')
                .ok_or("expected key<TAB>value, found no tab")?;
            if v.contains('\t') {
                return Err("more than one tab (escape tabs in data as \\t)".to_string());
            }
            Ok((unescape(k)?, unescape(v)?))
        }
        Format::Json => {
            let value: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
            let obj = value.as_object().ok_or("expected a JSON object")?;
            Ok((json_bytes(obj, "key")?, json_bytes(obj, "value")?))
        }
    }
}

fn json_bytes(
    obj: &serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<Vec<u8>, String> {
    if let Some(v) = obj.get(name) {
        return v
            .as_str()
            .map(|s| s.as_bytes().to_vec())
            .ok_or_else(|| format!("\"{name}\" is not a string"));
    }
    let b64 = format!("{name}_base64");
    match obj.get(&b64).and_then(|v| v.as_str()) {
        Some(s) => BASE64.decode(s).map_err(|e| format!("\"{b64}\": {e}")),
        None => Err(format!("missing \"{name}\" (or \"{b64}\")")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_round_trips_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let e = escape(&all);
        assert!(!e.contains('\t') && !e.contains('\n'));
        assert_eq!(unescape(&e).unwrap(), all);
    }

    #[test]
    fn json_line_round_trips_binary() {
        let (k, v) = (vec![0xff, 0, b'a'], b"plain".to_vec());
        let line = format_line(Format::Json, Encoding::Text, &k, Some(&v));
        assert_eq!(parse_line(Format::Json, &line).unwrap(), (k, v));
    }

    #[test]
    fn format_follows_the_file_extension_unless_chosen() {
        assert_eq!(Format::for_path(None, "a.jsonl"), Format::Json);
        assert_eq!(Format::for_path(None, "-"), Format::Tsv);
        assert_eq!(Format::for_path(Some(Format::Tsv), "a.json"), Format::Tsv);
    }

    #[test]
    fn hex_rejects_odd_length() {
        assert!(hex_decode("abc").is_err());
        assert_eq!(hex_decode("00fF").unwrap(), vec![0, 0xff]);
    }
}
