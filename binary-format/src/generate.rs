//! Deterministic generation of valid modules, for property tests, differential tests, fuzz seeds
//! and benchmarks. The same seed always gives the same module, on every machine.
//!
//! Generated modules are what the writer can represent for their version: no u16/u32/u256 before
//! version 6, legacy-kind abilities in version 1, enums only in version 7 and later, and so on.
//! Foreign structs come from a fixed list with fixed arities, so that every handle agrees with
//! every use (independent readers check type-argument counts).

use crate::ability::{legacy_struct_abilities, AbilitySet, KindPosition, LegacyKind};
use crate::address::{Address, AddressLength};
use crate::module::*;
use crate::types::{FunctionType, ModuleId, Type};
use crate::version::Version;

/// SplitMix64: tiny, fast, and good enough to pick shapes.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let i = self.below(items.len());
        items.get(i)
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub version: Version,
    pub address_length: AddressLength,
    pub max_structs: usize,
    pub max_fields: usize,
    pub max_functions: usize,
    /// Include Aptos closure types (version 8, not Sui).
    pub function_types: bool,
}

impl Shape {
    pub fn new(version: Version, address_length: AddressLength) -> Self {
        Shape { version, address_length, max_structs: 6, max_fields: 6, max_functions: 6, function_types: true }
    }

    /// Every version and flavor the writer supports, with a sensible address length.
    pub fn all_versions() -> Vec<Shape> {
        let mut out: Vec<Shape> = (1..=6).map(|v| Shape::new(Version::new(v), AddressLength::Bytes16)).collect();
        out.push(Shape::new(Version::new(7), AddressLength::Bytes32));
        out.push(Shape::new(Version::new(8), AddressLength::Bytes32));
        out.push(Shape::new(Version::sui(7), AddressLength::Bytes32));
        out.push(Shape::new(Version::new(6), AddressLength::Bytes20));
        out
    }
}

const WORDS: [&str; 24] = [
    "Epoch", "Coin", "Vouch", "Wallet", "Timer", "Config", "Balance", "Account", "Event", "Handle", "Round", "Stake",
    "Pool", "Vote", "Burn", "Fee", "Table", "Ledger", "Oracle", "Signer", "Info", "Cap", "Reward", "Proof",
];

/// Foreign structs: (module, struct, arity).
const FOREIGN: [(&str, &str, usize); 5] = [
    ("string", "String", 0),
    ("option", "Option", 1),
    ("GAS", "GAS", 0),
    ("table", "Table", 2),
    ("event", "EventHandle", 1),
];

fn ident(rng: &mut Rng, prefix: &str, i: usize) -> String {
    let word = rng.pick(&WORDS).copied().unwrap_or("X");
    format!("{prefix}{word}{i}")
}

fn address(rng: &mut Rng, len: AddressLength) -> Address {
    match rng.below(4) {
        0 => Address::from_u64(1),
        1 => Address::from_u64(rng.below(0x1000) as u64 + 1),
        2 => Address::from_u64(0xa550c18),
        _ => {
            let mut bytes = vec![0u8; len.bytes()];
            for b in bytes.iter_mut() {
                *b = rng.next_u64() as u8;
            }
            Address::from_be_slice(&bytes).unwrap_or(Address::from_u64(2))
        }
    }
}

fn abilities(rng: &mut Rng) -> AbilitySet {
    AbilitySet::from_bits((rng.next_u64() & 0xf) as u8).unwrap_or_default()
}

struct Ctx<'s> {
    shape: &'s Shape,
    self_id: ModuleId,
    /// (name, arity) of the module's own structs.
    local: Vec<(String, usize)>,
    foreign_address: Address,
}

