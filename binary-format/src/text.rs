//! A module's canonical text form: rendered for snapshots and reviews, parsed back as a builder
//! description (the stdlib's module definitions and the checker's fixtures are written in it).
//!
//! ```text
//! module 0x1::Epoch (bytecode v6)
//!   uses 0x1::Timer
//!   friends 0x1::Reconfigure
//!   struct Epoch has key
//!     epoch: u64
//!     timer: 0x1::Timer::Timer
//!   enum Status<phantom T0: store> has copy, drop
//!     Active
//!       since: u64
//!     Closed
//!   public entry fun now<T0: copy + drop>(&signer, vector<T0>): (u64, bool)
//! ```
//!
//! `render(parse(text)) == text` for rendered text, and `parse(render(m)) == m` for any module.
//! The parser also accepts blank lines and `//` comments, for hand-written definitions.

use crate::ability::{Ability, AbilitySet};
use crate::address::Address;
use crate::module::*;
use crate::types::{FunctionType, ModuleId, Type};
use crate::version::{Version, FLAVOR_APTOS, FLAVOR_SUI};
use std::fmt::Write;

fn bounds(set: AbilitySet) -> String {
    set.iter().map(Ability::name).collect::<Vec<_>>().join(" + ")
}

fn datatype_params(params: &[DatatypeTypeParameter]) -> String {
    if params.is_empty() {
        return String::new();
    }
    let list: Vec<String> = params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let phantom = if p.phantom { "phantom " } else { "" };
            let bound = if p.constraints.is_empty() { String::new() } else { format!(": {}", bounds(p.constraints)) };
            format!("{phantom}T{i}{bound}")
        })
        .collect();
    format!("<{}>", list.join(", "))
}

fn type_list(types: &[Type]) -> String {
    types.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn version_text(v: Version) -> String {
    match v.flavor {
        None => format!("v{}", v.number),
        Some(FLAVOR_SUI) => format!("v{}, sui", v.number),
        Some(FLAVOR_APTOS) => format!("v{}, aptos", v.number),
        Some(other) => format!("v{}, flavor {other}", v.number),
    }
}

/// A function's signature as Move source writes it: `<T0: copy>(&signer, u64): (u64, bool)`.
pub fn signature(f: &Function) -> String {
    let as_datatype: Vec<_> =
        f.type_params.iter().map(|p| DatatypeTypeParameter { constraints: p.constraints, phantom: false }).collect();
    let returns = match f.returns.as_slice() {
        [] => String::new(),
        [one] => format!(": {one}"),
        many => format!(": ({})", type_list(many)),
    };
    format!("{}({}){returns}", datatype_params(&as_datatype), type_list(&f.params))
}

/// A function's declaration as the text form writes it: `public entry fun f<T0: copy>(u64): u128`.
pub fn declaration(f: &Function) -> String {
    let visibility = match f.visibility {
        Visibility::Private => "",
        Visibility::Public => "public ",
        Visibility::Friend => "friend ",
    };
    let entry = if f.entry { "entry " } else { "" };
    let native = if f.native { "native " } else { "" };
    format!("{visibility}{entry}{native}fun {}{}", f.name, signature(f))
}

/// The text form of one module.
pub fn render(m: &Module) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "module {} (bytecode {})", m.id(), version_text(m.bytecode_version));
    let ids = |ids: &[ModuleId]| ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    if !m.dependencies.is_empty() {
        let _ = writeln!(out, "  uses {}", ids(&m.dependencies));
    }
    if !m.friends.is_empty() {
        let _ = writeln!(out, "  friends {}", ids(&m.friends));
    }
    if !m.metadata_keys.is_empty() {
        let _ = writeln!(out, "  metadata {}", m.metadata_keys.join(", "));
    }
    for s in &m.structs {
        let keyword = match (s.is_enum(), s.native) {
            (true, _) => "enum",
            (false, true) => "native struct",
            (false, false) => "struct",
        };
        let has = if s.abilities.is_empty() { String::new() } else { format!(" has {}", s.abilities) };
        let _ = writeln!(out, "  {keyword} {}{}{has}", s.name, datatype_params(&s.type_params));
        for f in &s.fields {
            let _ = writeln!(out, "    {}: {}", f.name, f.ty);
        }
        for v in s.variants.iter().flatten() {
            let _ = writeln!(out, "    {}", v.name);
            for f in &v.fields {
                let _ = writeln!(out, "      {}: {}", f.name, f.ty);
            }
        }
    }
    for f in &m.functions {
        let _ = writeln!(out, "  {}", declaration(f));
    }
    out
}

