#![recursion_limit = "256"]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! Differential test against Sui's own reader and writer of the format.
//!
//! The oracle is `@mysten/move-bytecode-template` 0.4.1, Sui's `move-binary-format` compiled to
//! WebAssembly, driven by `tests/oracle/oracle.mjs` (one `node` process per batch of modules).
//! Its `deserialize` bounds-checks; its JSON is serde's form of Sui's `CompiledModule`.
//!
//! 1. Generated modules (`Version::new(6)` and `Version::sui(7)`, 32-byte addresses; also
//!    `Version::new(5)`, for native structs, and large shapes, for tables past 127 entries), written by
//!    our writer: the oracle must accept them, and its tables must equal our full parse of the
//!    same bytes, table for table and index for index, and its view resolved into names and types
//!    must equal our `read_module` (and the generated module).
//! 2. The oracle's JSON is serialized back by the oracle: our `read_module` of those bytes must
//!    give the generated module again, and the bytes must equal what our writer produced.
//! 3. Hand-built modules with real instruction bodies (every Sui opcode, jump tables, multi-byte
//!    ULEB128 indices and offsets), serialized by the oracle: our full parse must decode the same
//!    instructions and tables, and our serializer must reproduce the oracle's bytes exactly.
//!
//! Needs `node` and `npm`; the test runs `npm ci --prefix binary-format/tests/oracle` itself when
//! the pinned package is missing. Without them the test fails, unless `SKIP_SUI_ORACLE=1`, which
//! turns the failure into a warning.
//! `NODE=/path/to/node` picks another node binary.

use binary_format::generate::{self, Rng, Shape};
use binary_format::raw::{FieldDef, Instruction, Operand, RawModule, RawVisibility, StructBody, Token, VariantDef};
use binary_format::{
    parse, read_module, serializer, write_module, AbilitySet, Address, AddressLength, DatatypeTypeParameter, Detail,
    Field, Function, FunctionTypeParameter, Module, ModuleId, NoResolver, ParseOptions, Struct, Type, Variant, Version,
    Visibility,
};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const PACKAGE: &str = "@mysten/move-bytecode-template";
const PACKAGE_VERSION: &str = "0.4.1";
/// The crate version the package reports through `version()`.
const WASM_CRATE_VERSION: &str = "0.1.1";
const MODULES_PER_SHAPE: u64 = 300;
/// Module `i` of a shape is `generate::module(&mut Rng::new(FIRST_SEED + i), &shape, 0)`.
const FIRST_SEED: u64 = 0x51_0000;
const ADDR: AddressLength = AddressLength::Bytes32;

// ---------------------------------------------------------------------------------------------
// The oracle process

struct Oracle {
    node: String,
    script: PathBuf,
}

/// What is wrong with the installed oracle, if anything.
fn oracle_problem(node: &str, manifest: &Path) -> Option<String> {
    match Command::new(node).arg("--version").output() {
        Err(e) => Some(format!("cannot run `{node} --version`: {e}")),
        Ok(out) if !out.status.success() => Some(format!("`{node} --version` failed")),
        Ok(_) => match std::fs::read_to_string(manifest) {
            Err(e) => Some(format!("{PACKAGE} is not installed ({}: {e})", manifest.display())),
            Ok(text) => {
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                (v["version"] != PACKAGE_VERSION)
                    .then(|| format!("{} has version {}, expected {PACKAGE_VERSION}", manifest.display(), v["version"]))
            }
        },
    }
}

/// Installs the pinned oracle from its lock file (`npm ci`), once per test binary, so that the
/// README's `cargo test --workspace` works on a fresh clone.
fn install_oracle(dir: &Path) -> Result<(), String> {
    static INSTALL: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    INSTALL
        .get_or_init(|| {
            let npm = std::env::var("NPM").unwrap_or_else(|_| "npm".to_owned());
            let out = Command::new(&npm)
                .args(["ci", "--no-audit", "--no-fund", "--prefix"])
                .arg(dir)
                .output()
                .map_err(|e| format!("cannot run `{npm} ci`: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!("`{npm} ci` failed: {}", String::from_utf8_lossy(&out.stderr)))
            }
        })
        .clone()
}

/// The oracle, installed on first use. `None` (with a loud warning) when it cannot be had and
/// `SKIP_SUI_ORACLE=1`; otherwise a missing oracle fails the test.
fn oracle() -> Option<Oracle> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle");
    let script = dir.join("oracle.mjs");
    let node = std::env::var("NODE").unwrap_or_else(|_| "node".to_owned());
    let manifest = dir.join("node_modules").join(PACKAGE).join("package.json");
    let mut problem = oracle_problem(&node, &manifest);
    if problem.as_deref().is_some_and(|p| p.contains("not installed") || p.contains("expected")) {
        problem = match install_oracle(&dir) {
            Ok(()) => oracle_problem(&node, &manifest),
            Err(e) => Some(e),
        };
    }
    let Some(problem) = problem else {
        return Some(Oracle { node, script });
    };
    let fix = "run `npm ci --prefix binary-format/tests/oracle` from the workspace root \
               (needs node and npm)";
    if std::env::var("SKIP_SUI_ORACLE").as_deref() == Ok("1") {
        let bar = "!".repeat(100);
        // Straight to the stderr handle: the test harness captures `eprintln!` of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "\n{bar}\n!!! SKIPPED: differential test against Sui (SKIP_SUI_ORACLE=1)\n\
             !!! {problem}\n!!! To run it, {fix}.\n{bar}"
        );
        return None;
    }
    panic!("Sui oracle unavailable: {problem}.\nTo fix, {fix}; or set SKIP_SUI_ORACLE=1 to skip this test.");
}

