//! How keys and values are typed and printed: escaped text, hex, base64, and
//! the two line formats of `scan`, `load` and `dump`.
//!
//! Escaped text prints valid UTF-8 as text (`é`, `日本`, emoji) except `\`,
//! tab, newline, carriage return and the other control characters (Unicode
//! category Cc: `0x00..=0x1f`, `0x7f`, `U+0080..=U+009F`), and prints those
//! and every byte that is not part of valid UTF-8 as `\\`, `\t`, `\n`, `\r`
//! or `\xHH` (a control character above ASCII as its UTF-8 bytes). So a line
//! holds no raw tab or newline, and every byte string prints one way.
//!
//! [`unescape`] reads the same escapes back, so a key printed by `scan`
//! pastes back into `get`, `put`, `delete` and scan's bounds: text arguments
//! are unescaped, a literal backslash is written `\\`, and any other
//! character after a backslash is an error naming its column.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// How keys and values given as arguments are decoded and printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Encoding {
    /// Arguments unescaped ([`unescape`]); output escaped ([`escape`]).
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
            Encoding::Text => unescape(arg).map_err(|e| format!("`{arg}`: {e}")),
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
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '\t' => s.push_str("\\t"),
                '\n' => s.push_str("\\n"),
                '\r' => s.push_str("\\r"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for &b in c.encode_utf8(&mut buf).as_bytes() {
                        push_hex_escape(&mut s, b);
                    }
                }
                c => s.push(c),
            }
        }
        for &b in chunk.invalid() {
            push_hex_escape(&mut s, b);
        }
    }
    s
}

fn push_hex_escape(s: &mut String, b: u8) {
    s.push_str("\\x");
    s.push(char::from(HEX_DIGITS[usize::from(b >> 4)]));
    s.push(char::from(HEX_DIGITS[usize::from(b & 0xf)]));
}

/// Reverses [`escape`]: `\\`, `\t`, `\n`, `\r` and `\xHH` (either case)
/// are decoded, every other character is taken as its UTF-8 bytes.
///
/// # Errors
///
/// A backslash not followed by one of those, naming its 1-based column
/// (in characters, as an editor counts) within `s`.
pub fn unescape(s: &str) -> Result<Vec<u8>, String> {
    unescape_in_line(s, 0)
}

/// [`unescape`] for a field that starts after `column_before` characters of
/// its line, so that an error names the column within the line.
///
/// # Errors
///
/// As [`unescape`].
pub fn unescape_in_line(s: &str, column_before: usize) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let column = |i: usize| column_before + s[..i].chars().count() + 1;
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
                    .ok_or_else(|| {
                        format!(
                            "bad \\x escape at column {}: expected two hex digits",
                            column(i)
                        )
                    })?;
                out.push(byte);
                i += 4;
                continue;
            }
            Some(_) => {
                let c = s[i + 1..].chars().next().unwrap_or_default();
                return Err(format!(
                    "unknown escape \\{c} at column {} (escapes are \\\\ \\t \\n \\r \\xHH; \
                     write a backslash as \\\\)",
                    column(i)
                ));
            }
            None => {
                return Err(format!(
                    "lone backslash at column {} (write a backslash as \\\\)",
                    column(i)
                ));
            }
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
    /// UTF-8 go in `key_base64` / `value_base64` instead. With `--hex` every
    /// key and value is `key_hex` / `value_hex`, with `--base64` every one is
    /// `key_base64` / `value_base64`.
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
            json_field(&mut obj, enc, "key", key);
            if let Some(v) = value {
                json_field(&mut obj, enc, "value", v);
            }
            serde_json::Value::Object(obj).to_string()
        }
    }
}

fn json_field(
    obj: &mut serde_json::Map<String, serde_json::Value>,
    enc: Encoding,
    name: &str,
    bytes: &[u8],
) {
    match (enc, std::str::from_utf8(bytes)) {
        (Encoding::Text, Ok(s)) => obj.insert(name.to_string(), s.into()),
        (Encoding::Hex, _) => obj.insert(format!("{name}_hex"), hex_encode(bytes).into()),
        (Encoding::Text | Encoding::Base64, _) => {
            obj.insert(format!("{name}_base64"), BASE64.encode(bytes).into())
        }
    };
}