impl Ctx<'_> {
    fn ty(&self, rng: &mut Rng, depth: usize, type_params: usize, refs: bool) -> Type {
        let v = self.shape.version;
        let leaf = depth >= 3;
        let mut choices = vec![0, 1, 2, 3, 4, 5];
        if v.number >= 6 {
            choices.extend([6, 7, 8]);
        }
        if type_params > 0 {
            choices.push(9);
        }
        if !leaf {
            choices.extend([10, 11, 12]);
            if refs {
                choices.extend([13, 14]);
            }
            if self.shape.function_types && v.number >= 8 && !v.is_sui() {
                choices.push(15);
            }
        }
        match rng.pick(&choices).copied().unwrap_or(0) {
            0 => Type::Bool,
            1 => Type::U8,
            2 => Type::U64,
            3 => Type::U128,
            4 => Type::Address,
            5 => Type::Signer,
            6 => Type::U16,
            7 => Type::U32,
            8 => Type::U256,
            9 => Type::TypeParameter(rng.below(type_params) as u16),
            10 => Type::Vector(Box::new(self.ty(rng, depth + 1, type_params, false))),
            11 => {
                let (name, arity) = rng.pick(&self.local).cloned().unwrap_or_default();
                let args = (0..arity).map(|_| self.ty(rng, depth + 1, type_params, false)).collect();
                Type::datatype(self.self_id.clone(), name, args)
            }
            12 => {
                let (module, name, arity) = rng.pick(&FOREIGN).copied().unwrap_or(FOREIGN[0]);
                let args = (0..arity).map(|_| self.ty(rng, depth + 1, type_params, false)).collect();
                Type::datatype(ModuleId::new(self.foreign_address, module), name, args)
            }
            13 => Type::Reference(Box::new(self.ty(rng, depth + 1, type_params, false))),
            14 => Type::MutableReference(Box::new(self.ty(rng, depth + 1, type_params, false))),
            _ => Type::Function(Box::new(FunctionType {
                params: (0..rng.below(3)).map(|_| self.ty(rng, depth + 1, type_params, false)).collect(),
                returns: (0..rng.below(2)).map(|_| self.ty(rng, depth + 1, type_params, false)).collect(),
                abilities: abilities(rng),
            })),
        }
    }
}

fn collect_modules(t: &Type, out: &mut Vec<ModuleId>) {
    match t {
        Type::Datatype(d) => {
            out.push(d.module.clone());
            d.type_args.iter().for_each(|a| collect_modules(a, out));
        }
        Type::Vector(t) | Type::Reference(t) | Type::MutableReference(t) => collect_modules(t, out),
        Type::Function(f) => f.params.iter().chain(&f.returns).for_each(|a| collect_modules(a, out)),
        _ => {}
    }
}

