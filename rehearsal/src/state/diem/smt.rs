//! The state root of a Diem-family backup: a sparse Merkle tree over the 256-bit record keys,
//! computed in one streaming pass over the records in key order, in memory bounded by the key
//! length (a stack of at most 256 open nodes), never by the state.
//!
//! A leaf hashes `key ++ hash(blob)`; an internal node `left ++ right`; an empty subtree is
//! [`PLACEHOLDER`]; a subtree of one leaf is that leaf, at any depth. The tree branches on the
//! key's bits from the most significant bit of its first byte; 0 goes left.
//!
//! Aptos' Jellyfish Merkle tree has the same root as this binary tree (its 16-way nodes hash
//! as four binary levels, a lone leaf lifted, an empty range the placeholder); only the salt
//! of the node hashes differs, so both readers fold with this builder over [`NodeHashes`].

use super::hash::{Hash, Hashes, PLACEHOLDER};

/// The two node hashes of a sparse Merkle tree.
pub trait NodeHashes {
    /// A leaf: its key and its value's hash.
    fn leaf(&self, key: &Hash, value_hash: &Hash) -> Hash;
    /// An internal node: its children's hashes.
    fn internal(&self, left: &Hash, right: &Hash) -> Hash;
}

impl NodeHashes for Hashes {
    fn leaf(&self, key: &Hash, value_hash: &Hash) -> Hash {
        Hashes::leaf(self, key, value_hash)
    }

    fn internal(&self, left: &Hash, right: &Hash) -> Hash {
        Hashes::internal(self, left, right)
    }
}

fn bit(key: &Hash, i: usize) -> bool {
    key.get(i / 8).is_some_and(|b| (b >> (7 - i % 8)) & 1 == 1)
}

/// The first bit where `a` and `b` differ (`None` if equal).
pub fn first_difference(a: &Hash, b: &Hash) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y).map(|i| {
        let x = a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
        i * 8 + x.leading_zeros() as usize
    })
}

/// A finished subtree: where it splits (256 for a leaf), its hash, and one of its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subtree {
    split: usize,
    hash: Hash,
    key: Hash,
}

impl Subtree {
    /// A leaf: its key and its hash.
    pub fn leaf(key: &Hash, leaf: &Hash) -> Subtree {
        Subtree { split: 256, hash: *leaf, key: *key }
    }
}

/// Computes the root from leaves fed in strictly increasing key order.
#[derive(Debug, Clone)]
pub struct RootBuilder<H = Hashes> {
    hashes: H,
    /// Open internal nodes: their split depth and their finished left child, lifted.
    open: Vec<(usize, Hash)>,
    current: Option<Subtree>,
    last: Option<Hash>,
    leaves: u64,
}

impl<H: NodeHashes> RootBuilder<H> {
    pub fn new(hashes: H) -> RootBuilder<H> {
        RootBuilder { hashes, open: Vec::new(), current: None, last: None, leaves: 0 }
    }

    /// The hash of `tree` as a child at `depth`: the internal nodes with a placeholder sibling
    /// between `depth` and where it splits.
    fn lift(&self, tree: &Subtree, depth: usize) -> Hash {
        if tree.split >= 256 {
            return tree.hash;
        }
        let mut hash = tree.hash;
        for level in (depth..tree.split).rev() {
            hash = if bit(&tree.key, level) {
                self.hashes.internal(&PLACEHOLDER, &hash)
            } else {
                self.hashes.internal(&hash, &PLACEHOLDER)
            };
        }
        hash
    }

    /// Adds a leaf. Keys must strictly increase (the caller checks; an equal or smaller key is
    /// refused here with `false`, changing nothing).
    pub fn add(&mut self, key: &Hash, blob_hash: &Hash) -> bool {
        if self.last.is_some_and(|last| last >= *key) {
            return false;
        }
        let leaf = self.hashes.leaf(key, blob_hash);
        self.add_leaf(key, &leaf)
    }

    /// Adds a leaf whose hash was made elsewhere ([`NodeHashes::leaf`] of its key and value
    /// hash: on the thread that read it, while this one folds the tree).
    pub fn add_leaf(&mut self, key: &Hash, leaf: &Hash) -> bool {
        self.add_subtree(Subtree::leaf(key, leaf), (key, key), 1)
    }