impl Oracle {
    /// Runs a batch of jobs in one node process; one result per job.
    fn run(&self, jobs: &[Value]) -> Vec<Value> {
        let input = serde_json::to_vec(jobs).unwrap();
        let mut child = Command::new(&self.node)
            .arg(&self.script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} {}: {e}", self.node, self.script.display()));
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(out.status.success(), "oracle failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr));
        let results: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("oracle output is not a JSON array ({e}); stderr:\n{}", String::from_utf8_lossy(&out.stderr))
        });
        assert_eq!(results.len(), jobs.len(), "one result per job");
        results
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn deserialize_job(bytes: &[u8]) -> Value {
    json!({"op": "deserialize", "hex": hex(bytes)})
}

fn serialize_job(module: &Value) -> Value {
    json!({"op": "serialize", "module": module})
}

/// The oracle's module JSON, or a description of why there is none.
fn ok_module(result: &Value) -> Result<&Value, String> {
    if result["ok"] == true {
        Ok(&result["module"])
    } else {
        Err(format!("oracle rejected: {}", result["error"]))
    }
}

fn ok_bytes(result: &Value) -> Result<Vec<u8>, String> {
    match (&result["ok"], result["hex"].as_str()) {
        (Value::Bool(true), Some(h)) => Ok(unhex(h)),
        _ => Err(format!("oracle serialize failed: {}", result["error"])),
    }
}

// ---------------------------------------------------------------------------------------------
// Sui's opcode bytes (move-binary-format `Opcodes`, checked against the oracle's serializer)

const SUI_OPCODES: [(&str, u8); 86] = [
    ("Pop", 0x01),
    ("Ret", 0x02),
    ("BrTrue", 0x03),
    ("BrFalse", 0x04),
    ("Branch", 0x05),
    ("LdU64", 0x06),
    ("LdConst", 0x07),
    ("LdTrue", 0x08),
    ("LdFalse", 0x09),
    ("CopyLoc", 0x0A),
    ("MoveLoc", 0x0B),
    ("StLoc", 0x0C),
    ("MutBorrowLoc", 0x0D),
    ("ImmBorrowLoc", 0x0E),
    ("MutBorrowField", 0x0F),
    ("ImmBorrowField", 0x10),
    ("Call", 0x11),
    ("Pack", 0x12),
    ("Unpack", 0x13),
    ("ReadRef", 0x14),
    ("WriteRef", 0x15),
    ("Add", 0x16),
    ("Sub", 0x17),
    ("Mul", 0x18),
    ("Mod", 0x19),
    ("Div", 0x1A),
    ("BitOr", 0x1B),
    ("BitAnd", 0x1C),
    ("Xor", 0x1D),
    ("Or", 0x1E),
    ("And", 0x1F),
    ("Not", 0x20),
    ("Eq", 0x21),
    ("Neq", 0x22),
    ("Lt", 0x23),
    ("Gt", 0x24),
    ("Le", 0x25),
    ("Ge", 0x26),
    ("Abort", 0x27),
    ("Nop", 0x28),
    ("ExistsDeprecated", 0x29),
    ("MutBorrowGlobalDeprecated", 0x2A),
    ("ImmBorrowGlobalDeprecated", 0x2B),
    ("MoveFromDeprecated", 0x2C),
    ("MoveToDeprecated", 0x2D),
    ("FreezeRef", 0x2E),
    ("Shl", 0x2F),
    ("Shr", 0x30),
    ("LdU8", 0x31),
    ("LdU128", 0x32),
    ("CastU8", 0x33),
    ("CastU64", 0x34),
    ("CastU128", 0x35),
    ("MutBorrowFieldGeneric", 0x36),
    ("ImmBorrowFieldGeneric", 0x37),
    ("CallGeneric", 0x38),
    ("PackGeneric", 0x39),
    ("UnpackGeneric", 0x3A),
    ("ExistsGenericDeprecated", 0x3B),
    ("MutBorrowGlobalGenericDeprecated", 0x3C),
    ("ImmBorrowGlobalGenericDeprecated", 0x3D),
    ("MoveFromGenericDeprecated", 0x3E),
    ("MoveToGenericDeprecated", 0x3F),
    ("VecPack", 0x40),
    ("VecLen", 0x41),
    ("VecImmBorrow", 0x42),
    ("VecMutBorrow", 0x43),
    ("VecPushBack", 0x44),
    ("VecPopBack", 0x45),
    ("VecUnpack", 0x46),
    ("VecSwap", 0x47),
    ("LdU16", 0x48),
    ("LdU32", 0x49),
    ("LdU256", 0x4A),
    ("CastU16", 0x4B),
    ("CastU32", 0x4C),
    ("CastU256", 0x4D),
    ("PackVariant", 0x4E),
    ("PackVariantGeneric", 0x4F),
    ("UnpackVariant", 0x50),
    ("UnpackVariantImmRef", 0x51),
    ("UnpackVariantMutRef", 0x52),
    ("UnpackVariantGeneric", 0x53),
    ("UnpackVariantGenericImmRef", 0x54),
    ("UnpackVariantGenericMutRef", 0x55),
    ("VariantSwitch", 0x56),
];

fn sui_opcode(name: &str) -> Option<u8> {
    SUI_OPCODES.iter().find(|(n, _)| *n == name).map(|&(_, b)| b)
}

fn sui_opcode_name(byte: u8) -> Option<&'static str> {
    SUI_OPCODES.iter().find(|(_, b)| *b == byte).map(|&(n, _)| n)
}

