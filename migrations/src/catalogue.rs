//! The catalogue: one entry per stored struct whose layout changes between two releases, with
//! its transform, validated against the release pair when it is built.
//!
//! Entries come from the declarations file the compatibility checker also reads. Building the
//! catalogue checks both directions: every layout-breaking change of a stored struct has an
//! entry, and every entry matches a real change; a derived transform compiles (defaults given for
//! new fields, nothing underivable), and a hand-written one names a registered handler. Each entry
//! has a checksum of its canonical form (declaration and both layouts): recorded when the entry
//! runs, it detects an entry later edited, removed or reordered (as Flyway and refinery do).
//! Entries are in dependency order (the new release's module graph), the order they run in.

use crate::handlers::{Handler, Handlers};
use crate::key::{StructTag, TypeTag};
use crate::layout::{Layout, LayoutError, ReleaseIndex, StructLayout};
use crate::literal::encode_literal;
use crate::plan::{DerivedPlan, PlanError};
use binary_format::{AddressLength, DatatypeRef, Module, ModuleId};
use layout_diff::diff::lineage::Versioning;
use layout_diff::storage::Need;
use layout_diff::{Declared, Plan, Upgrade};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use upgrade_spec::declarations::{Declaration, Declarations, Scope, TransformKind};
use upgrade_spec::registry::Registry;
use upgrade_spec::ReleaseLabel;

/// SHA-256 of an entry's canonical form.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Checksum(pub [u8; 32]);

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checksum({self})")
    }
}

/// Why a release pair and its declarations do not make a catalogue. [`CatalogueBuilder::build`]
/// reports every problem it finds, not only the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    /// A stored struct changes layout and no declaration covers it: its stored instances would
    /// no longer decode. Declare a migration for it.
    #[error("{struct_name} of {from} -> {to} changes layout but no migration is declared for it")]
    Undeclared {
        /// The struct's name.
        struct_name: String,
        /// Its module in the old release.
        from: String,
        /// Its module in the new release (the same id in place).
        to: String,
    },
    /// A declaration of this release that matches no struct needing a migration (wrong module,
    /// struct, addresses, or remedy: in place declared for a module that moved, or the reverse).
    #[error("migration `{id}` (line {line}) matches no layout change of {item} {versions}")]
    NoSuchChange {
        /// The declaration's id.
        id: String,
        /// Its line in the declarations file.
        line: usize,
        /// `module::Struct` as declared.
        item: String,
        /// `from 0x1 to 0x2` as declared.
        versions: String,
    },
    /// A struct used as the key type of a chain table changes layout: the stored keys
    /// themselves change, which no transform of values can carry over.
    #[error("{struct_name} of {module} is a key of a chain table: a change of its layout changes the stored keys themselves, which no transform of values carries over; keep the key type, or move the entries with a program of the chain's own")]
    KeysChange {
        /// The struct's name.
        struct_name: String,
        /// Its module in the old release.
        module: String,
    },
    /// A derived transform that does not compile (a new field without a default, a change no
    /// derived rule covers, a bad rename or default).
    #[error("migration `{id}`: {source}")]
    Transform {
        /// The declaration's id.
        id: String,
        /// Why the plan cannot be derived.
        source: PlanError,
    },
    /// A hand-written transform whose name no handler is registered under.
    #[error("migration `{id}`: no hand-written transform is registered as `{handler}`")]
    UnknownHandler {
        /// The declaration's id.
        id: String,
        /// The name it gives.
        handler: String,
    },
    /// A second declaration of a change another declaration of this release already migrates:
    /// one change has one migration.
    #[error("migration `{id}` (line {line}) migrates the same change as `{first}` (line {first_line}): one change has one migration")]
    Duplicate {
        /// The declaration's id.
        id: String,
        /// Its line.
        line: usize,
        /// The declaration that migrates the change.
        first: String,
        /// Its line.
        first_line: usize,
    },
    /// A declaration of one of this upgrade's changes that names another release: it does not
    /// run in this one.
    #[error("migration `{id}` (line {line}) migrates a change of {release}, but names release {declared}")]
    OtherRelease {
        /// The declaration's id.
        id: String,
        /// Its line in the declarations file.
        line: usize,
        /// The release it names.
        declared: String,
        /// This upgrade's release.
        release: String,
    },
    /// The new release's modules import each other in a cycle: no order to run entries in.
    #[error(transparent)]
    Cycle(#[from] upgrade_spec::order::Cycle),
    /// A layout that does not resolve, a tag that cannot be made, or (with id `stdlib`) the
    /// embedded stdlib failing to load.
    #[error("migration `{id}`: {message}")]
    Layout {
        /// The declaration's id.
        id: String,
        /// What went wrong.
        message: String,
    },
}

