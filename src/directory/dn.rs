//! Distinguished names (RFC 4514): escaping values, and comparing DNs the way a server does.
//!
//! Servers return the same DN in different spellings: `memberOf` comes back lower-cased and
//! with hex escapes (`A\2BB` for `A+B`), attribute types in any case, spaces after commas or
//! not. [`normalize`] gives one spelling per DN, so DNs are only ever compared normalized.

/// Escapes a value for use in a DN (RFC 4514 §2.4).
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' | ' ' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            ' ' if i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes a value for use in a search filter (RFC 4515 §3).
pub fn escape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        match c {
            '*' | '(' | ')' | '\\' | '\0' => out.push_str(&format!("\\{:02x}", c as u32)),
            _ => out.push(c),
        }
    }
    out
}

/// One attribute type and value of an RDN, unescaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ava {
    pub attr: String,
    pub value: String,
}

/// Splits a DN into RDNs, each a list of AVAs, unescaping values. `None` for a malformed DN.
pub fn parse(dn: &str) -> Option<Vec<Vec<Ava>>> {
    let mut rdns = Vec::new();
    let mut avas = Vec::new();
    let mut attr = String::new();
    let mut value: Vec<u8> = Vec::new();
    let mut in_value = false;
    let bytes = dn.as_bytes();
    let mut i = 0;
    let finish_ava = |attr: &mut String, value: &mut Vec<u8>, avas: &mut Vec<Ava>| -> Option<()> {
        let a = attr.trim().to_ascii_lowercase();
        if a.is_empty() {
            return None;
        }
        let v = String::from_utf8(std::mem::take(value)).ok()?;
        avas.push(Ava {
            attr: a,
            value: v.trim().to_owned(),
        });
        attr.clear();
        Some(())
    };
    if dn.trim().is_empty() {
        return Some(rdns);
    }
    while i < bytes.len() {
        let b = bytes[i];
        if !in_value {
            if b == b'=' {
                in_value = true;
            } else {
                attr.push(b as char);
            }
            i += 1;
            continue;
        }
        match b {
            b'\\' => {
                let next = *bytes.get(i + 1)?;
                let hex = |c: u8| (c as char).to_digit(16);
                if let (Some(h), Some(l)) = (hex(next), bytes.get(i + 2).and_then(|&c| hex(c))) {
                    value.push((h * 16 + l) as u8);
                    i += 3;
                } else {
                    value.push(next);
                    i += 2;
                }
            }
            b',' | b';' | b'+' => {
                finish_ava(&mut attr, &mut value, &mut avas)?;
                in_value = false;
                if b != b'+' {
                    rdns.push(std::mem::take(&mut avas));
                }
                i += 1;
            }
            _ => {
                value.push(b);
                i += 1;
            }
        }
    }
    if !in_value {
        return None;
    }
    finish_ava(&mut attr, &mut value, &mut avas)?;
    rdns.push(avas);
    Some(rdns)
}

/// One spelling per DN: types and values lower-cased, values unescaped then re-escaped, the
/// AVAs of a multi-valued RDN sorted. A malformed DN is lower-cased and trimmed as it is.
///
/// Lower-casing values matches the case-insensitive matching rules of the attributes used in
/// naming here (cn, ou, uid, dc); it is not right for case-exact naming attributes.
pub fn normalize(dn: &str) -> String {
    let Some(rdns) = parse(dn) else {
        return dn.trim().to_lowercase();
    };
    rdns.iter()
        .map(|avas| {
            let mut parts: Vec<String> = avas
                .iter()
                .map(|a| format!("{}={}", a.attr, escape_value(&a.value.to_lowercase())))
                .collect();
            parts.sort();
            parts.join("+")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// One spelling per DN that keeps the values' case, for showing and storing: attribute types
/// lower-cased, values escaped the RFC 4514 way (`\+`, not `\2B`). Servers and files spell
/// the same DN differently; both come out the same here. A malformed DN is returned trimmed.
pub fn canonical(dn: &str) -> String {
    let Some(rdns) = parse(dn) else {
        return dn.trim().to_owned();
    };
    rdns.iter()
        .map(|avas| {
            avas.iter()
                .map(|a| format!("{}={}", a.attr, escape_value(&a.value)))
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether two DNs name the same entry.
pub fn same(a: &str, b: &str) -> bool {
    normalize(a) == normalize(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dn_spelled_by_memberof_equals_the_one_written_in_ldif() {
        assert!(same(
            "cn=Gymsal A\\+B\\, (delbar),ou=Idrettshallen,dc=fjordvik,dc=kommune,dc=no",
            "CN=gymsal a\\2bb\\2c (delbar), OU=Idrettshallen,DC=fjordvik,DC=kommune,DC=no"
        ));
        assert!(!same("cn=a,dc=x", "cn=b,dc=x"));
    }

    #[test]
    fn server_and_file_spellings_of_a_dn_have_one_canonical_form() {
        assert_eq!(
            canonical("cn=Gymsal A\\2BB\\2C (delbar),OU=Fjordvik skole,dc=x"),
            canonical("cn=Gymsal A\\+B\\, (delbar), ou=Fjordvik skole,dc=x")
        );
        assert_eq!(
            canonical("CN=Møterom 1,ou=R\\C3\\A5dhuset"),
            "cn=Møterom 1,ou=Rådhuset"
        );
    }

    #[test]
    fn values_with_special_characters_round_trip_through_escaping() {
        for v in [
            "Gymsal A+B, (delbar)",
            " leading",
            "trailing ",
            "#hash",
            "a\\b",
            "x=y;z<>\"",
        ] {
            let dn = format!("cn={},dc=x", escape_value(v));
            let parsed = parse(&dn).unwrap();
            assert_eq!(parsed[0][0].value.trim(), v.trim(), "{dn}");
        }
    }

    #[test]
    fn filter_values_are_escaped_so_they_cannot_change_the_filter() {
        assert_eq!(escape_filter_value(")(uid=*)"), "\\29\\28uid=\\2a\\29");
        assert_eq!(escape_filter_value("*"), "\\2a");
        assert_eq!(escape_filter_value("Blåbær(1)"), "Blåbær\\281\\29");
    }

    #[test]
    fn malformed_dns_do_not_panic() {
        for dn in ["=", "cn", "cn=a,", "\\", "cn=\\", ",,,", "cn=a+", "cn=\\zz"] {
            let _ = normalize(dn);
        }
        assert!(parse("cn").is_none());
    }
}