/// The name of an instruction in Sui's JSON: `"Ret"` or `{"LdU8": 7}`.
fn instruction_name(ins: &Value) -> &str {
    match ins {
        Value::String(s) => s,
        Value::Object(o) if o.len() == 1 => o.keys().next().unwrap(),
        other => panic!("not a Sui instruction: {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Our tables in Sui's JSON shape, to compare with the oracle's index for index

fn token_json(t: &Token) -> Value {
    match t {
        Token::Bool => json!("Bool"),
        Token::U8 => json!("U8"),
        Token::U16 => json!("U16"),
        Token::U32 => json!("U32"),
        Token::U64 => json!("U64"),
        Token::U128 => json!("U128"),
        Token::U256 => json!("U256"),
        Token::Address => json!("Address"),
        Token::Signer => json!("Signer"),
        Token::Vector(t) => json!({"Vector": token_json(t)}),
        Token::Reference(t) => json!({"Reference": token_json(t)}),
        Token::MutableReference(t) => json!({"MutableReference": token_json(t)}),
        Token::TypeParameter(i) => json!({"TypeParameter": i}),
        Token::Datatype(i) => json!({"Datatype": i}),
        Token::DatatypeInstantiation(i, args) => {
            json!({"DatatypeInstantiation": [i, args.iter().map(token_json).collect::<Vec<_>>()]})
        }
        other => panic!("Sui has no signature token for {other:?}"),
    }
}

fn fields_json(fields: &[FieldDef]) -> Value {
    fields.iter().map(|f| json!({"name": f.name, "signature": token_json(&f.ty)})).collect()
}

fn variants_json(variants: &[VariantDef]) -> Value {
    variants.iter().map(|v| json!({"variant_name": v.name, "fields": fields_json(&v.fields)})).collect()
}

fn instruction_json(ins: &Instruction) -> Value {
    let name = sui_opcode_name(ins.opcode).unwrap_or_else(|| panic!("opcode {:#04x} is not a Sui opcode", ins.opcode));
    let operand = match &ins.operand {
        Operand::None => return json!(name),
        Operand::Small(v) => json!(v),
        Operand::U32(v) => json!(v),
        Operand::U64(v) => json!(v.to_string()),
        Operand::U128(v) => json!(v.to_string()),
        Operand::U256(bytes) => json!(bytes.to_vec()),
        Operand::IndexAnd(i, n) => json!([i, n.to_string()]),
    };
    json!({ name: operand })
}

fn instantiations_json(list: &[binary_format::raw::Instantiation], what: &str) -> Value {
    list.iter().map(|i| json!({what: i.handle, "type_parameters": i.type_args})).collect()
}

/// Our full parse in the JSON shape of Sui's `CompiledModule` (32-byte addresses).
fn raw_to_sui_json(m: &RawModule<'_>) -> Value {
    let visibility = |v: RawVisibility| match v {
        RawVisibility::Private => "Private",
        RawVisibility::Public => "Public",
        RawVisibility::Friend => "Friend",
    };
    json!({
        "version": m.version.number,
        "self_module_handle_idx": m.self_handle,
        "module_handles": m.module_handles.iter()
            .map(|h| json!({"address": h.address, "name": h.name})).collect::<Vec<_>>(),
        "datatype_handles": m.datatype_handles.iter().map(|h| json!({
            "module": h.module,
            "name": h.name,
            "abilities": h.abilities.bits(),
            "type_parameters": h.type_params.iter()
                .map(|p| json!({"constraints": p.constraints.bits(), "is_phantom": p.phantom}))
                .collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "function_handles": m.function_handles.iter().map(|h| {
            assert!(h.access_specifiers.is_none() && h.attributes.is_empty());
            json!({
                "module": h.module,
                "name": h.name,
                "parameters": h.params,
                "return_": h.returns,
                "type_parameters": h.type_params.iter().map(|c| c.bits()).collect::<Vec<_>>(),
            })
        }).collect::<Vec<_>>(),
        "field_handles": m.field_handles.iter()
            .map(|h| json!({"owner": h.owner, "field": h.field})).collect::<Vec<_>>(),
        "friend_decls": m.friend_decls.iter()
            .map(|h| json!({"address": h.address, "name": h.name})).collect::<Vec<_>>(),
        "struct_def_instantiations": instantiations_json(&m.struct_def_instantiations, "def"),
        "function_instantiations": instantiations_json(&m.function_instantiations, "handle"),
        "field_instantiations": instantiations_json(&m.field_instantiations, "handle"),
        "signatures": m.signatures.iter()
            .map(|s| s.iter().map(token_json).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "identifiers": m.identifiers.iter().map(|s| s.as_ref()).collect::<Vec<_>>(),
        "address_identifiers": m.addresses.iter()
            .map(|a| hex(a.to_be_bytes(m.address_length).unwrap())).collect::<Vec<_>>(),
        "constant_pool": m.constants.iter()
            .map(|c| json!({"type_": token_json(&c.ty), "data": c.data.to_vec()}))
            .collect::<Vec<_>>(),
        "metadata": m.metadata.iter()
            .map(|md| json!({"key": md.key.to_vec(), "value": md.value.to_vec()}))
            .collect::<Vec<_>>(),
        "struct_defs": m.struct_defs.iter().map(|d| json!({
            "struct_handle": d.handle,
            "field_information": match &d.body {
                StructBody::Native => json!("Native"),
                StructBody::Fields(f) => json!({"Declared": fields_json(f)}),
                StructBody::Variants(_) => panic!("Aptos struct variants in a Sui module"),
            },
        })).collect::<Vec<_>>(),
        "function_defs": m.function_defs.iter().map(|d| json!({
            "function": d.handle,
            "visibility": visibility(d.visibility),
            "is_entry": d.entry,
            "acquires_global_resources": d.acquires,
            "code": d.code.as_ref().map(|c| json!({
                "locals": c.locals,
                "code": c.code.iter().map(instruction_json).collect::<Vec<_>>(),
                "jump_tables": c.jump_tables.iter().map(|t| json!({
                    "head_enum": t.head_enum,
                    "jump_table": {"Full": t.offsets},
                })).collect::<Vec<_>>(),
            })),
        })).collect::<Vec<_>>(),
        "enum_defs": m.enum_defs.iter()
            .map(|d| json!({"enum_handle": d.handle, "variants": variants_json(&d.variants)}))
            .collect::<Vec<_>>(),
        "enum_def_instantiations": instantiations_json(&m.enum_def_instantiations, "def"),
        "variant_handles": m.variant_handles.iter()
            .map(|h| json!({"enum_def": h.owner, "variant": h.variant})).collect::<Vec<_>>(),
        "variant_instantiation_handles": m.variant_instantiation_handles.iter()
            .map(|h| json!({"enum_def": h.owner, "variant": h.variant})).collect::<Vec<_>>(),
    })
}

/// The first place two JSON values differ, as a path, or `None` if they are equal.
fn json_diff(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                json_diff(&format!("{path}.{k}"), x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null))
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (p, q))| json_diff(&format!("{path}[{i}]"), p, q))
        }
        _ if a == b => None,
        _ => Some(format!("{path}: ours {a} vs Sui's {b}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Sui's JSON resolved into our normalized view (independently of our normalizer)

struct SuiView<'a>(&'a Value);

fn num(v: &Value) -> usize {
    v.as_u64().unwrap_or_else(|| panic!("expected an index, got {v}")) as usize
}

fn arr(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("expected an array, got {v}"))
}

fn abilities(v: &Value) -> AbilitySet {
    let bits = u8::try_from(num(v)).unwrap();
    AbilitySet::from_bits(bits).unwrap_or_else(|| panic!("ability bits {bits:#x}"))
}

impl SuiView<'_> {
    fn table(&self, name: &str) -> &Vec<Value> {
        arr(&self.0[name])
    }

    fn entry(&self, table: &str, index: &Value) -> &Value {
        let t = self.table(table);
        t.get(num(index)).unwrap_or_else(|| panic!("{table}[{index}] out of bounds ({})", t.len()))
    }

    fn ident(&self, index: &Value) -> String {
        self.entry("identifiers", index).as_str().unwrap().to_owned()
    }

    fn module_id(&self, handle: &Value) -> ModuleId {
        let hex = self.entry("address_identifiers", &handle["address"]).as_str().unwrap();
        assert_eq!(hex.len(), 64, "32-byte address {hex}");
        ModuleId::new(Address::parse_hex(hex).unwrap(), self.ident(&handle["name"]))
    }

    fn ty(&self, t: &Value) -> Type {
        if let Some(s) = t.as_str() {
            return match s {
                "Bool" => Type::Bool,
                "U8" => Type::U8,
                "U16" => Type::U16,
                "U32" => Type::U32,
                "U64" => Type::U64,
                "U128" => Type::U128,
                "U256" => Type::U256,
                "Address" => Type::Address,
                "Signer" => Type::Signer,
                other => panic!("unknown Sui token {other}"),
            };
        }
        let o = t.as_object().unwrap();
        assert_eq!(o.len(), 1, "token {t}");
        let (tag, inner) = o.iter().next().unwrap();
        match tag.as_str() {
            "Vector" => Type::Vector(Box::new(self.ty(inner))),
            "Reference" => Type::Reference(Box::new(self.ty(inner))),
            "MutableReference" => Type::MutableReference(Box::new(self.ty(inner))),
            "TypeParameter" => Type::TypeParameter(u16::try_from(num(inner)).unwrap()),
            "Datatype" => self.datatype(inner, Vec::new()),
            "DatatypeInstantiation" => {
                let pair = arr(inner);
                assert_eq!(pair.len(), 2);
                let args = arr(&pair[1]).iter().map(|a| self.ty(a)).collect();
                self.datatype(&pair[0], args)
            }
            other => panic!("unknown Sui token {other}"),
        }
    }

    fn datatype(&self, index: &Value, args: Vec<Type>) -> Type {
        let h = self.entry("datatype_handles", index);
        let module = self.module_id(self.entry("module_handles", &h["module"]));
        Type::datatype(module, self.ident(&h["name"]), args)
    }

    fn fields(&self, fields: &Value) -> Vec<Field> {
        arr(fields).iter().map(|f| Field { name: self.ident(&f["name"]), ty: self.ty(&f["signature"]) }).collect()
    }

    fn datatype_decl(&self, handle: &Value) -> Struct {
        let h = self.entry("datatype_handles", handle);
        Struct {
            name: self.ident(&h["name"]),
            abilities: abilities(&h["abilities"]),
            type_params: arr(&h["type_parameters"])
                .iter()
                .map(|p| DatatypeTypeParameter {
                    constraints: abilities(&p["constraints"]),
                    phantom: p["is_phantom"].as_bool().unwrap(),
                })
                .collect(),
            fields: Vec::new(),
            variants: None,
            native: false,
        }
    }

    fn signature(&self, index: &Value) -> Vec<Type> {
        arr(self.entry("signatures", index)).iter().map(|t| self.ty(t)).collect()
    }

    fn module(&self) -> Module {
        let m = self.0;
        let version = u32::try_from(num(&m["version"])).unwrap();
        let self_index = num(&m["self_module_handle_idx"]);
        let self_id = self.module_id(self.entry("module_handles", &m["self_module_handle_idx"]));
        let dependencies = self
            .table("module_handles")
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != self_index)
            .map(|(_, h)| self.module_id(h))
            .collect();
        let friends = self.table("friend_decls").iter().map(|h| self.module_id(h)).collect();
        // Our normalized view's convention for metadata keys: UTF-8 text, else 0x-prefixed hex.
        let metadata_keys = self
            .table("metadata")
            .iter()
            .map(|md| {
                let key: Vec<u8> = arr(&md["key"]).iter().map(|b| u8::try_from(num(b)).unwrap()).collect();
                match String::from_utf8(key.clone()) {
                    Ok(s) if !s.starts_with("0x") => s,
                    _ => format!("0x{}", hex(&key)),
                }
            })
            .collect();
        let mut structs = Vec::new();
        for def in self.table("struct_defs") {
            let mut s = self.datatype_decl(&def["struct_handle"]);
            let info = &def["field_information"];
            if info == "Native" {
                s.native = true;
            } else {
                s.fields = self.fields(&info["Declared"]);
            }
            structs.push(s);
        }
        for def in self.table("enum_defs") {
            let mut s = self.datatype_decl(&def["enum_handle"]);
            s.variants = Some(
                arr(&def["variants"])
                    .iter()
                    .map(|v| Variant { name: self.ident(&v["variant_name"]), fields: self.fields(&v["fields"]) })
                    .collect(),
            );
            structs.push(s);
        }
        let functions = self
            .table("function_defs")
            .iter()
            .map(|def| {
                let h = self.entry("function_handles", &def["function"]);
                Function {
                    name: self.ident(&h["name"]),
                    visibility: match def["visibility"].as_str().unwrap() {
                        "Private" => Visibility::Private,
                        "Public" => Visibility::Public,
                        "Friend" => Visibility::Friend,
                        other => panic!("unknown visibility {other}"),
                    },
                    entry: def["is_entry"].as_bool().unwrap(),
                    native: def["code"].is_null(),
                    type_params: arr(&h["type_parameters"])
                        .iter()
                        .map(|c| FunctionTypeParameter { constraints: abilities(c) })
                        .collect(),
                    params: self.signature(&h["parameters"]),
                    returns: self.signature(&h["return_"]),
                }
            })
            .collect();
        let mut module = Module {
            address: self_id.address,
            name: self_id.name,
            // The JSON does not carry the flavor byte; Sui writes 0x05 with version 7 only.
            bytecode_version: if version >= 7 { Version::sui(version) } else { Version::new(version) },
            dependencies,
            friends,
            metadata_keys,
            structs,
            functions,
        };
        module.sort();
        module
    }
}

/// Where two normalized modules first differ.
fn module_diff(ours: &Module, sui: &Module) -> Option<String> {
    if ours == sui {
        return None;
    }
    let scalar = [
        ("address", ours.address != sui.address),
        ("name", ours.name != sui.name),
        ("version", ours.bytecode_version != sui.bytecode_version),
        ("dependencies", ours.dependencies != sui.dependencies),
        ("friends", ours.friends != sui.friends),
        ("metadata keys", ours.metadata_keys != sui.metadata_keys),
    ];
    if let Some((what, _)) = scalar.iter().find(|(_, differs)| *differs) {
        return Some(format!("{what} differ:\n  ours {ours:?}\n  Sui  {sui:?}"));
    }
    for (a, b) in ours.structs.iter().zip(&sui.structs) {
        if a != b {
            return Some(format!("struct differs:\n  ours {a:?}\n  Sui  {b:?}"));
        }
    }
    for (a, b) in ours.functions.iter().zip(&sui.functions) {
        if a != b {
            return Some(format!("function differs:\n  ours {a:?}\n  Sui  {b:?}"));
        }
    }
    Some(format!(
        "{} vs {} structs, {} vs {} functions",
        ours.structs.len(),
        sui.structs.len(),
        ours.functions.len(),
        sui.functions.len()
    ))
}

// ---------------------------------------------------------------------------------------------
// Coverage of the generated corpus

#[derive(Default)]
struct Coverage(BTreeSet<&'static str>);

impl Coverage {
    fn ty(&mut self, t: &Type) {
        let tag = match t {
            Type::Bool => "bool",
            Type::U8 => "u8",
            Type::U16 => "u16",
            Type::U32 => "u32",
            Type::U64 => "u64",
            Type::U128 => "u128",
            Type::U256 => "u256",
            Type::Address => "address",
            Type::Signer => "signer",
            Type::Vector(t) => {
                self.ty(t);
                "vector"
            }
            Type::Reference(t) => {
                self.ty(t);
                "reference"
            }
            Type::MutableReference(t) => {
                self.ty(t);
                "mutable reference"
            }
            Type::TypeParameter(_) => "type parameter",
            Type::Datatype(d) => {
                d.type_args.iter().for_each(|a| self.ty(a));
                if d.type_args.is_empty() {
                    "datatype"
                } else {
                    "datatype instantiation"
                }
            }
            other => panic!("the generator made {other:?} for Sui"),
        };
        self.0.insert(tag);
    }

    fn module(&mut self, m: &Module) {
        let mut add = |cond: bool, tag: &'static str| {
            if cond {
                self.0.insert(tag);
            }
        };
        add(!m.friends.is_empty(), "friends");
        add(m.structs.iter().any(|s| s.native), "native struct");
        add(!m.metadata_keys.is_empty(), "metadata");
        add(!m.dependencies.is_empty(), "dependencies");
        for s in &m.structs {
            add(s.is_enum(), "enum");
            add(s.type_params.iter().any(|p| p.phantom), "phantom");
            add(s.type_params.iter().any(|p| !p.constraints.is_empty()), "constrained type parameter");
        }
        for f in &m.functions {
            add(f.native, "native function");
            add(f.entry, "entry");
            add(!f.type_params.is_empty(), "generic function");
            add(f.visibility == Visibility::Private, "private");
            add(f.visibility == Visibility::Public, "public");
            add(f.visibility == Visibility::Friend, "friend");
        }
        for s in &m.structs {
            for f in s.fields.iter().chain(s.variants.iter().flatten().flat_map(|v| &v.fields)) {
                self.ty(&f.ty);
            }
        }
        for f in &m.functions {
            f.params.iter().chain(&f.returns).for_each(|t| self.ty(t));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

/// Checks our full parse of `bytes` against the oracle's deserialization of the same bytes:
/// tables index for index, and the resolved view against `read_module`.
fn compare_views(bytes: &[u8], sui: &Value) -> Result<Module, String> {
    let raw =
        parse(bytes, &ParseOptions::new(ADDR, Detail::Full)).map_err(|e| format!("our full parse failed: {e}"))?;
    if let Some(d) = json_diff("module", &raw_to_sui_json(&raw), sui) {
        return Err(format!("tables differ at {d}"));
    }
    let ours = read_module(bytes, ADDR).map_err(|e| format!("our read_module failed: {e}"))?;
    if let Some(d) = module_diff(&ours, &SuiView(sui).module()) {
        return Err(format!("resolved views differ: {d}"));
    }
    Ok(ours)
}

#[test]
fn generated_modules_agree_with_sui() {
    let Some(oracle) = oracle() else { return };
    let started = Instant::now();
    // The two shapes of the brief, then version 5 (the one Sui version whose generated modules
    // have native structs), then both main shapes with tables past 127 entries (multi-byte
    // ULEB128 indices).
    let large = |version| Shape { max_structs: 40, max_fields: 10, max_functions: 60, ..Shape::new(version, ADDR) };
    let corpus = [
        (Shape::new(Version::new(6), ADDR), MODULES_PER_SHAPE),
        (Shape::new(Version::sui(7), ADDR), MODULES_PER_SHAPE),
        (Shape::new(Version::new(5), ADDR), MODULES_PER_SHAPE / 3),
        (large(Version::new(6)), MODULES_PER_SHAPE / 10),
        (large(Version::sui(7)), MODULES_PER_SHAPE / 10),
    ];
    struct Case {
        label: String,
        module: Module,
        bytes: Vec<u8>,
    }
    let mut cases = Vec::new();
    let mut coverage = vec![];
    for (shape, count) in &corpus {
        let mut cov = Coverage::default();
        for seed in FIRST_SEED..FIRST_SEED + count {
            let module = generate::module(&mut Rng::new(seed), shape, 0);
            cov.module(&module);
            let bytes = write_module(&module, ADDR, &NoResolver).unwrap();
            let raw = parse(&bytes, &ParseOptions::new(ADDR, Detail::Full)).unwrap();
            if raw.identifiers.len() > 127 {
                cov.0.insert("more than 127 identifiers");
            }
            cases.push(Case {
                label: format!("generate::module(&mut Rng::new({seed:#x}), &{shape:?}, 0)"),
                module,
                bytes,
            });
        }
        coverage.push(cov);
    }
    for ((shape, _), cov) in corpus.iter().zip(&coverage) {
        let v = shape.version;
        let mut want = vec![
            "bool",
            "u8",
            "u64",
            "u128",
            "address",
            "signer",
            "vector",
            "reference",
            "mutable reference",
            "type parameter",
            "datatype",
            "datatype instantiation",
            "friends",
            "metadata",
            "dependencies",
            "phantom",
            "constrained type parameter",
            "native function",
            "entry",
            "generic function",
            "private",
            "public",
            "friend",
        ];
        if v.number >= 6 {
            want.extend(["u16", "u32", "u256"]);
        } else {
            want.push("native struct");
        }
        if v.is_sui() {
            want.push("enum");
        }
        if shape.max_structs > 6 {
            want.push("more than 127 identifiers");
        }
        let missing: Vec<_> = want.iter().filter(|w| !cov.0.contains(*w)).collect();
        assert!(missing.is_empty(), "{shape:?}: the corpus never has {missing:?}");
    }

    // (a) The oracle reads our bytes; its tables and resolved view equal ours.
    let jobs: Vec<Value> = cases.iter().map(|c| deserialize_job(&c.bytes)).collect();
    let read = oracle.run(&jobs);
    let mut failures = Vec::new();
    let mut to_serialize = Vec::new();
    for (case, result) in cases.iter().zip(&read) {
        let checked = ok_module(result).and_then(|sui| {
            let ours = compare_views(&case.bytes, sui)?;
            if ours != case.module {
                return Err("our read_module differs from the generated module".to_owned());
            }
            // The writer's function bodies are `LdU64 0; Abort` in Sui's eyes too.
            for def in arr(&sui["function_defs"]) {
                let code = &def["code"];
                if !code.is_null() && code["code"] != json!([{"LdU64": "0"}, "Abort"]) {
                    return Err(format!("unexpected body {code}"));
                }
            }
            Ok(sui.clone())
        });
        match checked {
            Ok(sui) => to_serialize.push((case, sui)),
            Err(e) => failures.push(format!("{}: {e}", case.label)),
        }
    }

    // (b) The oracle writes its JSON back; we read the module again, from the same bytes.
    let jobs: Vec<Value> = to_serialize.iter().map(|(_, m)| serialize_job(m)).collect();
    let written = oracle.run(&jobs);
    let mut identical = 0;
    for ((case, _), result) in to_serialize.iter().zip(&written) {
        let checked = ok_bytes(result).and_then(|bytes| {
            let back = read_module(&bytes, ADDR).map_err(|e| format!("we cannot read the oracle's bytes: {e}"))?;
            if let Some(d) = module_diff(&back, &case.module) {
                return Err(format!("module read from the oracle's bytes differs: {d}"));
            }
            let raw = parse(&bytes, &ParseOptions::new(ADDR, Detail::Full)).unwrap();
            if serializer::serialize(&raw).unwrap() != bytes {
                return Err("our serializer does not reproduce the oracle's bytes".to_owned());
            }
            if bytes != case.bytes {
                let at = bytes.iter().zip(&case.bytes).take_while(|(a, b)| a == b).count();
                return Err(format!(
                    "the oracle's bytes differ from ours from offset {at} \
                     ({} vs {} bytes):\n  ours   {}\n  oracle {}",
                    case.bytes.len(),
                    bytes.len(),
                    hex(&case.bytes),
                    hex(&bytes)
                ));
            }
            identical += 1;
            Ok(())
        });
        if let Err(e) = checked {
            failures.push(format!("{} (write back): {e}", case.label));
        }
    }

    eprintln!(
        "differential_sui: {} generated modules read by Sui, {} written back byte-identical, \
         {} failures, {:.2?}",
        cases.len(),
        identical,
        failures.len(),
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of {} generated modules disagree with Sui:\n{}",
        failures.len(),
        cases.len(),
        failures.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}

// --- hand-built modules with real bodies ------------------------------------------------------

const COPY: u8 = 1;
const DROP: u8 = 2;
const STORE: u8 = 4;
const KEY: u8 = 8;

fn address_hex(n: u64) -> String {
    hex(Address::from_u64(n).as_bytes32())
}

fn u256_le(low: u128, high: u128) -> Vec<u8> {
    let mut v = low.to_le_bytes().to_vec();
    v.extend_from_slice(&high.to_le_bytes());
    v
}

/// The rich example of the oracle investigation: every Sui opcode, natives, friends, generic
/// structs, enums (version 7 only), jump tables, every integer width.
fn rich_module(version: u32) -> Value {
    let enums = version >= 7;
    let identifiers: Vec<String> = [
        "m", "n", "S", "Inner", "E", "f", "g", "h", "k", "a", "b", "c", "d", "e", "f0", "g0", "h0", "i", "j", "k0",
        "l", "x", "A", "B", "z",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut every_op = vec![
        json!("Pop"),
        json!({"BrTrue": 0}),
        json!({"BrFalse": 0}),
        json!({"Branch": 0}),
        json!({"LdU8": 255}),
        json!({"LdU64": "1"}),
        json!({"LdU128": "1"}),
        json!("CastU8"),
        json!("CastU64"),
        json!("CastU128"),
        json!({"LdConst": 0}),
        json!("LdTrue"),
        json!("LdFalse"),
        json!({"CopyLoc": 0}),
        json!({"MoveLoc": 1}),
        json!({"StLoc": 2}),
        json!({"Call": 0}),
        json!({"CallGeneric": 0}),
        json!({"Pack": 0}),
        json!({"PackGeneric": 0}),
        json!({"Unpack": 0}),
        json!({"UnpackGeneric": 0}),
        json!("ReadRef"),
        json!("WriteRef"),
        json!("FreezeRef"),
        json!({"MutBorrowLoc": 3}),
        json!({"ImmBorrowLoc": 4}),
        json!({"MutBorrowField": 0}),
        json!({"MutBorrowFieldGeneric": 0}),
        json!({"ImmBorrowField": 0}),
        json!({"ImmBorrowFieldGeneric": 0}),
    ];
    for op in [
        "Add", "Sub", "Mul", "Mod", "Div", "BitOr", "BitAnd", "Xor", "Or", "And", "Not", "Eq", "Neq", "Lt", "Gt", "Le",
        "Ge", "Abort", "Nop", "Shl", "Shr",
    ] {
        every_op.push(json!(op));
    }
    every_op.extend([
        json!({"VecPack": [6, "3"]}),
        json!({"VecLen": 6}),
        json!({"VecImmBorrow": 6}),
        json!({"VecMutBorrow": 6}),
        json!({"VecPushBack": 6}),
        json!({"VecPopBack": 6}),
        json!({"VecUnpack": [6, "2"]}),
        json!({"VecSwap": 6}),
        json!({"LdU16": 1}),
        json!({"LdU32": 1}),
        json!({"LdU256": u256_le(1, 0)}),
        json!("CastU16"),
        json!("CastU32"),
        json!("CastU256"),
    ]);
    if enums {
        for op in [
            "PackVariant",
            "PackVariantGeneric",
            "UnpackVariant",
            "UnpackVariantImmRef",
            "UnpackVariantMutRef",
            "UnpackVariantGeneric",
            "UnpackVariantGenericImmRef",
            "UnpackVariantGenericMutRef",
            "VariantSwitch",
        ] {
            every_op.push(json!({ op: 0 }));
        }
    }
    for op in [
        "ExistsDeprecated",
        "ExistsGenericDeprecated",
        "MoveFromDeprecated",
        "MoveFromGenericDeprecated",
        "MoveToDeprecated",
        "MoveToGenericDeprecated",
        "MutBorrowGlobalDeprecated",
        "MutBorrowGlobalGenericDeprecated",
        "ImmBorrowGlobalDeprecated",
        "ImmBorrowGlobalGenericDeprecated",
    ] {
        every_op.push(json!({ op: 0 }));
    }
    every_op.push(json!("Ret"));
    let jump = |targets: Value| -> Value {
        if enums {
            json!([{"head_enum": 0, "jump_table": {"Full": targets}}])
        } else {
            json!([])
        }
    };
    let mut datatype_handles = vec![
        json!({"module": 0, "name": 2, "abilities": KEY | STORE, "type_parameters": [
            {"constraints": COPY, "is_phantom": true},
            {"constraints": DROP, "is_phantom": false}]}),
        json!({"module": 0, "name": 3, "abilities": COPY | DROP, "type_parameters": []}),
    ];
    if enums {
        datatype_handles.push(json!({"module": 0, "name": 4, "abilities": COPY | DROP,
            "type_parameters": [{"constraints": 0, "is_phantom": false}]}));
    }
    json!({
        "version": version,
        "self_module_handle_idx": 0,
        "module_handles": [{"address": 0, "name": 0}, {"address": 0, "name": 1}],
        "datatype_handles": datatype_handles,
        "function_handles": [
            {"module": 0, "name": 5, "parameters": 1, "return_": 2, "type_parameters": []},
            {"module": 0, "name": 6, "parameters": 0, "return_": 0, "type_parameters": []},
            {"module": 0, "name": 7, "parameters": 3, "return_": 0, "type_parameters": []},
            {"module": 0, "name": 8, "parameters": 4, "return_": 4, "type_parameters": [COPY | DROP]},
            {"module": 0, "name": 24, "parameters": 0, "return_": 0, "type_parameters": [0]},
        ],
        "field_handles": [{"owner": 0, "field": 0}],
        "friend_decls": [{"address": 0, "name": 1}],
        "struct_def_instantiations": [{"def": 0, "type_parameters": 5}],
        "function_instantiations": [{"handle": 3, "type_parameters": 6}],
        "field_instantiations": [{"handle": 0, "type_parameters": 5}],
        "signatures": [
            [],
            ["Bool", {"Reference": "U64"}, {"MutableReference": {"Vector": "U8"}}],
            ["U64", "U128"],
            [{"Reference": "Signer"}],
            [{"TypeParameter": 0}],
            ["U8", "U64"],
            ["U64"],
            ["U16", "U32", "U256", "Address", {"Datatype": 1},
             {"DatatypeInstantiation": [0, ["U8", "U64"]]}],
        ],
        "identifiers": identifiers,
        "address_identifiers": [address_hex(2)],
        "constant_pool": [
            {"type_": "U64", "data": [42, 0, 0, 0, 0, 0, 0, 0]},
            {"type_": {"Vector": "U8"}, "data": [3, 97, 98, 99]},
            {"type_": "Address", "data": Address::from_u64(2).as_bytes32().to_vec()},
        ],
        "metadata": [{"key": [0x6b], "value": [1, 2, 3]}],
        "struct_defs": [
            {"struct_handle": 0, "field_information": {"Declared": [
                {"name": 9, "signature": "Bool"},
                {"name": 10, "signature": "U8"},
                {"name": 11, "signature": "U16"},
                {"name": 12, "signature": "U32"},
                {"name": 13, "signature": "U64"},
                {"name": 14, "signature": "U128"},
                {"name": 15, "signature": "U256"},
                {"name": 16, "signature": "Address"},
                {"name": 17, "signature": "Signer"},
                {"name": 18, "signature": {"Vector": "U64"}},
                {"name": 19, "signature": {"Datatype": 1}},
                {"name": 20, "signature": {"DatatypeInstantiation": [0, ["U8", {"TypeParameter": 1}]]}},
                {"name": 21, "signature": {"TypeParameter": 1}},
            ]}},
            {"struct_handle": 1, "field_information": {"Declared": [{"name": 21, "signature": "U64"}]}},
        ],
        "function_defs": [
            {"function": 0, "visibility": "Public", "is_entry": false,
             "acquires_global_resources": [], "code": {"locals": 0, "jump_tables": [], "code": [
                {"LdU64": u64::MAX.to_string()}, {"LdU128": u128::MAX.to_string()}, "Ret"]}},
            {"function": 1, "visibility": "Friend", "is_entry": false,
             "acquires_global_resources": [], "code": {"locals": 7, "jump_tables": jump(json!([13, 13])),
             "code": [
                {"LdU16": 65535}, {"StLoc": 0}, {"LdU32": 4294967295u32}, {"StLoc": 1},
                {"LdU256": u256_le(5, 0)}, {"StLoc": 2}, {"LdConst": 2}, {"StLoc": 3},
                "LdTrue", {"BrFalse": 13}, {"LdU8": 7}, {"VecPack": [6, "0"]}, {"Branch": 13},
                "Ret"]}},
            {"function": 2, "visibility": "Private", "is_entry": true,
             "acquires_global_resources": [], "code": {"locals": 0, "jump_tables": [], "code": [
                {"MoveLoc": 0}, "Pop", {"CallGeneric": 0}, {"Call": 1}, "Ret"]}},
            {"function": 3, "visibility": "Public", "is_entry": false,
             "acquires_global_resources": [], "code": null},
            {"function": 4, "visibility": "Private", "is_entry": false,
             "acquires_global_resources": [0], "code": {"locals": 7,
             "jump_tables": jump(json!([0, 1])), "code": every_op}},
        ],
        "enum_defs": if enums { json!([{"enum_handle": 2, "variants": [
            {"variant_name": 22, "fields": []},
            {"variant_name": 23, "fields": [{"name": 21, "signature": {"TypeParameter": 0}}]},
        ]}]) } else { json!([]) },
        "enum_def_instantiations": if enums { json!([{"def": 0, "type_parameters": 6}]) } else { json!([]) },
        "variant_handles": if enums { json!([{"enum_def": 0, "variant": 1}]) } else { json!([]) },
        "variant_instantiation_handles": if enums { json!([{"enum_def": 0, "variant": 1}]) } else { json!([]) },
    })
}

/// A module whose indices, offsets, counts and blobs need multi-byte ULEB128: 180 identifiers,
/// 150 constants, 210 locals, a 20-variant enum switched on with targets past 127, a 400-byte
/// metadata value, several jump tables, generic enum instructions, a native struct.
fn wide_module() -> Value {
    let mut identifiers: Vec<String> = vec!["wide".into()];
    identifiers.extend((0..150).map(|i| format!("pad{i}"))); // 1..=150
    let id = |s: &str, ids: &mut Vec<String>| -> usize {
        ids.push(s.to_owned());
        ids.len() - 1
    };
    let big = id("Big", &mut identifiers); // 151
    let gen = id("Gen", &mut identifiers);
    let s = id("S", &mut identifiers);
    let run = id("run", &mut identifiers);
    let gen_fn = id("gen_fn", &mut identifiers);
    let x = id("x", &mut identifiers);
    let native = id("Nat", &mut identifiers);
    let v0 = identifiers.len();
    identifiers.extend((0..20).map(|i| format!("V{i}")));

    let mut locals = Vec::new();
    let kinds = [
        json!("U64"),
        json!("U8"),
        json!("Bool"),
        json!("Address"),
        json!({"Vector": "U8"}),
        json!("U256"),
        json!({"Datatype": 2}),
        json!({"DatatypeInstantiation": [1, ["U128"]]}),
    ];
    for i in 0..210 {
        locals.push(kinds[i % kinds.len()].clone());
    }
    let mut constants = Vec::new();
    for i in 0..150u64 {
        constants.push(match i % 4 {
            0 => json!({"type_": "U64", "data": i.to_le_bytes().to_vec()}),
            1 => json!({"type_": {"Vector": "U8"}, "data": [2, i as u8, 0xff]}),
            2 => json!({"type_": "Address", "data": Address::from_u64(i).as_bytes32().to_vec()}),
            _ => json!({"type_": "U256", "data": u256_le(u128::from(i), u128::MAX)}),
        });
    }

    let mut code = vec![
        json!({"LdConst": 149}),
        json!({"StLoc": 200}),
        json!({"CopyLoc": 200}),
        json!("Pop"),
        json!({"LdU64": u64::MAX.to_string()}),
        json!({"LdU128": (u128::MAX - 12345).to_string()}),
        json!({"LdU256": u256_le(u128::MAX, 0x0123_4567_89ab_cdef)}),
        json!({"LdU16": 0xBEEF}),
        json!({"LdU32": 0xDEAD_BEEFu32}),
        json!({"VecPack": [4, (1u64 << 40).to_string()]}),
        json!({"VecUnpack": [4, u64::MAX.to_string()]}),
        json!({"PackVariant": 0}),
        json!({"PackVariant": 1}),
        json!({"UnpackVariantImmRef": 1}),
        json!({"PackVariantGeneric": 0}),
        json!({"UnpackVariantGenericMutRef": 0}),
        json!({"CallGeneric": 0}),
        json!({"Call": 1}),
        json!({"BrTrue": 390}),
        json!({"BrFalse": 128}),
        json!({"VariantSwitch": 0}),
        json!({"VariantSwitch": 1}),
        json!({"VariantSwitch": 2}),
        json!({"MutBorrowLoc": 209}),
        json!({"ImmBorrowField": 0}),
    ];
    while code.len() < 399 {
        code.push(if code.len() % 50 == 0 { json!({"Branch": code.len() + 1}) } else { json!("Nop") });
    }
    code.push(json!("Ret"));
    let variant_targets: Vec<usize> = (0..20).map(|i| 130 + 13 * i).collect();

    json!({
        "version": 7,
        "self_module_handle_idx": 1,
        "module_handles": [{"address": 1, "name": 7}, {"address": 0, "name": 0}],
        "datatype_handles": [
            {"module": 1, "name": big, "abilities": COPY | DROP, "type_parameters": []},
            {"module": 1, "name": gen, "abilities": COPY | DROP | STORE,
             "type_parameters": [{"constraints": STORE, "is_phantom": false}]},
            {"module": 1, "name": s, "abilities": COPY | DROP | STORE, "type_parameters": []},
            {"module": 1, "name": native, "abilities": KEY,
             "type_parameters": [{"constraints": COPY, "is_phantom": true}]},
        ],
        "function_handles": [
            {"module": 1, "name": run, "parameters": 0, "return_": 0, "type_parameters": []},
            {"module": 1, "name": gen_fn, "parameters": 2, "return_": 2,
             "type_parameters": [COPY | DROP | STORE | KEY]},
        ],
        "field_handles": [{"owner": 0, "field": 0}],
        "friend_decls": [{"address": 1, "name": 5}, {"address": 0, "name": 140}],
        "struct_def_instantiations": [],
        "function_instantiations": [{"handle": 1, "type_parameters": 1}],
        "field_instantiations": [],
        "signatures": [[], ["U64"], [{"TypeParameter": 0}], locals, ["U8"]],
        "identifiers": identifiers,
        "address_identifiers": [
            address_hex(0xcafe),
            hex(&(0..32u8).map(|b| b.wrapping_mul(37)).collect::<Vec<_>>()),
        ],
        "constant_pool": constants,
        "metadata": [
            {"key": b"sui::wide".to_vec(), "value": (0..400u32).map(|b| b as u8).collect::<Vec<_>>()},
            {"key": [0, 0xff], "value": []},
        ],
        "struct_defs": [
            {"struct_handle": 2, "field_information": {"Declared": [{"name": x, "signature": "U64"}]}},
            {"struct_handle": 3, "field_information": "Native"},
        ],
        "function_defs": [
            {"function": 0, "visibility": "Public", "is_entry": true,
             "acquires_global_resources": [], "code": {"locals": 3, "code": code, "jump_tables": [
                {"head_enum": 0, "jump_table": {"Full": variant_targets}},
                {"head_enum": 1, "jump_table": {"Full": [200, 399]}},
                {"head_enum": 0, "jump_table": {"Full": vec![0; 20]}},
             ]}},
            {"function": 1, "visibility": "Friend", "is_entry": false,
             "acquires_global_resources": [], "code": {"locals": 2,
             "code": [{"MoveLoc": 0}, {"StLoc": 1}, {"MoveLoc": 1}, "Ret"], "jump_tables": []}},
        ],
        "enum_defs": [
            {"enum_handle": 0, "variants": (0..20).map(|i| json!({
                "variant_name": v0 + i,
                "fields": if i % 2 == 1 { json!([{"name": x, "signature": "U64"},
                    {"name": 140 + i, "signature": {"Vector": {"Datatype": 2}}}]) } else { json!([]) },
            })).collect::<Vec<_>>()},
            {"enum_handle": 1, "variants": [
                {"variant_name": v0, "fields": [{"name": x, "signature": {"TypeParameter": 0}}]},
                {"variant_name": v0 + 1, "fields": []},
            ]},
        ],
        "enum_def_instantiations": [{"def": 1, "type_parameters": 1}],
        "variant_handles": [{"enum_def": 0, "variant": 19}, {"enum_def": 0, "variant": 0}],
        "variant_instantiation_handles": [{"enum_def": 0, "variant": 1}],
    })
}

#[test]
fn hand_built_bodies_agree_with_sui() {
    let Some(oracle) = oracle() else { return };
    let modules = [("rich v7", rich_module(7)), ("rich v6", rich_module(6)), ("wide v7", wide_module())];
    // Every Sui opcode is exercised.
    let used: BTreeSet<&str> = modules
        .iter()
        .flat_map(|(_, m)| arr(&m["function_defs"]))
        .filter(|d| !d["code"].is_null())
        .flat_map(|d| arr(&d["code"]["code"]))
        .map(instruction_name)
        .collect();
    for (name, _) in SUI_OPCODES.iter() {
        assert!(used.contains(name), "no hand-built module uses {name}");
    }

    let mut jobs = vec![json!({"op": "version"})];
    jobs.extend(modules.iter().map(|(_, m)| serialize_job(m)));
    let written = oracle.run(&jobs);
    assert_eq!(written[0]["version"], WASM_CRATE_VERSION, "unexpected oracle: {}", written[0]);
    let bytes: Vec<Vec<u8>> = modules
        .iter()
        .zip(&written[1..])
        .map(|((label, _), r)| ok_bytes(r).unwrap_or_else(|e| panic!("{label}: {e}")))
        .collect();
    let reread = oracle.run(&bytes.iter().map(|b| deserialize_job(b)).collect::<Vec<_>>());

    for (((label, module), bytes), result) in modules.iter().zip(&bytes).zip(&reread) {
        let sui = ok_module(result).unwrap_or_else(|e| panic!("{label}: {e}"));
        // Our JSON is in the oracle's canonical form, so what it reads is what we built.
        if let Some(d) = json_diff("module", module, sui) {
            panic!("{label}: the oracle does not read back what we built: {d}");
        }
        let raw = parse(bytes, &ParseOptions::new(ADDR, Detail::Full))
            .unwrap_or_else(|e| panic!("{label}: our full parse rejects Sui's bytes: {e}"));
        // Same instructions, opcode byte for opcode byte.
        let sui_defs = arr(&sui["function_defs"]);
        assert_eq!(raw.function_defs.len(), sui_defs.len(), "{label}");
        for (i, (ours, theirs)) in raw.function_defs.iter().zip(sui_defs).enumerate() {
            let Some(code) = &ours.code else {
                assert!(theirs["code"].is_null(), "{label}: function {i} native for us only");
                continue;
            };
            let sui_code = arr(&theirs["code"]["code"]);
            assert_eq!(code.code.len(), sui_code.len(), "{label}: function {i} instruction count");
            assert_eq!(usize::from(code.instruction_count), sui_code.len());
            for (j, (a, b)) in code.code.iter().zip(sui_code).enumerate() {
                let name = instruction_name(b);
                assert_eq!(Some(a.opcode), sui_opcode(name), "{label}: function {i} instruction {j} ({name})");
            }
        }
        // Same tables, operands and jump tables included.
        if let Some(d) = json_diff("module", &raw_to_sui_json(&raw), sui) {
            panic!("{label}: tables differ at {d}");
        }
        assert_eq!(
            &serializer::serialize(&raw).unwrap(),
            bytes,
            "{label}: our serializer does not reproduce Sui's bytes"
        );
        // And the resolved view.
        compare_views(bytes, sui).unwrap_or_else(|e| panic!("{label}: {e}"));
        eprintln!(
            "differential_sui: {label}: {} bytes, {} instructions agree",
            bytes.len(),
            raw.function_defs.iter().filter_map(|d| d.code.as_ref()).map(|c| c.code.len()).sum::<usize>()
        );
    }
}