/// The UTF-8 byte-order mark, which `load` skips at the start of its input.
pub const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// Parses one line of `load` input into a pair.
///
/// # Errors
///
/// A message saying what is wrong with the line; a column, where it names
/// one, counts characters from 1 at the start of the line.
pub fn parse_line(format: Format, line: &str) -> Result<(Vec<u8>, Vec<u8>), String> {
    match format {
        Format::Tsv => {
            let (k, v) = line
                .split_once('\t')
                .ok_or("expected key<TAB>value, found no tab")?;
            if v.contains('\t') {
                return Err("more than one tab (escape tabs in data as \\t)".to_string());
            }
            let key = unescape_in_line(k, 0)?;
            let value = unescape_in_line(v, k.chars().count() + 1)?;
            Ok((key, value))
        }
        Format::Json => {
            let value: serde_json::Value = serde_json::from_str(line).map_err(json_error)?;
            let obj = value.as_object().ok_or("expected a JSON object")?;
            Ok((json_bytes(obj, "key")?, json_bytes(obj, "value")?))
        }
    }
}

/// serde_json's message without its own `at line 1 column N` (the caller
/// names the line of the file), with the column.
fn json_error(e: serde_json::Error) -> String {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    let message = text.strip_suffix(&position).unwrap_or(&text);
    format!("invalid JSON at column {}: {message}", e.column())
}

fn json_bytes(
    obj: &serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<Vec<u8>, String> {
    let fields = [
        name.to_string(),
        format!("{name}_base64"),
        format!("{name}_hex"),
    ];
    let given: Vec<&String> = fields.iter().filter(|f| obj.contains_key(*f)).collect();
    let field = match given.as_slice() {
        [one] => *one,
        [] => {
            return Err(format!(
                "missing \"{name}\" (or \"{name}_base64\", \"{name}_hex\")"
            ));
        }
        [first, second, ..] => {
            return Err(format!(
                "both \"{first}\" and \"{second}\" given: give the {name} once"
            ));
        }
    };
    let text = obj
        .get(field)
        .and_then(|v| v.as_str())
        .ok_or_else(|| format!("\"{field}\" is not a string"))?;
    if field == name {
        Ok(text.as_bytes().to_vec())
    } else if field.ends_with("_hex") {
        hex_decode(text).map_err(|e| format!("\"{field}\": {e}"))
    } else {
        BASE64.decode(text).map_err(|e| format!("\"{field}\": {e}"))
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
    fn utf8_prints_as_text_and_controls_and_bad_bytes_escape() {
        assert_eq!(escape("café 日本 😀".as_bytes()), "café 日本 😀");
        assert_eq!(
            escape(b"a\\b\tc\nd\re\x00\x1b\x7f"),
            r"a\\b\tc\nd\re\x00\x1b\x7f"
        );
        // U+0085 (a C1 control) as its UTF-8 bytes; a lone 0xc3 is not UTF-8.
        assert_eq!(escape("\u{85}".as_bytes()), r"\xc2\x85");
        assert_eq!(escape(b"caf\xc3"), r"caf\xc3");
        assert_eq!(escape(b"\xc3\xa9\xff"), "é\\xff");
    }

    #[test]
    fn unescape_names_the_column_within_the_line() {
        assert_eq!(
            unescape(r"ab\q").unwrap_err(),
            r"unknown escape \q at column 3 (escapes are \\ \t \n \r \xHH; write a backslash as \\)"
        );
        // Columns count characters, as an editor does, after the key and tab.
        let err = parse_line(Format::Tsv, "é\tx\\x4").unwrap_err();
        assert_eq!(err, r"bad \x escape at column 4: expected two hex digits");
        assert!(unescape("a\\").unwrap_err().contains("column 2"));
        // An old dump's \xHH for UTF-8 still reads back.
        assert_eq!(unescape(r"caf\xc3\xa9").unwrap(), "café".as_bytes());
    }

    proptest::proptest! {
        #[test]
        fn escape_round_trips_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let e = escape(&bytes);
            proptest::prop_assert!(!e.chars().any(char::is_control));
            proptest::prop_assert_eq!(unescape(&e).unwrap(), bytes);
        }
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