/// How an entry's data changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transform {
    /// Compiled from the two layouts: fields matched by name or by a declared rename, new fields
    /// filled with declared defaults, integers widened, nested structs transformed alike.
    Derived {
        /// New field name -> old field name.
        renames: BTreeMap<String, String>,
        /// New field name -> value literal (see [`crate::literal`]), for fields the new layout adds.
        defaults: BTreeMap<String, String>,
    },
    /// A Rust function registered in [`Handlers`] under this name.
    HandWritten {
        /// The registered name.
        handler: String,
    },
}

/// One migration: a stored struct moved from one version of its module to the next.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The declaration's id: stable, never reused; what the on-chain status records.
    pub id: String,
    /// The release that activates it, as the declarations name it.
    pub release: ReleaseLabel,
    /// Which accounts hold the struct: the system accounts (migrated in the activation
    /// block), user accounts (in budgeted chunks), or both.
    pub scope: Scope,
    /// The module's registry name.
    pub module: String,
    /// The struct's name.
    pub struct_name: String,
    /// The module version read.
    pub from: ModuleId,
    /// The module version written: `from` itself in place.
    pub to: ModuleId,
    /// How the bytes change.
    pub transform: Transform,
    /// SHA-256 of the declaration and both layouts: recorded on chain when the entry completes,
    /// compared by [`Catalogue::verify_history`].
    pub checksum: Checksum,
    /// Whether the struct has type parameters, phantom ones included: each instantiation
    /// (`CoinStore<AptosCoin>`) is stored under its own tag, so the hook must be told which
    /// instances exist (`HookConfig::instances`), or a rehearsal finds them in the state.
    pub generic: bool,
}

impl Entry {
    /// Whether the struct keeps its module id and changes layout where it stands.
    pub fn is_in_place(&self) -> bool {
        self.from == self.to
    }
}

/// One entry, made concrete for the type arguments of a stored instance.
#[derive(Debug, Clone)]
pub struct Instance {
    /// The key's tag in the old release: what the migration reads.
    pub old_tag: StructTag,
    /// The key's tag in the new release: what it writes (equal to `old_tag` in place).
    pub new_tag: StructTag,
    /// The layout the old bytes are in.
    pub old_layout: StructLayout,
    /// The layout the new bytes are in.
    pub new_layout: StructLayout,
    /// The transform, ready to run.
    pub compiled: Compiled,
    /// The layouts as values, built once: a hand-written transform decodes and encodes with
    /// them for every resource.
    old_value_layout: Layout,
    new_value_layout: Layout,
}

/// An instance's transform, ready to run on bytes.
#[derive(Debug, Clone)]
pub enum Compiled {
    /// A byte-level plan: no value tree is built.
    Derived(DerivedPlan),
    /// A registered function over decoded values.
    HandWritten(Handler),
}

/// The entries of one release pair, with what they need to make instances.
#[derive(Debug, Clone)]
pub struct Catalogue {
    /// The entries in the order they run: dependencies first (the new release's module graph),
    /// then declaration order.
    pub entries: Vec<Entry>,
    old: Vec<Module>,
    new: Vec<Module>,
    address_length: AddressLength,
    handlers: Handlers,
}

fn canonical(d: &Declaration, need: &Need) -> String {
    let map = |m: &BTreeMap<String, String>| m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
    let fields = |s: &binary_format::Struct| {
        s.fields.iter().map(|f| format!("{}:{}", f.name, f.ty)).collect::<Vec<_>>().join(",")
    };
    format!(
        "id={}\nrelease={}\nmodule={}\nstruct={}\nfrom={}\nto={}\nscope={:?}\ntransform={:?}\nrenames={}\ndefaults={}\nhandler={}\nold={}\nnew={}\n",
        d.id,
        d.release,
        d.module,
        d.struct_name,
        need.old_module,
        need.new_module,
        d.scope,
        d.transform,
        map(&d.renames),
        map(&d.defaults),
        d.handler.as_deref().unwrap_or(""),
        fields(&need.old),
        fields(&need.new),
    )
}