/// A parse error: line number (1-based) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for TextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for TextError {}

type TResult<T> = std::result::Result<T, String>;

/// A cursor over one line's text, for the type and parameter grammars.
struct Scan<'s> {
    s: &'s str,
}

impl<'s> Scan<'s> {
    fn ws(&mut self) {
        self.s = self.s.trim_start();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.ws();
        match self.s.strip_prefix(token) {
            Some(rest) => {
                self.s = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, token: &str) -> TResult<()> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(format!("expected `{token}` at `{}`", self.s))
        }
    }

    fn word(&mut self) -> TResult<&'s str> {
        self.ws();
        let end = self.s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$')).unwrap_or(self.s.len());
        if end == 0 {
            return Err(format!("expected a name at `{}`", self.s));
        }
        let (w, rest) = self.s.split_at(end);
        self.s = rest;
        Ok(w)
    }

    fn types_until(&mut self, close: &str) -> TResult<Vec<Type>> {
        let mut out = Vec::new();
        if self.eat(close) {
            return Ok(out);
        }
        loop {
            out.push(self.ty()?);
            if self.eat(close) {
                return Ok(out);
            }
            self.expect(",")?;
        }
    }

    fn abilities(&mut self, separator: &str) -> TResult<AbilitySet> {
        let mut set = AbilitySet::EMPTY;
        loop {
            let w = self.word()?;
            let a = Ability::ALL.into_iter().find(|a| a.name() == w).ok_or_else(|| format!("unknown ability `{w}`"))?;
            set = set.with(a);
            if !self.eat(separator) {
                return Ok(set);
            }
        }
    }

    fn ty(&mut self) -> TResult<Type> {
        if self.eat("&mut ") {
            return Ok(Type::MutableReference(Box::new(self.ty()?)));
        }
        if self.eat("&") {
            return Ok(Type::Reference(Box::new(self.ty()?)));
        }
        if self.eat("(") {
            let t = self.ty()?;
            self.expect(")")?;
            return Ok(t);
        }
        if self.eat("|") {
            let params = self.types_until("|")?;
            self.expect("(")?;
            let returns = self.types_until(")")?;
            let abilities = if self.eat("has ") { self.abilities("+")? } else { AbilitySet::EMPTY };
            return Ok(Type::Function(Box::new(FunctionType { params, returns, abilities })));
        }
        let w = self.word()?;
        Ok(match w {
            "bool" => Type::Bool,
            "u8" => Type::U8,
            "u16" => Type::U16,
            "u32" => Type::U32,
            "u64" => Type::U64,
            "u128" => Type::U128,
            "u256" => Type::U256,
            "i8" => Type::I8,
            "i16" => Type::I16,
            "i32" => Type::I32,
            "i64" => Type::I64,
            "i128" => Type::I128,
            "i256" => Type::I256,
            "address" => Type::Address,
            "signer" => Type::Signer,
            "vector" => {
                self.expect("<")?;
                let t = self.ty()?;
                self.expect(">")?;
                Type::Vector(Box::new(t))
            }
            _ if w.starts_with("0x") => {
                let address = Address::parse_hex(w).ok_or_else(|| format!("`{w}` is not an address"))?;
                self.expect("::")?;
                let module = self.word()?;
                self.expect("::")?;
                let name = self.word()?;
                let args = if self.eat("<") { self.types_until(">")? } else { Vec::new() };
                Type::datatype(ModuleId::new(address, module), name, args)
            }
            _ => match w.strip_prefix('T').and_then(|n| n.parse::<u16>().ok()) {
                Some(i) => Type::TypeParameter(i),
                None => return Err(format!("unknown type `{w}`")),
            },
        })
    }

    /// `<phantom T0: copy + drop, T1>`, checking the parameters are numbered in order.
    fn type_params(&mut self) -> TResult<Vec<DatatypeTypeParameter>> {
        let mut out = Vec::new();
        if !self.eat("<") {
            return Ok(out);
        }
        loop {
            let phantom = self.eat("phantom ");
            let name = self.word()?;
            if name != format!("T{}", out.len()) {
                return Err(format!("type parameter `{name}` should be `T{}`", out.len()));
            }
            let constraints = if self.eat(":") { self.abilities("+")? } else { AbilitySet::EMPTY };
            out.push(DatatypeTypeParameter { constraints, phantom });
            if self.eat(">") {
                return Ok(out);
            }
            self.expect(",")?;
        }
    }

    fn end(&mut self) -> TResult<()> {
        self.ws();
        if self.s.is_empty() {
            Ok(())
        } else {
            Err(format!("unexpected `{}`", self.s))
        }
    }
}