/// A module of the given shape. `index` makes names unique within a release.
pub fn module(rng: &mut Rng, shape: &Shape, index: usize) -> Module {
    let v = shape.version;
    let v1 = v.number == 1;
    let self_id = ModuleId::new(address(rng, shape.address_length), ident(rng, "M", index));
    let foreign_address = Address::from_u64(1);
    let n_structs = 1 + rng.below(shape.max_structs);
    let mut local = Vec::new();
    let mut structs = Vec::new();
    for i in 0..n_structs {
        let arity = rng.below(3);
        let name = ident(rng, "S", i);
        local.push((name.clone(), arity));
        let type_params = (0..arity)
            .map(|_| DatatypeTypeParameter {
                constraints: if v1 {
                    let kinds = [LegacyKind::All, LegacyKind::Copyable, LegacyKind::Resource];
                    rng.pick(&kinds).copied().unwrap_or(LegacyKind::All).to_abilities(KindPosition::StructTypeParameter)
                } else {
                    abilities(rng)
                },
                phantom: v.number >= 3 && rng.chance(30),
            })
            .collect();
        let abilities = if v1 { legacy_struct_abilities(rng.chance(50)) } else { abilities(rng) };
        structs.push(Struct { name, abilities, type_params, fields: Vec::new(), variants: None, native: false });
    }
    let mut ctx = Ctx { shape, self_id: self_id.clone(), local, foreign_address };
    for s in structs.iter_mut() {
        let tp = s.type_params.len();
        let fields = |rng: &mut Rng, ctx: &Ctx<'_>, min: usize| -> Vec<Field> {
            (0..min + rng.below(shape.max_fields))
                .map(|i| Field { name: format!("f{i}_{}", rng.below(100)), ty: ctx.ty(rng, 0, tp, false) })
                .collect()
        };
        if v.number >= 7 && rng.chance(25) {
            let n = 1 + rng.below(4);
            s.variants =
                Some((0..n).map(|i| Variant { name: format!("V{i}"), fields: fields(rng, &ctx, 0) }).collect());
        } else if v.number < 6 && rng.chance(5) {
            s.native = true;
        } else {
            s.fields = fields(rng, &ctx, 1);
        }
    }
    ctx.local.clear();
    for s in &structs {
        ctx.local.push((s.name.clone(), s.type_params.len()));
    }
    let mut functions = Vec::new();
    for i in 0..rng.below(shape.max_functions + 1) {
        let tp = rng.below(3);
        let visibility = if v1 {
            if rng.chance(50) {
                Visibility::Public
            } else {
                Visibility::Private
            }
        } else {
            *rng.pick(&[Visibility::Private, Visibility::Public, Visibility::Friend]).unwrap_or(&Visibility::Public)
        };
        let entry = match v.number {
            1 => false,
            2..=4 => visibility == Visibility::Public && rng.chance(30),
            _ => rng.chance(30),
        };
        let fn_kinds = [LegacyKind::All, LegacyKind::Copyable, LegacyKind::Resource];
        functions.push(Function {
            name: ident(rng, "f", i),
            visibility,
            entry,
            native: rng.chance(10),
            type_params: (0..tp)
                .map(|_| FunctionTypeParameter {
                    constraints: if v1 {
                        rng.pick(&fn_kinds)
                            .copied()
                            .unwrap_or(LegacyKind::All)
                            .to_abilities(KindPosition::FunctionTypeParameter)
                    } else {
                        abilities(rng)
                    },
                })
                .collect(),
            params: (0..rng.below(4)).map(|_| ctx.ty(rng, 0, tp, true)).collect(),
            returns: (0..rng.below(3)).map(|_| ctx.ty(rng, 0, tp, true)).collect(),
        });
    }
    let mut dependencies = Vec::new();
    for s in &structs {
        for f in s.fields.iter().chain(s.variants.iter().flatten().flat_map(|v| &v.fields)) {
            collect_modules(&f.ty, &mut dependencies);
        }
    }
    for f in &functions {
        f.params.iter().chain(&f.returns).for_each(|t| collect_modules(t, &mut dependencies));
    }
    for i in 0..rng.below(3) {
        dependencies.push(ModuleId::new(address(rng, shape.address_length), format!("Dep{i}")));
    }
    dependencies.retain(|d| *d != self_id);
    let friends = if v.number >= 2 {
        (0..rng.below(3)).map(|i| ModuleId::new(address(rng, shape.address_length), format!("Friend{i}"))).collect()
    } else {
        Vec::new()
    };
    let metadata_keys = if v.number >= 5 && rng.chance(30) {
        vec!["aptos::metadata_v1".to_owned(), "0x00ff".to_owned()]
    } else {
        Vec::new()
    };
    let mut module = Module {
        address: self_id.address,
        name: self_id.name,
        bytecode_version: v,
        dependencies,
        friends,
        metadata_keys,
        structs,
        functions,
    };
    module.sort();
    module
}

/// `count` modules with distinct names, all of one shape.
pub fn release(seed: u64, shape: &Shape, count: usize) -> Vec<Module> {
    let mut rng = Rng::new(seed);
    (0..count).map(|i| module(&mut rng, shape, i)).collect()
}

