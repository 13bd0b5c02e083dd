//! Verifying `userPassword` values (RFC 3112 storage schemes) for the LDIF backend, the way
//! slapd does: `{SSHA}`, `{SHA}`, `{ARGON2}` (PHC strings, as OpenLDAP's argon2 module
//! writes them) and clear text. Comparisons of secrets run in constant time.

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// Whether `password` matches the stored `userPassword` value.
pub fn verify(stored: &[u8], password: &str) -> bool {
    let Ok(stored) = std::str::from_utf8(stored) else {
        return constant_time_eq(stored, password.as_bytes());
    };
    let Some((scheme, rest)) = split_scheme(stored) else {
        return constant_time_eq(stored.as_bytes(), password.as_bytes());
    };
    match scheme.to_ascii_uppercase().as_str() {
        "SSHA" => verify_sha1(rest, password, true),
        "SHA" => verify_sha1(rest, password, false),
        "ARGON2" => verify_argon2(rest, password),
        // Schemes this reader does not know never match, rather than fall back to anything.
        _ => false,
    }
}

fn split_scheme(stored: &str) -> Option<(&str, &str)> {
    let rest = stored.strip_prefix('{')?;
    let end = rest.find('}')?;
    Some((&rest[..end], &rest[end + 1..]))
}

fn verify_sha1(encoded: &str, password: &str, salted: bool) -> bool {
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    // {SSHA} needs a salt and {SHA} has none, as slapd checks them.
    if (salted && raw.len() <= 20) || (!salted && raw.len() != 20) {
        return false;
    }
    let (digest, salt) = raw.split_at(20);
    let mut h = Sha1::new();
    h.update(password.as_bytes());
    h.update(salt);
    constant_time_eq(&h.finalize(), digest)
}

fn verify_argon2(phc: &str, password: &str) -> bool {
    use argon2::{Argon2, PasswordHash, PasswordVerifier};
    match PasswordHash::new(phc.trim()) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// `subtle`'s compare: the time does not depend on where the bytes differ (lengths are not
/// secret here: a digest's length follows from its scheme).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssha(password: &str, salt: &[u8]) -> String {
        let mut h = Sha1::new();
        h.update(password.as_bytes());
        h.update(salt);
        let mut raw = h.finalize().to_vec();
        raw.extend_from_slice(salt);
        format!(
            "{{SSHA}}{}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    #[test]
    fn ssha_hashes_verify_including_non_ascii_passwords() {
        let stored = ssha("Blåbærsyltetøy-2027", b"saltsalt");
        assert!(verify(stored.as_bytes(), "Blåbærsyltetøy-2027"));
        assert!(!verify(stored.as_bytes(), "Blabaersyltetoy-2027"));
        assert!(!verify(stored.as_bytes(), ""));
    }

    #[test]
    fn argon2_phc_hashes_verify() {
        use argon2::password_hash::PasswordHasher;
        let phc = argon2::Argon2::default()
            .hash_password_with_salt(b"hemmelig", b"0123456789abcdef")
            .unwrap()
            .to_string();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        let stored = format!("{{ARGON2}}{phc}");
        assert!(verify(stored.as_bytes(), "hemmelig"));
        assert!(!verify(stored.as_bytes(), "Hemmelig"));
    }

    #[test]
    fn clear_text_and_unknown_schemes() {
        assert!(verify(b"plain", "plain"));
        assert!(!verify(b"plain", "plain "));
        assert!(!verify(b"{CRYPT}abcdef", "abcdef"));
        assert!(!verify(b"{SSHA}not base64!", "x"));
        assert!(!verify(b"{SSHA}c2hvcnQ=", "x"));
        // An unsalted digest under {SSHA} is refused, as slapd refuses it.
        let mut h = Sha1::new();
        h.update(b"pw");
        let unsalted = format!(
            "{{SSHA}}{}",
            base64::engine::general_purpose::STANDARD.encode(h.finalize())
        );
        assert!(!verify(unsalted.as_bytes(), "pw"));
    }
}