/// Every problem a release pair and its declarations have as a catalogue: an [`std::error::Error`]
/// a caller can report whole (one line each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueErrors(pub Vec<CatalogueError>);

impl fmt::Display for CatalogueErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CatalogueErrors {}

/// How a catalogue is built: the release pair and what it is built with, by name.
///
/// ```text
/// Catalogue::builder(&old, &new, &label, width)
///     .declarations(&declarations)
///     .registry(&registry)          // versioned addresses (the seed's scheme)
///     .handlers(&handlers)          // hand-written transforms the declarations name
///     .build()?
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CatalogueBuilder<'a> {
    old: &'a [&'a Module],
    new: &'a [&'a Module],
    release: &'a ReleaseLabel,
    address_length: AddressLength,
    declarations: Option<&'a Declarations>,
    registry: Option<&'a Registry>,
    handlers: Option<&'a Handlers>,
    versioning: Versioning,
}

impl<'a> CatalogueBuilder<'a> {
    /// The migration declarations (none: every change needing a migration is an error).
    pub fn declarations(self, declarations: &'a Declarations) -> Self {
        CatalogueBuilder { declarations: Some(declarations), ..self }
    }

    /// The address registry, for modules versioned at new addresses.
    pub fn registry(self, registry: &'a Registry) -> Self {
        CatalogueBuilder { registry: Some(registry), ..self }
    }

    /// The hand-written transforms declarations may name (none by default).
    pub fn handlers(self, handlers: &'a Handlers) -> Self {
        CatalogueBuilder { handlers: Some(handlers), ..self }
    }

    /// Where modules move without a registry: the chain's scheme (the seed's reserved range by
    /// default, [`Versioning::Fixed`] for chains whose modules never move).
    pub fn versioning(self, versioning: Versioning) -> Self {
        CatalogueBuilder { versioning, ..self }
    }

    /// The upgrade this builds the catalogue of.
    pub fn upgrade(&self) -> Upgrade<'a> {
        Upgrade {
            old: self.old,
            new: self.new,
            release: self.release,
            registry: self.registry,
            declarations: self.declarations,
            versioning: self.versioning,
        }
    }

    /// The catalogue, or every problem with it.
    pub fn build(self) -> Result<Catalogue, CatalogueErrors> {
        let (catalogue, errors) = self.build_partial();
        if errors.is_empty() {
            Ok(catalogue)
        } else {
            Err(CatalogueErrors(errors))
        }
    }

    /// The entries that validate, beside every problem: a rehearsal reports what is wrong and
    /// still runs the migrations that are right. A node never runs such a catalogue.
    pub fn build_partial(self) -> (Catalogue, Vec<CatalogueError>) {
        let upgrade = self.upgrade();
        let plan = layout_diff::plan(&upgrade);
        let empty = Handlers::new();
        Catalogue::from_plan(&upgrade, &plan, self.handlers.unwrap_or(&empty), self.address_length)
    }
}

/// Struct layouts of one release resolved while a catalogue is built, by module, struct and type
/// arguments: declarations of one struct (valid or not) resolve its layouts once.
#[derive(Debug, Default)]
struct Layouts {
    resolved: BTreeMap<(ModuleId, String, Vec<TypeTag>), Resolved>,
}

/// A struct's tag and layout in one release, or why it has none.
type Resolved = Result<(StructTag, StructLayout), String>;

impl Layouts {
    /// The tag and layout of `module::name<args>` in the release `index` holds; errors name `id`.
    fn get(
        &mut self,
        index: &ReleaseIndex<'_>,
        module: &ModuleId,
        name: &str,
        args: &[TypeTag],
        id: &str,
    ) -> Result<(StructTag, StructLayout), CatalogueError> {
        let key = (module.clone(), name.to_owned(), args.to_vec());
        if let Some(found) = self.resolved.get(&key) {
            return found.clone().map_err(|message| CatalogueError::Layout { id: id.to_owned(), message });
        }
        let found = self.resolved.entry(key).or_insert_with(|| {
            let datatype = DatatypeRef {
                module: module.clone(),
                name: name.to_owned(),
                type_args: args.iter().map(TypeTag::to_type).collect(),
            };
            let tag = StructTag::from_datatype(&datatype, index.address_length()).map_err(|e| e.to_string())?;
            match index.layout_of_datatype(&datatype).map_err(|e: LayoutError| e.to_string())? {
                Layout::Struct(s) => Ok((tag, *s)),
                other => Err(format!("{name} is not a struct: {other}")),
            }
        });
        found.clone().map_err(|message| CatalogueError::Layout { id: id.to_owned(), message })
    }
}