fn parse_version(s: &str) -> TResult<Version> {
    let (number, flavor) = match s.split_once(", ") {
        Some((n, f)) => (n, Some(f)),
        None => (s, None),
    };
    let number: u32 =
        number.strip_prefix('v').and_then(|n| n.parse().ok()).ok_or_else(|| format!("bad version `{s}`"))?;
    let flavor = match flavor {
        None => None,
        Some("sui") => Some(FLAVOR_SUI),
        Some("aptos") => Some(FLAVOR_APTOS),
        Some(other) => Some(
            other
                .strip_prefix("flavor ")
                .and_then(|b| b.parse().ok())
                .ok_or_else(|| format!("bad flavor `{other}`"))?,
        ),
    };
    Ok(Version { number, flavor })
}

fn parse_function(line: &str) -> TResult<Function> {
    let mut s = Scan { s: line };
    let visibility = if s.eat("public ") {
        Visibility::Public
    } else if s.eat("friend ") {
        Visibility::Friend
    } else {
        Visibility::Private
    };
    let entry = s.eat("entry ");
    let native = s.eat("native ");
    s.expect("fun ")?;
    let name = s.word()?.to_owned();
    let type_params = s.type_params()?;
    if type_params.iter().any(|p| p.phantom) {
        return Err("function type parameters cannot be phantom".to_owned());
    }
    s.expect("(")?;
    let params = s.types_until(")")?;
    let returns = if s.eat(":") {
        if s.eat("(") {
            s.types_until(")")?
        } else {
            vec![s.ty()?]
        }
    } else {
        Vec::new()
    };
    s.end()?;
    Ok(Function {
        name,
        visibility,
        entry,
        native,
        type_params: type_params.iter().map(|p| FunctionTypeParameter { constraints: p.constraints }).collect(),
        params,
        returns,
    })
}

fn parse_field(line: &str) -> TResult<Field> {
    let (name, ty) = line.split_once(':').ok_or_else(|| format!("expected `name: type`, found `{line}`"))?;
    let name = name.trim();
    if !crate::identifier::is_valid(name) {
        return Err(format!("`{name}` is not a field name"));
    }
    let mut s = Scan { s: ty };
    let ty = s.ty()?;
    s.end()?;
    Ok(Field { name: name.to_owned(), ty })
}

fn id_list(s: &str) -> TResult<Vec<ModuleId>> {
    s.split(',')
        .map(|id| ModuleId::parse(id.trim()).ok_or_else(|| format!("`{}` is not a module id", id.trim())))
        .collect()
}