    /// Adds a subtree made elsewhere ([`RootBuilder::finish_subtree`] of its leaves): every leaf
    /// of the tree whose keys share its prefix is in it, its keys (`first` to `last`) come
    /// after every key added so far, and `leaves` is how many it holds. The tree is the same as
    /// with its leaves added one by one: the reading threads fold what lies inside their chunk,
    /// this one only what joins the chunks.
    pub fn add_subtree(&mut self, tree: Subtree, (first, last): (&Hash, &Hash), leaves: u64) -> bool {
        if self.last.is_some_and(|l| l >= *first) || first > last {
            return false;
        }
        let key = &tree.key;
        let leaf = tree;
        if let Some(mut current) = self.current.take() {
            // Keys increase, so they differ.
            let split = first_difference(&current.key, key).unwrap_or(255);
            while let Some(&(depth, left)) = self.open.last() {
                if depth <= split {
                    break;
                }
                self.open.pop();
                let right = self.lift(&current, depth + 1);
                current = Subtree { split: depth, hash: self.hashes.internal(&left, &right), key: current.key };
            }
            let left = self.lift(&current, split + 1);
            self.open.push((split, left));
        }
        self.current = Some(leaf);
        self.last = Some(*last);
        self.leaves += leaves;
        true
    }

    pub fn leaves(&self) -> u64 {
        self.leaves
    }

    /// The subtree of every leaf added, not lifted to the root (`None`: none was added): for a
    /// builder given the leaves of one subtree of a larger tree.
    pub fn finish_subtree(mut self) -> Option<Subtree> {
        let mut current = self.current.take()?;
        while let Some((depth, left)) = self.open.pop() {
            let right = self.lift(&current, depth + 1);
            current = Subtree { split: depth, hash: self.hashes.internal(&left, &right), key: current.key };
        }
        Some(current)
    }

    /// The root.
    pub fn finish(mut self) -> Hash {
        let Some(mut current) = self.current.take() else { return PLACEHOLDER };
        while let Some((depth, left)) = self.open.pop() {
            let right = self.lift(&current, depth + 1);
            current = Subtree { split: depth, hash: self.hashes.internal(&left, &right), key: current.key };
        }
        self.lift(&current, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::hash::{hex, Prefix};
    use super::*;

    fn key(first: u8) -> Hash {
        let mut k = [0u8; 32];
        k[0] = first;
        k
    }

    fn root(prefix: Prefix, leaves: &[(Hash, Hash)]) -> String {
        let mut b = RootBuilder::new(Hashes::new(prefix));
        for (k, v) in leaves {
            assert!(b.add(k, v));
        }
        hex(&b.finish())
    }

    /// The vectors the format notes computed from the rules.
    #[test]
    fn roots_match_the_computed_vectors() {
        let v = [0xaa; 32];
        assert_eq!(
            root(Prefix::Diem, &[(key(0), v), (key(0x80), v)]),
            "8a757bae914fa7b6b2dbadba7b97c55db91d7600216ceae78520b8fa4c0acbca"
        );
        assert_eq!(
            root(Prefix::Diem, &[(key(0), v), (key(0x40), v)]),
            "497af3cf211a54145686634f7712833984fb0f0364042e4b17d8d52acbb492ee"
        );
        assert_eq!(
            root(Prefix::Libra, &[(key(0), v), (key(0x40), v)]),
            "7c7f6c01b2c49f4a20168be86c04f2bb71d38fbce7bc2c97b130c046fb42123c"
        );
        assert_eq!(hex(&RootBuilder::new(Hashes::new(Prefix::Diem)).finish()), hex(&PLACEHOLDER));
    }

    /// The streaming builder agrees with the recursive definition on random keys.
    #[test]
    fn streaming_agrees_with_the_recursive_definition() {
        fn recursive(h: &Hashes, items: &[(Hash, Hash)], depth: usize) -> Hash {
            match items {
                [] => PLACEHOLDER,
                [(k, v)] => h.leaf(k, v),
                _ => {
                    let split = items.iter().position(|(k, _)| bit(k, depth)).unwrap_or(items.len());
                    let (l, r) = items.split_at(split);
                    h.internal(&recursive(h, l, depth + 1), &recursive(h, r, depth + 1))
                }
            }
        }
        let h = Hashes::new(Prefix::Libra);
        let mut seed = 7u64;
        for n in [1usize, 2, 3, 5, 17, 100] {
            let mut items: Vec<(Hash, Hash)> = (0..n)
                .map(|_| {
                    let mut k = [0u8; 32];
                    for b in k.iter_mut() {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        *b = (seed >> 56) as u8;
                    }
                    // Long shared prefixes too.
                    if n > 3 {
                        k[0] = 0x42;
                        k[1] &= 0x0f;
                    }
                    (k, h.blob(&k))
                })
                .collect();
            items.sort();
            items.dedup_by(|a, b| a.0 == b.0);
            let mut b = RootBuilder::new(h.clone());
            for (k, v) in &items {
                assert!(b.add(k, v));
            }
            assert_eq!(b.finish(), recursive(&h, &items, 0), "{n} leaves");
        }
        let mut b = RootBuilder::new(h);
        assert!(b.add(&key(5), &[0; 32]));
        assert!(!b.add(&key(5), &[0; 32]));
        assert!(!b.add(&key(4), &[0; 32]));
    }
}
