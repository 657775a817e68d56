//! Module bytes built by hand, for tests that feed the reader inputs no writer produces.

use binary_format::write_uleb;

/// A module from its version word and its tables `(kind, contents)`, with self handle 0.
pub fn module(version: u32, tables: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = vec![0xa1, 0x1c, 0xeb, 0x0b];
    out.extend(version.to_le_bytes());
    write_uleb(&mut out, tables.len() as u64);
    let mut offset = 0;
    for (kind, bytes) in tables {
        out.push(*kind);
        write_uleb(&mut out, offset);
        write_uleb(&mut out, bytes.len() as u64);
        offset += bytes.len() as u64;
    }
    for (_, bytes) in tables {
        out.extend(bytes);
    }
    out.push(0);
    out
}