/// Parses one or more modules in text form.
pub fn parse(text: &str) -> Result<Vec<Module>, TextError> {
    let mut modules: Vec<Module> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let err = |message: String| TextError { line: line_no, message };
        let content = raw.split("//").next().unwrap_or_default().trim_end();
        if content.trim().is_empty() {
            continue;
        }
        let indent = content.len() - content.trim_start().len();
        let line = content.trim_start();
        if indent == 0 {
            let rest = line.strip_prefix("module ").ok_or_else(|| err(format!("expected `module`, found `{line}`")))?;
            let (id, version) = rest
                .split_once(" (bytecode ")
                .and_then(|(id, v)| Some((id, v.strip_suffix(')')?)))
                .ok_or_else(|| err("expected `module ADDRESS::NAME (bytecode vN)`".to_owned()))?;
            let id = ModuleId::parse(id).ok_or_else(|| err(format!("`{id}` is not a module id")))?;
            let bytecode_version = parse_version(version).map_err(err)?;
            modules.push(Module {
                address: id.address,
                name: id.name,
                bytecode_version,
                dependencies: Vec::new(),
                friends: Vec::new(),
                metadata_keys: Vec::new(),
                structs: Vec::new(),
                functions: Vec::new(),
            });
            continue;
        }
        let m = modules.last_mut().ok_or_else(|| err("expected a `module` line first".to_owned()))?;
        match indent {
            2 => {
                if let Some(rest) = line.strip_prefix("uses ") {
                    m.dependencies.extend(id_list(rest).map_err(err)?);
                } else if let Some(rest) = line.strip_prefix("friends ") {
                    m.friends.extend(id_list(rest).map_err(err)?);
                } else if let Some(rest) = line.strip_prefix("metadata ") {
                    m.metadata_keys.extend(rest.split(", ").map(str::to_owned));
                } else if let Some((keyword, rest)) = ["native struct ", "struct ", "enum "]
                    .iter()
                    .find_map(|k| line.strip_prefix(k).map(|rest| (*k, rest)))
                {
                    let mut s = Scan { s: rest };
                    let name = s.word().map_err(err)?.to_owned();
                    let type_params = s.type_params().map_err(err)?;
                    let abilities = if s.eat("has ") { s.abilities(",").map_err(err)? } else { AbilitySet::EMPTY };
                    s.end().map_err(err)?;
                    m.structs.push(Struct {
                        name,
                        abilities,
                        type_params,
                        fields: Vec::new(),
                        variants: (keyword == "enum ").then(Vec::new),
                        native: keyword == "native struct ",
                    });
                } else {
                    m.functions.push(parse_function(line).map_err(err)?);
                }
            }
            4 => {
                let s = m.structs.last_mut().ok_or_else(|| err("a field outside a struct".to_owned()))?;
                match &mut s.variants {
                    Some(variants) => {
                        if !crate::identifier::is_valid(line) {
                            return Err(err(format!("`{line}` is not a variant name")));
                        }
                        variants.push(Variant { name: line.to_owned(), fields: Vec::new() });
                    }
                    None if s.native => return Err(err("a native struct has no fields".to_owned())),
                    None => s.fields.push(parse_field(line).map_err(err)?),
                }
            }
            6 => {
                let variant = m
                    .structs
                    .last_mut()
                    .and_then(|s| s.variants.as_mut())
                    .and_then(|v| v.last_mut())
                    .ok_or_else(|| err("a variant field outside a variant".to_owned()))?;
                variant.fields.push(parse_field(line).map_err(err)?);
            }
            _ => return Err(err(format!("unexpected indentation of {indent} spaces"))),
        }
    }
    for m in &mut modules {
        m.sort();
    }
    Ok(modules)
}

/// Parses exactly one module.
pub fn parse_module(text: &str) -> Result<Module, TextError> {
    let mut modules = parse(text)?;
    match (modules.pop(), modules.is_empty()) {
        (Some(m), true) => Ok(m),
        _ => Err(TextError { line: 1, message: "expected exactly one module".to_owned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{self, Rng, Shape};

    const EPOCH: &str = "\
module 0x1::Epoch (bytecode v6)
  uses 0x1::Timer
  friends 0x1::Reconfigure
  struct Epoch has key
    epoch: u64
    timer: 0x1::Timer::Timer
  struct Pair<phantom T0: store, T1: copy + drop> has copy, drop
    left: vector<T1>
    right: 0x1::option::Option<&mut T1>
  public entry fun now<T0: copy + drop>(&signer, vector<T0>): (u64, bool)
  fun tick()
";

    #[test]
    fn text_round_trips() {
        let m = parse_module(EPOCH).unwrap();
        assert_eq!(m.structs.len(), 2);
        assert_eq!(m.functions[0].name, "now");
        assert_eq!(render(&m), EPOCH);
    }

    #[test]
    fn every_generated_module_round_trips_through_text() {
        for shape in Shape::all_versions() {
            let mut rng = Rng::new(11);
            for i in 0..50 {
                let m = generate::module(&mut rng, &shape, i);
                let text = render(&m);
                assert_eq!(parse_module(&text).unwrap(), m, "{text}");
            }
        }
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("module 0x1::A (bytecode v6)\n  struct S has key\n    x: u65\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("u65"), "{e}");
        assert!(parse("  struct S").unwrap_err().message.contains("module"));
        assert!(parse("module 0x1::A (bytecode v6)\n  struct S<T1>\n").unwrap_err().message.contains("T0"));
    }
}
