//! Move identifiers: what names the reader accepts.

/// Whether `s` is a valid Move identifier: ASCII letters, digits, `_` and `$` (some compilers
/// use `$` in generated names), not starting with a digit, and not `_` alone.
///
/// Real frameworks contain names like `<SELF>` (in scripts) and `<init>`-style generated names in
/// some toolchains; the reader accepts any UTF-8 string so that it never drops a real module, and
/// only the writer and user-facing parsers use this check.
pub fn is_valid(s: &str) -> bool {
    let mut bytes = s.bytes();
    let Some(first) = bytes.next() else {
        return false;
    };
    let first_ok = first.is_ascii_alphabetic() || (first == b'_' && s.len() > 1) || first == b'$';
    first_ok && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
}

#[cfg(test)]
mod tests {
    #[test]
    fn identifiers() {
        for ok in ["Epoch", "epoch_v2", "_x", "T0", "$t"] {
            assert!(super::is_valid(ok), "{ok}");
        }
        for bad in ["", "_", "1x", "a-b", "a b", "é"] {
            assert!(!super::is_valid(bad), "{bad}");
        }
    }
}