impl Catalogue {
    /// A builder of the catalogue of the upgrade `old` -> `new`, the new release labelled
    /// `release` (as declarations name it), with state keys of `address_length`.
    pub fn builder<'a>(
        old: &'a [&'a Module],
        new: &'a [&'a Module],
        release: &'a ReleaseLabel,
        address_length: AddressLength,
    ) -> CatalogueBuilder<'a> {
        CatalogueBuilder {
            old,
            new,
            release,
            address_length,
            declarations: None,
            registry: None,
            handlers: None,
            versioning: Versioning::default(),
        }
    }

    /// The catalogue of an upgrade already judged ([`layout_diff::plan()`]): one entry per struct
    /// whose stored instances must be rewritten, from the declaration the plan matched to it, in
    /// place or at a versioned address, with addresses of `address_length` in its state keys.
    /// Returns the entries that validate beside every problem.
    pub fn from_plan(
        upgrade: &Upgrade<'_>,
        plan: &Plan,
        handlers: &Handlers,
        address_length: AddressLength,
    ) -> (Catalogue, Vec<CatalogueError>) {
        let mut errors = Vec::new();
        let mut entries = Vec::new();
        // Each release indexed once, and each struct's layouts resolved once, however many
        // declarations name it.
        let indexes = (
            ReleaseIndex::new(upgrade.old.iter().copied(), address_length),
            ReleaseIndex::new(upgrade.new.iter().copied(), address_length),
        );
        let (mut old_layouts, mut new_layouts) = (Layouts::default(), Layouts::default());
        let mut catalogue = Catalogue {
            entries: Vec::new(),
            old: upgrade.old.iter().map(|m| (*m).clone()).collect(),
            new: upgrade.new.iter().map(|m| (*m).clone()).collect(),
            address_length,
            handlers: handlers.clone(),
        };
        let empty = Declarations::default();
        let declarations = upgrade.declarations.unwrap_or(&empty);
        for planned in &plan.needs {
            let need = &planned.need;
            if need.keys_change {
                errors.push(CatalogueError::KeysChange {
                    struct_name: need.name.clone(),
                    module: need.old_module.to_string(),
                });
                continue;
            }
            let decl = match planned.declared {
                Declared::By(i) => declarations.entries().get(i),
                Declared::Not => None,
                Declared::ForAnotherRelease(i) => {
                    if let Some(d) = declarations.entries().get(i) {
                        errors.push(CatalogueError::OtherRelease {
                            id: d.id.clone(),
                            line: d.line,
                            declared: d.release.to_string(),
                            release: upgrade.release.to_string(),
                        });
                    }
                    None
                }
            };
            if let Some(first) = decl {
                for d in planned.duplicates.iter().filter_map(|&i| declarations.entries().get(i)) {
                    errors.push(CatalogueError::Duplicate {
                        id: d.id.clone(),
                        line: d.line,
                        first: first.id.clone(),
                        first_line: first.line,
                    });
                }
            }
            let Some(decl) = decl else {
                errors.push(CatalogueError::Undeclared {
                    struct_name: need.name.clone(),
                    from: need.old_module.to_string(),
                    to: need.new_module.to_string(),
                });
                continue;
            };
            let transform = match decl.transform {
                TransformKind::Derived => {
                    Transform::Derived { renames: decl.renames.clone(), defaults: decl.defaults.clone() }
                }
                TransformKind::HandWritten => {
                    Transform::HandWritten { handler: decl.handler.clone().unwrap_or_default() }
                }
            };
            let entry = Entry {
                id: decl.id.clone(),
                release: decl.release.clone(),
                scope: decl.scope,
                module: decl.module.clone(),
                struct_name: decl.struct_name.clone(),
                from: need.old_module.clone(),
                to: need.new_module.clone(),
                transform,
                // Computed once the entry validates: an invalid one is never recorded.
                checksum: Checksum([0; 32]),
                generic: !need.new.type_params.is_empty(),
            };
            // Validate by making the instance every stored value of it would use (non-phantom
            // type parameters probed with u64).
            let probe: Vec<TypeTag> = need.new.type_params.iter().map(|_| TypeTag::U64).collect();
            let made = match &indexes {
                (Ok(old_index), Ok(new_index)) => {
                    catalogue.instance_in((old_index, &mut old_layouts), (new_index, &mut new_layouts), &entry, &probe)
                }
                (Err(e), _) | (_, Err(e)) => {
                    Err(CatalogueError::Layout { id: entry.id.clone(), message: e.to_string() })
                }
            };
            if let Err(e) = made {
                errors.push(e);
                continue;
            }
            entries
                .push(Entry { checksum: Checksum(Sha256::digest(canonical(decl, need).as_bytes()).into()), ..entry });
        }
        // Declarations of this release that migrate nothing of this upgrade.
        let used = plan.used(declarations.entries().len());
        for (i, decl) in declarations.entries().iter().enumerate() {
            if decl.release == *upgrade.release && !used.get(i).copied().unwrap_or(false) {
                errors.push(CatalogueError::NoSuchChange {
                    id: decl.id.clone(),
                    line: decl.line,
                    item: format!("{}::{}", decl.module, decl.struct_name),
                    versions: format!("from {} to {}", decl.from, decl.to),
                });
            }
        }
        // Dependencies first: a struct that embeds another is migrated after it (the module
        // graph's publishing order); entries of one module keep their declaration order.
        match upgrade_spec::order::dependency_order(upgrade.new.iter().copied()) {
            Ok(order) => {
                let rank: BTreeMap<&ModuleId, usize> = order.iter().enumerate().map(|(i, m)| (m, i)).collect();
                entries.sort_by_key(|e| rank.get(&e.to).copied().unwrap_or(usize::MAX));
            }
            Err(cycle) => errors.push(CatalogueError::Cycle(cycle)),
        }
        catalogue.entries = entries;
        (catalogue, errors)
    }

    /// The address length of the release pair (and of the chain's state keys).
    pub fn address_length(&self) -> AddressLength {
        self.address_length
    }

    /// The old release's modules.
    pub fn old_modules(&self) -> &[Module] {
        &self.old
    }

    /// The new release's modules.
    pub fn new_modules(&self) -> &[Module] {
        &self.new
    }

    /// The entry with this id, if the catalogue has one.
    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// The entry made concrete for stored instances with these type arguments.
    pub fn instance(&self, entry: &Entry, type_args: &[TypeTag]) -> Result<Instance, CatalogueError> {
        let err = |e: LayoutError| CatalogueError::Layout { id: entry.id.clone(), message: e.to_string() };
        let old_index = ReleaseIndex::new(self.old.iter(), self.address_length).map_err(err)?;
        let new_index = ReleaseIndex::new(self.new.iter(), self.address_length).map_err(err)?;
        self.instance_in((&old_index, &mut Layouts::default()), (&new_index, &mut Layouts::default()), entry, type_args)
    }

    /// [`Catalogue::instance`] with each release indexed, beside the layouts resolved in it so
    /// far.
    fn instance_in(
        &self,
        (old_index, old_layouts): (&ReleaseIndex<'_>, &mut Layouts),
        (new_index, new_layouts): (&ReleaseIndex<'_>, &mut Layouts),
        entry: &Entry,
        type_args: &[TypeTag],
    ) -> Result<Instance, CatalogueError> {
        let (old_tag, old_layout) =
            old_layouts.get(old_index, &entry.from, &entry.struct_name, type_args, &entry.id)?;
        let (new_tag, new_layout) = new_layouts.get(new_index, &entry.to, &entry.struct_name, type_args, &entry.id)?;
        let compiled = match &entry.transform {
            Transform::Derived { renames, defaults } => {
                let bad = |source: PlanError| CatalogueError::Transform { id: entry.id.clone(), source };
                for (new, old) in renames {
                    let reason = match (new_layout.field(new), old_layout.field(old)) {
                        (None, _) => Some(format!("the new layout of {} has no field `{new}`", entry.struct_name)),
                        (_, None) => Some(format!("the old layout of {} has no field `{old}`", entry.struct_name)),
                        _ if old_layout.field(new).is_some() => {
                            Some(format!("the old layout has a field `{new}` already: that is not a rename"))
                        }
                        _ => None,
                    };
                    if let Some(reason) = reason {
                        return Err(bad(PlanError::BadRename { new: new.clone(), old: old.clone(), reason }));
                    }
                }
                for field in defaults.keys() {
                    let carried = old_layout.field(field).is_some() || renames.contains_key(field);
                    if carried {
                        return Err(bad(PlanError::BadDefault {
                            field: field.clone(),
                            message: "the field is not new: its value is carried over from the old bytes".to_owned(),
                        }));
                    }
                }
                let mut bytes = BTreeMap::new();
                for (field, literal) in defaults {
                    let (_, layout) = new_layout.field(field).ok_or_else(|| CatalogueError::Transform {
                        id: entry.id.clone(),
                        source: PlanError::BadDefault {
                            field: field.clone(),
                            message: "the new layout has no such field".to_owned(),
                        },
                    })?;
                    let encoded = encode_literal(literal, layout).map_err(|message| CatalogueError::Transform {
                        id: entry.id.clone(),
                        source: PlanError::BadDefault { field: field.clone(), message },
                    })?;
                    bytes.insert(field.clone(), encoded);
                }
                let plan = DerivedPlan::compile(&old_layout, &new_layout, renames, &bytes)
                    .map_err(|source| CatalogueError::Transform { id: entry.id.clone(), source })?;
                Compiled::Derived(plan)
            }
            Transform::HandWritten { handler } => Compiled::HandWritten(
                self.handlers
                    .get(handler)
                    .ok_or_else(|| CatalogueError::UnknownHandler { id: entry.id.clone(), handler: handler.clone() })?,
            ),
        };
        let old_value_layout = Layout::Struct(Box::new(old_layout.clone()));
        let new_value_layout = Layout::Struct(Box::new(new_layout.clone()));
        Ok(Instance { old_tag, new_tag, old_layout, new_layout, compiled, old_value_layout, new_value_layout })
    }

    /// Checks the migrations recorded as run (id and checksum, in the order they ran) against
    /// this catalogue and the earlier ones: an entry edited since it ran, missing, or moved
    /// before another that ran earlier is reported.
    pub fn verify_history(catalogues: &[&Catalogue], ran: &[(String, Checksum)]) -> Vec<String> {
        let all: Vec<&Entry> = catalogues.iter().flat_map(|c| &c.entries).collect();
        let mut problems = Vec::new();
        let mut last_position = None;
        for (id, checksum) in ran {
            match all.iter().position(|e| &e.id == id) {
                None => problems.push(format!("migration `{id}` ran but is no longer in the catalogue")),
                Some(i) => {
                    if all.get(i).is_some_and(|e| e.checksum != *checksum) {
                        problems
                            .push(format!("migration `{id}` was edited after it ran (checksum {checksum} recorded)"));
                    }
                    if last_position.is_some_and(|p| i < p) {
                        problems.push(format!("migration `{id}` is now ordered before a migration that ran earlier"));
                    }
                    last_position = Some(i);
                }
            }
        }
        problems
    }
}

impl Instance {
    /// Whether the struct keeps its tag and changes layout where it stands (the old and new
    /// tags are one): the key alone cannot tell old bytes from new ones.
    pub fn is_in_place(&self) -> bool {
        self.old_tag == self.new_tag
    }

    /// Transforms one resource's old bytes into its new bytes, appended to `out`.
    pub fn transform(&self, old: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        match &self.compiled {
            Compiled::Derived(plan) => plan.transcode(old, out).map_err(|e| e.to_string()),
            Compiled::HandWritten(handler) => {
                let value = crate::value::decode(old, &self.old_value_layout).map_err(|e| e.to_string())?;
                let cx = crate::handlers::HandlerContext { old: &self.old_layout, new: &self.new_layout };
                let new_value = handler(&value, &cx)?;
                let start = out.len();
                crate::value::encode_into(&new_value, &self.new_value_layout, out).map_err(|e| {
                    out.truncate(start);
                    e.to_string()
                })
            }
        }
    }
}
