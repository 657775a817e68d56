//! A container's framing walked without decoding it: every length checked against the bytes
//! left, every module entry's magic looked at, nothing allocated. What decoding would build for
//! a file of millions of tiny entries (a 30 MB bundle of 6-byte entries took 1.76 GB) is
//! counted here first, and refused past [`super::MAX_MODULES`].

use super::ContainerKind;
use binary_format::bcs::Reader;

/// A walk over the bytes of a container, on the shared BCS reader (no allocation: it hands out
/// slices of the input).
struct Cursor<'a>(Reader<'a>);

type Walk<T> = Result<T, String>;

/// BCS lengths are 32-bit.
const MAX_LEN: u64 = u32::MAX as u64;

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor(Reader::new(bytes))
    }

    /// A sequence's length: each element takes at least `min` bytes of what is left, so a walk
    /// is never longer than the file.
    fn count(&mut self, min: usize) -> Walk<u64> {
        self.0.count(MAX_LEN, min, "entry count").map(|n| n as u64).map_err(|e| e.to_string())
    }

    fn skip(&mut self, n: usize) -> Walk<&'a [u8]> {
        self.0.bytes(n, "bytes").map_err(|e| e.to_string())
    }

    /// A `Vec<u8>` or a string.
    fn bytes(&mut self) -> Walk<&'a [u8]> {
        self.0.prefixed(MAX_LEN, "byte string").map_err(|e| e.to_string())
    }

    /// One module's bytes, which must start with the Move magic.
    fn module(&mut self) -> Walk<()> {
        let at = self.0.position();
        if !self.bytes()?.starts_with(&binary_format::version::MAGIC) {
            return Err(format!("the entry at byte {at} does not start with the Move magic"));
        }
        Ok(())
    }

    /// `Vec<Vec<u8>>` of modules: their count.
    fn modules(&mut self) -> Walk<u64> {
        let n = self.count(1)?;
        for _ in 0..n {
            self.module()?;
        }
        Ok(n)
    }

    fn option(&mut self, some: impl FnOnce(&mut Self) -> Walk<()>) -> Walk<()> {
        match self.skip(1)? {
            [0] => Ok(()),
            [1] => some(self),
            _ => Err(format!("an option tag that is neither 0 nor 1 at byte {}", self.0.position() - 1)),
        }
    }

    /// Aptos `Any`: a type name and its data.
    fn any(&mut self) -> Walk<()> {
        self.bytes()?;
        self.bytes().map(drop)
    }

    fn end(&self) -> Walk<()> {
        match self.0.remaining() {
            0 => Ok(()),
            n => Err(format!("{n} bytes after the end")),
        }
    }
}

/// An Aptos package: its metadata, then its modules; their count.
fn aptos_package(c: &mut Cursor<'_>) -> Walk<u64> {
    c.bytes()?; // name
    c.skip(1 + 8)?; // upgrade policy, upgrade number
    c.bytes()?; // source digest
    c.bytes()?; // manifest
    for _ in 0..c.count(4)? {
        c.bytes()?; // name
        c.bytes()?; // source
        c.bytes()?; // source map
        c.option(Cursor::any)?;
    }
    for _ in 0..c.count(33)? {
        c.skip(32)?;
        c.bytes()?;
    }
    c.option(Cursor::any)?;
    c.modules()
}

/// A Sui package snapshot: its id, modules and dependencies; the modules' count.
fn sui_package(c: &mut Cursor<'_>) -> Walk<u64> {
    c.skip(32)?;
    let n = c.modules()?;
    let deps = c.count(32)?;
    c.skip(usize::try_from(deps.saturating_mul(32)).unwrap_or(usize::MAX))?;
    Ok(n)
}

/// The modules a container of `kind` holds, if `bytes` are framed as one (every byte used,
/// every module starting with the Move magic); why not otherwise.
pub fn entries(kind: ContainerKind, bytes: &[u8]) -> Result<u64, String> {
    let mut c = Cursor::new(bytes);
    let n = match kind {
        ContainerKind::Bundle => c.modules()?,
        ContainerKind::AptosReleaseBundle => {
            let mut n = 0u64;
            for _ in 0..c.count(16)? {
                n = n.saturating_add(aptos_package(&mut c)?);
            }
            for _ in 0..c.count(1)? {
                c.bytes()?;
            }
            n
        }
        ContainerKind::SuiSnapshot => {
            // One snapshot, or a list of them.
            let one = sui_package(&mut c).and_then(|n| c.end().map(|()| n));
            if let Ok(n) = one {
                return Ok(n);
            }
            c = Cursor::new(bytes);
            let mut n = 0u64;
            for _ in 0..c.count(34)? {
                n = n.saturating_add(sui_package(&mut c)?);
            }
            n
        }
        ContainerKind::Module | ContainerKind::Folder => return Err("not a container".to_owned()),
    };
    c.end()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(tag: u8) -> Vec<u8> {
        let mut m = binary_format::version::MAGIC.to_vec();
        m.extend_from_slice(&[6, 0, 0, 0, tag]);
        m
    }

    #[test]
    fn the_framing_of_each_kind_is_walked_and_counted() {
        let bundle = super::super::encode_bundle(&[module(1), module(2)]);
        assert_eq!(entries(ContainerKind::Bundle, &bundle), Ok(2));
        let mut trailing = bundle.clone();
        trailing.push(0);
        assert!(entries(ContainerKind::Bundle, &trailing).unwrap_err().contains("after the end"));
        let bad = super::super::encode_bundle(&[module(1), b"hello".to_vec()]);
        assert!(entries(ContainerKind::Bundle, &bad).unwrap_err().contains("Move magic"));
        // A count the bytes cannot hold is refused before any entry is walked.
        assert!(entries(ContainerKind::Bundle, &[0xff, 0xff, 0x03, 1]).unwrap_err().contains("bytes left"));
        let sui = bcs::to_bytes(&super::super::SuiPackageSnapshot {
            id: [1; 32],
            bytes: vec![module(1)],
            dependencies: vec![[2; 32]],
        })
        .unwrap();
        assert_eq!(entries(ContainerKind::SuiSnapshot, &sui), Ok(1));
        let list = bcs::to_bytes(&vec![
            super::super::SuiPackageSnapshot { id: [1; 32], bytes: vec![module(1)], dependencies: vec![] },
            super::super::SuiPackageSnapshot { id: [2; 32], bytes: vec![module(2), module(3)], dependencies: vec![] },
        ])
        .unwrap();
        assert_eq!(entries(ContainerKind::SuiSnapshot, &list), Ok(3));
    }
}