/// Fills a module's function bodies with about `instructions` random instructions each, and adds
/// constants, so that it looks like a real framework module: mostly code. Every operand is valid
/// for the module's own tables, so the result parses at every detail level.
pub fn add_bodies(rng: &mut Rng, m: &mut crate::raw::RawModule<'static>, instructions: usize) {
    use crate::format::Table;
    use crate::opcodes::{self, OperandKind};
    use crate::raw::{CodeUnit, Constant, Instruction, Operand, Token};
    use std::borrow::Cow;

    let width = m.address_length.bytes();
    m.constants.push(Constant { ty: Token::U64, data: Cow::Owned(rng.next_u64().to_le_bytes().to_vec()) });
    m.constants.push(Constant { ty: Token::Address, data: Cow::Owned(vec![7u8; width]) });
    m.constants.push(Constant { ty: Token::Vector(Box::new(Token::U8)), data: Cow::Owned(vec![3, b'a', b'b', b'c']) });
    // Eight u64 locals, so that every local index the bodies use is in range.
    let locals = u16::try_from(m.signatures.len()).unwrap_or(0);
    m.signatures.push(vec![Token::U64; 8]);
    let lengths: Vec<usize> = Table::ALL.iter().map(|t| m.table_len(*t)).collect();
    let len = |t: Table| lengths.get(t.slot()).copied().unwrap_or(0);
    let usable: Vec<(u8, OperandKind)> = opcodes::all(m.version)
        .filter(|(_, info)| match info.operand {
            OperandKind::Index(table, _) | OperandKind::IndexAndMask(table) => len(table) > 0,
            OperandKind::JumpTable => false,
            _ => true,
        })
        .map(|(b, info)| (b, info.operand))
        .collect();
    for def in m.function_defs.iter_mut().filter(|d| !d.native) {
        let count = (instructions / 2 + rng.below(instructions + 1)).clamp(1, 65_535);
        let mut code = Vec::with_capacity(count);
        for _ in 0..count {
            let (opcode, kind) = *rng.pick(&usable).unwrap_or(&(opcodes::RET, OperandKind::None));
            let operand = match kind {
                OperandKind::None | OperandKind::JumpTable => Operand::None,
                OperandKind::Local => Operand::Small(rng.below(8) as u16),
                OperandKind::Offset => Operand::Small(rng.below(count) as u16),
                OperandKind::U8 => Operand::Small(rng.below(256) as u16),
                OperandKind::U16 => Operand::Small(rng.next_u64() as u16),
                OperandKind::U32 => Operand::U32(rng.next_u64() as u32),
                OperandKind::U64 => Operand::U64(rng.next_u64()),
                OperandKind::U128 => Operand::U128(u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())),
                OperandKind::U256 => Operand::U256(Box::new([rng.next_u64() as u8; 32])),
                OperandKind::Index(table, max) => Operand::Small(rng.below(len(table).min(usize::from(max))) as u16),
                OperandKind::SignatureAndCount => {
                    Operand::IndexAnd(rng.below(len(Table::Signatures)) as u16, rng.below(4) as u64)
                }
                OperandKind::IndexAndMask(table) => Operand::IndexAnd(rng.below(len(table)) as u16, 1),
            };
            code.push(Instruction { opcode, operand });
        }
        def.code = Some(CodeUnit { locals, instruction_count: count as u16, code, jump_tables: Vec::new() });
    }
}

/// A release that looks like a real framework, as bytes: `count` modules of up to `functions`
/// functions with about `instructions` instructions each.
pub fn framework_release(
    seed: u64,
    shape: &Shape,
    count: usize,
    functions: usize,
    instructions: usize,
) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    let shape = Shape { max_functions: functions, ..*shape };
    (0..count)
        .filter_map(|i| {
            let module = module(&mut rng, &shape, i);
            let mut raw = crate::builder::build(&module, shape.address_length, &crate::NoResolver).ok()?;
            add_bodies(&mut rng, &mut raw, instructions);
            crate::serializer::serialize(&raw).ok()
        })
        .collect()
}
