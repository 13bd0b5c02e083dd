//! An LDIF reader (RFC 2849, content records): folded lines, comments, `::` base64 values and
//! UTF-8. It reads the files `slapadd` reads; change records and `:<` URLs are refused.

use base64::Engine as _;

/// One entry of an LDIF file: its DN and attribute values, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LdifEntry {
    pub dn: String,
    /// Attribute descriptions as written (options included), with raw values.
    pub attrs: Vec<(String, Vec<u8>)>,
}

/// Why an LDIF file could not be read; `line` counts from 1 in the file as written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("LDIF line {line}: {message}")]
pub struct LdifError {
    pub line: usize,
    pub message: String,
}

fn err(line: usize, message: impl Into<String>) -> LdifError {
    LdifError {
        line,
        message: message.into(),
    }
}

/// Parses a whole LDIF text.
pub fn parse(text: &str) -> Result<Vec<LdifEntry>, LdifError> {
    // Unfold: a line starting with one space continues the previous one (RFC 2849 note 2).
    let mut logical: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = line.strip_prefix(' ') {
            match logical.last_mut() {
                Some((_, prev)) if !prev.is_empty() => prev.push_str(rest),
                _ => return Err(err(i + 1, "a continuation line with nothing to continue")),
            }
        } else {
            logical.push((i + 1, line.to_owned()));
        }
    }

    let mut entries = Vec::new();
    let mut current: Option<LdifEntry> = None;
    let mut first_record = true;
    for (n, line) in logical {
        if line.is_empty() {
            if let Some(e) = current.take() {
                entries.push(e);
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (name, value) = attr_value(n, &line)?;
        match &mut current {
            None => {
                if first_record && name.eq_ignore_ascii_case("version") {
                    if value != b"1" {
                        return Err(err(n, "only LDIF version 1 is supported"));
                    }
                    first_record = false;
                    continue;
                }
                first_record = false;
                if !name.eq_ignore_ascii_case("dn") {
                    return Err(err(
                        n,
                        format!("an entry must start with dn:, found {name:?}"),
                    ));
                }
                let dn = String::from_utf8(value).map_err(|_| err(n, "the DN is not UTF-8"))?;
                current = Some(LdifEntry {
                    dn,
                    attrs: Vec::new(),
                });
            }
            Some(entry) => {
                if name.eq_ignore_ascii_case("changetype") {
                    return Err(err(
                        n,
                        "change records are not supported; give entries only",
                    ));
                }
                if name.eq_ignore_ascii_case("dn") {
                    return Err(err(n, "a second dn: in one entry (missing blank line?)"));
                }
                entry.attrs.push((name, value));
            }
        }
    }
    if let Some(e) = current.take() {
        entries.push(e);
    }
    Ok(entries)
}

/// Splits `name: value`, `name:: base64` or `name:< url`.
fn attr_value(n: usize, line: &str) -> Result<(String, Vec<u8>), LdifError> {
    let colon = line
        .find(':')
        .ok_or_else(|| err(n, format!("expected NAME: VALUE, found {line:?}")))?;
    let name = line[..colon].trim_end().to_owned();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';' || c == '.')
    {
        return Err(err(n, format!("{name:?} is not an attribute description")));
    }
    let rest = &line[colon + 1..];
    if let Some(b64) = rest.strip_prefix(':') {
        let data = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| err(n, format!("{name}: invalid base64: {e}")))?;
        return Ok((name, data));
    }
    if rest.starts_with('<') {
        return Err(err(
            n,
            format!("{name}: values from URLs (:<) are not supported"),
        ));
    }
    Ok((name, rest.trim_start_matches(' ').as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn folded_lines_base64_values_and_utf8_are_read() {
        let text = "version: 1\r\n# a comment\r\n\r\ndn:: b3U9UsOlZGh1c2V0LGRjPXg=\r\nobjectClass: organizationalUnit\r\ndescription: Det gamle r\r\n ådhuset\r\nou;lang-no: Rådhuset\r\n\r\ndn: cn=b,dc=x\r\ncn: b\r\n";
        let entries = parse(text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].dn, "ou=Rådhuset,dc=x");
        assert_eq!(
            entries[0].attrs[1],
            (
                "description".into(),
                "Det gamle rådhuset".as_bytes().to_vec()
            )
        );
        assert_eq!(entries[0].attrs[2].0, "ou;lang-no");
        assert_eq!(entries[1].attrs, [("cn".to_string(), b"b".to_vec())]);
    }

    #[test]
    fn malformed_ldif_is_an_error_with_a_line_number() {
        let cases = [
            (" leading continuation", 1),
            ("cn: no dn first", 1),
            ("dn: cn=a\ncn:: !!!notbase64", 2),
            ("dn: cn=a\nchangetype: modify", 2),
            ("dn: cn=a\njpegPhoto:< file:///etc/passwd", 2),
            ("dn: cn=a\nno colon here", 2),
            ("dn: cn=a\ndn: cn=b", 2),
            ("version: 2", 1),
        ];
        for (text, line) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics_the_ldif_reader(text in "(?s).{0,400}") {
            let _ = parse(&text);
        }
    }
}
