//! Chain profiles as a user sees them: every rule of every profile fires on its own fixture pair
//! (old and new layouts in the text form, written with the writer and read back) and its report
//! is snapshotted; every profile run on unchanged pairs reports nothing; paths without a check
//! accept everything; and the cases the issues name (friend functions, a module of the same name
//! at another address, v1 abilities, in-place declarations, never-stored structs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::deserializer::{parse, Detail, ParseOptions};
use binary_format::raw::Operand;
use binary_format::{opcodes, text, write_module, AddressLength, NoResolver};
use compat_checker::chain::protocol::{self, SUI_NEWEST};
use compat_checker::chain::rules::all as all_rules;
use compat_checker::chain::{Chain, ChainRuleId, Policy, Profile};
use compat_checker::{check_releases, ChainOptions, CheckOptions, Report};
use releases::containers::ContainerKind;
use releases::{from_modules, LoadOptions, Release};
use std::path::Path;
use upgrade_spec::declarations::Declarations;

fn length(chain: Chain) -> AddressLength {
    if chain == Chain::Diem {
        AddressLength::Bytes16
    } else {
        AddressLength::Bytes32
    }
}

fn default_version(chain: Chain) -> &'static str {
    match chain {
        Chain::Diem => "v4",
        Chain::Aptos => "v6",
        Chain::Sui => "v7, sui",
    }
}

/// `// body f=N` markers: function `f` loads N instead of 0.
fn body_patches(body: &str) -> Vec<(String, u64)> {
    body.lines()
        .filter_map(|l| l.trim().strip_prefix("// body "))
        .filter_map(|p| p.split_once('='))
        .map(|(f, n)| (f.trim().to_owned(), n.trim().parse().unwrap()))
        .collect()
}

fn patch(bytes: Vec<u8>, len: AddressLength, patches: &[(String, u64)]) -> Vec<u8> {
    if patches.is_empty() {
        return bytes;
    }
    let mut m = parse(&bytes, &ParseOptions::new(len, Detail::Full)).unwrap();
    for (name, value) in patches {
        let Some(handle) = m.function_handles.iter().position(|h| m.identifiers[usize::from(h.name)] == name.as_str())
        else {
            continue;
        };
        let Some(def) = m.function_defs.iter_mut().find(|d| usize::from(d.handle) == handle) else { continue };
        let code = def.code.as_mut().unwrap();
        let ins = code.code.iter_mut().find(|i| i.opcode == opcodes::LD_U64).unwrap();
        ins.operand = Operand::U64(*value);
    }
    binary_format::serializer::serialize(&m).unwrap()
}

/// A release of `0x1::M` with `body` (empty: no module) beside an unchanged `0x1::Keep`.
fn release(chain: Chain, name: &str, body: &str) -> Release {
    let version = default_version(chain);
    let mut texts = vec![format!("module 0x1::Keep (bytecode {version})\n  struct K has key\n    k: u64\n")];
    if !body.is_empty() {
        let (version, body) = match body.strip_prefix('@') {
            Some(rest) => rest.split_once('\n').unwrap(),
            None => (version, body),
        };
        let mut parts = body.splitn(2, "\nmodule ");
        texts.push(format!("module 0x1::M (bytecode {version})\n  {}\n", parts.next().unwrap()));
        if let Some(rest) = parts.next() {
            texts.push(format!("module {rest}\n"));
        }
    }
    let len = length(chain);
    let patches = body_patches(body);
    let found: Vec<(String, Vec<u8>)> = texts
        .iter()
        .flat_map(|t| text::parse(t).unwrap_or_else(|e| panic!("{e}\n{t}")))
        .map(|m| {
            let bytes = write_module(&m, len, &NoResolver).unwrap_or_else(|e| panic!("{e}: {}", m.id()));
            (format!("{name}/{}.mv", m.name), patch(bytes, len, &patches))
        })
        .collect();
    let options = LoadOptions { address_length: Some(len), detail: Detail::Signatures };
    let r = from_modules(Path::new(name), ContainerKind::Folder, found, Default::default(), options);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    r
}

fn run_with(profile: Profile, old: &Release, new: &Release, declarations: Option<&Declarations>) -> Report {
    let options = CheckOptions { declarations, ..CheckOptions::default() };
    let chain = ChainOptions { choice: profile.into(), ..ChainOptions::default() };
    check_releases("old", old, "new", new, options, chain).unwrap().0
}

fn run(profile: Profile, old: &str, new: &str) -> Report {
    run_with(profile, &release(profile.chain, "old", old), &release(profile.chain, "new", new), None)
}

#[test]
fn every_rule_of_every_profile_fires_on_its_fixture_and_is_snapshotted() {
    let mut fired = 0;
    for newest in Profile::all() {
        for rule in newest.rules_any_version() {
            // A rule that depends on Sui's protocol version runs at the first version it applies at.
            let profile = match rule.protocol.filter(|_| protocol::versioned(newest.policy)) {
                Some(gate) => newest.at_protocol(gate.from).unwrap(),
                None => newest,
            };
            assert!(profile.rules().any(|r| r.id == rule.id), "{} under {profile}", rule.id);
            let report = run(profile, rule.example.0, rule.example.1);
            assert!(
                report.chain.rejections.iter().any(|r| r.rule == rule.id),
                "{} under {profile}: {:#?}",
                rule.id,
                report.chain.rejections
            );
            assert!(!report.chain.accepts);
            assert!(report.chain.rejected_modules.iter().all(|m| m.to_string().starts_with("0x1::")));
            let name = format!("{}_{}__{}", profile.chain, profile.policy, rule.id);
            insta::assert_snapshot!(name, report.to_text(false));
            fired += 1;
        }
    }
    // Every rule belongs to at least one profile and so has fired at least once.
    for rule in all_rules() {
        assert!(Profile::all().any(|p| p.rules_any_version().any(|r| r.id == rule.id)), "{} is in no profile", rule.id);
    }
    assert!(fired >= all_rules().count());
}

#[test]
fn every_profile_reports_nothing_on_unchanged_pairs() {
    for profile in Profile::all() {
        for rule in all_rules().filter(|r| r.chain == profile.chain) {
            for side in [rule.example.0, rule.example.1] {
                let report = run(profile, side, side);
                assert!(report.chain.accepts, "{profile} on {} unchanged: {:#?}", rule.id, report.chain.rejections);
                assert!(report.changes.is_empty(), "{profile} on {}: {:#?}", rule.id, report.changes);
                assert!(report.storage.safe && report.passes());
            }
        }
    }
}

#[test]
fn paths_without_a_check_accept_every_fixture() {
    for profile in
        [Profile::new(Chain::Diem, Policy::Framework).unwrap(), Profile::new(Chain::Aptos, Policy::Arbitrary).unwrap()]
    {
        assert!(!profile.checks());
        for rule in all_rules().filter(|r| r.chain == profile.chain) {
            let report = run(profile, rule.example.0, rule.example.1);
            assert!(report.chain.accepts && report.chain.rejected_modules.is_empty(), "{profile}: {}", rule.id);
            assert!(!report.chain.checked);
        }
    }
}

#[test]
fn every_module_is_checked_none_stops_the_others() {
    let profile = Profile::new(Chain::Aptos, Policy::Compatible).unwrap();
    let old = "public fun f(u64)\nmodule 0x1::N (bytecode v6)\n  public fun g()\n  struct S has key\n    a: u64";
    let new = "public fun f(u128)\nmodule 0x1::N (bytecode v6)\n  struct S has key\n    a: u64\n    b: u64";
    let report = run(profile, old, new);
    let rejected: Vec<String> = report.chain.rejected_modules.iter().map(ToString::to_string).collect();
    assert_eq!(rejected, vec!["0x1::M", "0x1::N"]);
    let rules: Vec<&str> = report.chain.rejections.iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(rules, vec!["aptos-fn-signature", "aptos-struct-fields", "aptos-fn-public-missing"]);
}

#[test]
fn friend_functions_are_private_on_aptos_and_sui_but_not_on_diem() {
    let (old, new) = ("friend fun f(u64)\n  public fun g()", "friend fun f(u128)\n  public fun g()");
    for (profile, accepts) in [
        (Profile::new(Chain::Sui, Policy::Framework).unwrap(), true),
        (Profile::new(Chain::Sui, Policy::Compatible).unwrap(), true),
        (Profile::new(Chain::Aptos, Policy::Compatible).unwrap(), true),
        (Profile::new(Chain::Diem, Policy::Compatible).unwrap(), false),
    ] {
        let report = run(profile, old, new);
        assert_eq!(report.chain.accepts, accepts, "{profile}");
        assert_eq!(report.passes(), accepts, "{profile}");
        if accepts {
            let f = report.changes.iter().find(|c| c.rule == compat_checker::RuleId::FunctionSignatureChanged).unwrap();
            assert!(f.suggestion.contains("treats friend functions as private"), "{}", f.suggestion);
            assert!(!f.suggestion.contains("registry"), "{}", f.suggestion);
        }
    }
    insta::assert_snapshot!(
        "sui_framework_friend_signature",
        run(Profile::default_for(Chain::Sui), old, new).to_text(false)
    );
}

/// A release named `name` from the text form `t`, with addresses of `width`: one `.mv` file per
/// module, as a folder.
fn folder(name: &str, t: &str, width: AddressLength) -> Release {
    let found = text::parse(t)
        .unwrap()
        .iter()
        .map(|m| (format!("{name}/{}.mv", m.name), write_module(m, width, &NoResolver).unwrap()))
        .collect();
    let options = LoadOptions { address_length: Some(width), detail: Detail::Signatures };
    from_modules(Path::new(name), ContainerKind::Folder, found, Default::default(), options)
}

/// A 32-byte release (Aptos and Sui widths).
fn load_32(name: &str, t: &str) -> Release {
    folder(name, t, AddressLength::Bytes32)
}

#[test]
fn a_module_of_the_same_name_at_another_address_is_a_new_module_on_real_chains() {
    // Sui p004 -> p005: DeepBook's 0xdee9::math arrives; 0x2::math stays, unchanged.
    let math = "module 0x2::math (bytecode v6)\n  public fun max(u64, u64): u64\n  public fun min(u64, u64): u64\n";
    let old_text = math.to_owned();
    let new_text = format!("{math}module 0xdee9::math (bytecode v6)\n  public fun mul(u64, u64): u64\n");
    let (old, new) = (load_32("p004", &old_text), load_32("p005", &new_text));
    let report = run_with(Profile::default_for(Chain::Sui), &old, &new, None);
    assert!(report.chain.accepts);
    assert!(report.passes());
    let rules: Vec<&str> = report.changes.iter().map(|c| c.rule.as_str()).collect();
    assert_eq!(rules, vec!["module-added"], "{:#?}", report.changes);
}

#[test]
fn version_1_abilities_are_read_as_the_readers_do_and_diem_rejects_what_the_source_never_declared() {
    // A v1 nominal resource reads as `key, store`; its v2 source declares `key` only.
    let profile = Profile::new(Chain::Diem, Policy::Compatible).unwrap();
    let report = run(profile, "@v1\nstruct S has store, key\n    a: u64", "@v2\nstruct S has key\n    a: u64");
    let rules: Vec<&str> = report.chain.rejections.iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(rules, vec!["diem-struct-ability-lost"]);
    // A v2-v4 `script` function is its own visibility on Diem: becoming plain public is refused;
    // Aptos and Sui read it as public entry.
    let report = run(profile, "@v4\npublic entry fun f()", "@v4\npublic fun f()");
    assert_eq!(report.chain.rejections[0].rule.as_str(), "diem-fn-visibility");
}

#[test]
fn auto_decides_the_chain_from_the_release_and_says_why() {
    let options = CheckOptions::default();
    for (chain, why) in [(Chain::Diem, "16-byte"), (Chain::Sui, "Sui flavor"), (Chain::Aptos, "32-byte")] {
        let body = "struct S has key\n    a: u64";
        let (old, new) = (release(chain, "old", body), release(chain, "new", body));
        let report = check_releases("old", &old, "new", &new, options, ChainOptions::default()).unwrap().0;
        assert_eq!(report.chain.chain, chain);
        assert_eq!(report.chain.policy, chain.default_policy());
        assert!(
            report.chain.decided.starts_with("auto: ") && report.chain.decided.contains(why),
            "{}",
            report.chain.decided
        );
    }
}

fn declarations(text: &str) -> Declarations {
    Declarations::parse(text, Path::new("migrations.toml")).unwrap()
}

const IN_PLACE: &str = "[[migration]]\nid = \"s-new\"\nrelease = \"new\"\nmodule = \"M\"\nstruct = \"S\"\nfrom = \"0x1\"\nto = \"0x1\"\nscope = \"users\"\ntransform = \"derived\"\ndefaults = { b = \"false\" }\n";

#[test]
fn an_in_place_declaration_handles_a_stored_structs_layout_change() {
    let profile = Profile::new(Chain::Aptos, Policy::Arbitrary).unwrap();
    let (old, new) = ("struct S has key\n    a: u64", "struct S has key\n    a: u64\n    b: bool");
    let (o, n) = (release(Chain::Aptos, "old", old), release(Chain::Aptos, "new", new));
    let blocked = run_with(profile, &o, &n, None);
    assert!(!blocked.storage.safe && !blocked.passes());
    let missing = match &blocked.changes[0].status {
        compat_checker::Status::Unhandled { missing } => missing.join("\n"),
        s => panic!("{s:?}"),
    };
    assert!(missing.contains("in place") && missing.contains("Aptos modules cannot move"), "{missing}");
    let d = declarations(IN_PLACE);
    let handled = run_with(profile, &o, &n, Some(&d));
    assert!(handled.storage.safe && handled.passes(), "{}", handled.to_text(false));
    assert_eq!(handled.changes[0].status, compat_checker::Status::Handled);
    insta::assert_snapshot!("aptos_arbitrary_in_place_declared", handled.to_text(false));
    // The declaration is for another release: not this one's.
    let other = declarations(&IN_PLACE.replace("release = \"new\"", "release = \"other\""));
    assert!(!run_with(profile, &o, &n, Some(&other)).storage.safe);
}

#[test]
fn a_declaration_whose_remedy_contradicts_the_release_is_a_problem_naming_it() {
    // Versioned, but the module stayed where it was.
    let profile = Profile::new(Chain::Diem, Policy::Framework).unwrap();
    let (o, n) = (
        release(Chain::Diem, "old", "struct S has key\n    a: u64"),
        release(Chain::Diem, "new", "struct S has key\n    a: u64\n    b: bool"),
    );
    let d = declarations(&IN_PLACE.replace("to = \"0x1\"", "to = \"0x2\""));
    let report = run_with(profile, &o, &n, Some(&d));
    assert!(!report.passes());
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("migrations.toml:1: migration `s-new`") && p.contains("did not move")),
        "{:?}",
        report.problems
    );
    // In place, but the module moved (0x1 -> 0x2 inside the reserved range, the seed's scheme).
    let moved = |name: &str, body: &str| {
        folder(name, &format!("module 0x2::M (bytecode v4)\n  {body}\n"), AddressLength::Bytes16)
    };
    let old = from_modules(
        Path::new("old"),
        ContainerKind::Folder,
        vec![(
            "old/M.mv".into(),
            write_module(
                &text::parse("module 0x1::M (bytecode v4)\n  struct S has key\n    a: u64\n").unwrap()[0],
                AddressLength::Bytes16,
                &NoResolver,
            )
            .unwrap(),
        )],
        Default::default(),
        LoadOptions { address_length: Some(AddressLength::Bytes16), detail: Detail::Signatures },
    );
    let new = moved("new", "struct S has key\n    a: u64\n    b: bool");
    let report = run_with(profile, &old, &new, Some(&declarations(IN_PLACE)));
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("`s-new`") && p.contains("but the module moved from 0x1::M to 0x2::M")),
        "{:?}",
        report.problems
    );
}

#[test]
fn a_struct_that_is_never_stored_needs_no_migration() {
    let profile = Profile::new(Chain::Diem, Policy::Framework).unwrap();
    let report = run(
        profile,
        "struct GlobalConstants has drop\n    a: u64",
        "struct GlobalConstants has drop\n    a: u64\n    b: u64",
    );
    assert!(report.storage.safe && report.passes(), "{}", report.to_text(false));
    assert_eq!(report.changes[0].status, compat_checker::Status::NotStored);
    assert!(report.changes[0].suggestion.contains("never stored"));
}

#[test]
fn the_json_report_carries_both_verdicts() {
    let report =
        run(Profile::default_for(Chain::Sui), "struct S has store\n    a: u64", "struct S has store, key\n    a: u64");
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["schema"], 2);
    assert_eq!(json["chain"]["name"], "sui");
    assert_eq!(json["chain"]["policy"], "framework");
    assert_eq!(json["chain"]["accepts"], false);
    assert_eq!(json["chain"]["rejected_modules"], serde_json::json!(["0x1::M"]));
    let r = &json["chain"]["rejections"][0];
    assert_eq!(r["rule"], "sui-fw-ability-key-added");
    assert_eq!(r["item"], "S");
    assert_eq!((r["old"].as_str(), r["new"].as_str()), (Some("store"), Some("store, key")));
    assert!(r["reason"].as_str().unwrap().contains("gained `key`"));
    assert_eq!(json["storage"]["safe"], true);
    for old_key in ["old", "new", "verdict", "counts", "changes"] {
        assert!(json.get(old_key).is_some(), "{old_key}");
    }
    // The chain's rejection is an annotation on the module's file.
    let github = report.to_github();
    assert!(
        github.lines().any(|l| l.starts_with(
            "::error file=new/M.mv,title=Sui rejects%3A sui-fw-ability-key-added::0x1::M: S gained `key`"
        )),
        "{github}"
    );
    assert!(github
        .lines()
        .last()
        .unwrap()
        .starts_with("::notice title=compat-checker::old -> new: blocked. Sui would reject"));
}

#[test]
fn chains_documentation_is_generated_from_the_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/chains.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        committed,
        compat_checker::chain::rules::markdown(),
        "docs/chains.md is out of date: run `cargo run -p compat-checker-cli -- chains > docs/chains.md`"
    );
}

#[test]
fn one_cause_across_many_items_is_grouped_and_repeats_are_folded() {
    // A fork renames its coin: every stored struct holding it changes, and six friend functions
    // change their signatures (private on Aptos: nothing to do, folded after three).
    let structs = |coin: &str| {
        ["A", "B", "C", "D", "E"]
            .iter()
            .map(|s| format!("struct {s} has key\n    c: {coin}"))
            .collect::<Vec<_>>()
            .join("\n  ")
    };
    let functions = |t: &str| (1..=6).map(|i| format!("friend fun f{i}({t})")).collect::<Vec<_>>().join("\n  ");
    let old = format!("{}\n  {}", structs("0x1::M::GAS"), functions("u64"))
        + "\n  struct GAS has store\n    v: u64\n  struct LIBRA has store\n    v: u64";
    let new = format!("{}\n  {}", structs("0x1::M::LIBRA"), functions("u128"))
        + "\n  struct GAS has store\n    v: u64\n  struct LIBRA has store\n    v: u64";
    let report = run(Profile::new(Chain::Aptos, Policy::Compatible).unwrap(), &old, &new);
    assert_eq!(report.causes.len(), 1, "{:#?}", report.causes);
    assert_eq!(report.causes[0].cause, "0x1::M::GAS became 0x1::M::LIBRA");
    assert_eq!(report.causes[0].structs, 5);
    let text = report.to_text(false);
    assert!(text.contains("and 3 more like this: f4, f5, f6"), "{text}");
    assert!(text.contains("and 2 more like this: D, E"), "{text}");
    insta::assert_snapshot!("aptos_compatible_renamed_coin", text);
}

fn module_bytes(text_form: &str) -> Vec<Vec<u8>> {
    text::parse(text_form)
        .unwrap()
        .iter()
        .map(|m| write_module(m, AddressLength::Bytes32, &NoResolver).unwrap())
        .collect()
}

#[test]
fn containers_decide_the_chain_and_name_aptos_packages() {
    use releases::containers::{
        AptosModuleMetadata, AptosPackage, AptosPackageMetadata, AptosReleaseBundle, SuiPackageSnapshot,
    };
    let dir = tempfile::tempdir().unwrap();
    let package = |name: &str, modules: &[&str], code: Vec<Vec<u8>>| AptosPackage {
        metadata: AptosPackageMetadata {
            name: name.into(),
            upgrade_policy: 1,
            upgrade_number: 1,
            source_digest: String::new(),
            manifest: Vec::new(),
            modules: modules
                .iter()
                .map(|m| AptosModuleMetadata { name: (*m).into(), source: vec![], source_map: vec![], extension: None })
                .collect(),
            deps: vec![],
            extension: None,
        },
        code,
    };
    let m = "module 0x1::m (bytecode v6)\n  struct S has key\n    a: u64\n";
    let n = "module 0x1::n (bytecode v6)\n  public fun f()\n";
    // `n` leaves the LibraFramework package for another one: code.move refuses the package.
    let old = AptosReleaseBundle {
        packages: vec![package("LibraFramework", &["m", "n"], module_bytes(&format!("{m}{n}")))],
        source_dirs: vec![],
    };
    let new = AptosReleaseBundle {
        packages: vec![package("LibraFramework", &["m"], module_bytes(m)), package("Extra", &["n"], module_bytes(n))],
        source_dirs: vec![],
    };
    let (old_path, new_path) = (dir.path().join("6.9.9.mrb"), dir.path().join("7.0.0.mrb"));
    std::fs::write(&old_path, bcs::to_bytes(&old).unwrap()).unwrap();
    std::fs::write(&new_path, bcs::to_bytes(&new).unwrap()).unwrap();
    let load = |p: &Path| releases::load(p, LoadOptions::default()).unwrap();
    let (o, n) = (load(&old_path), load(&new_path));
    let report = check_releases("6.9.9", &o, "7.0.0", &n, CheckOptions::default(), ChainOptions::default()).unwrap().0;
    assert_eq!(report.chain.chain, Chain::Aptos);
    assert!(report.chain.decided.contains("Aptos release bundle"), "{}", report.chain.decided);
    let rejected: Vec<String> = report.chain.rejected_modules.iter().map(ToString::to_string).collect();
    assert_eq!(rejected, vec!["0x1::n"]);
    assert!(report.chain.rejections[0].reason.contains("package LibraFramework"), "{:?}", report.chain.rejections);
    // A Sui snapshot is Sui's, whatever its modules' versions.
    let snapshot = SuiPackageSnapshot { id: [0; 32], bytes: module_bytes(m), dependencies: vec![] };
    let sui_path = dir.path().join("p001");
    std::fs::write(&sui_path, bcs::to_bytes(&snapshot).unwrap()).unwrap();
    let s = load(&sui_path);
    let report = check_releases("p001", &s, "p001", &s, CheckOptions::default(), ChainOptions::default()).unwrap().0;
    assert_eq!((report.chain.chain, report.chain.policy), (Chain::Sui, Policy::Framework));
    assert!(report.chain.decided.contains("Sui package snapshot"));
}

#[test]
fn an_in_place_declaration_is_checked_with_a_registry_present_too() {
    let registry_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stdlib/registry.toml");
    let registry = upgrade_spec::registry::Registry::load_unchecked(&registry_path).unwrap();
    let profile = Profile::new(Chain::Diem, Policy::Framework).unwrap();
    let (o, n) = (
        release(Chain::Diem, "old", "struct S has key\n    a: u64"),
        release(Chain::Diem, "new", "struct S has key\n    a: u64\n    b: bool"),
    );
    let d = declarations(IN_PLACE);
    let with = |d: Option<&Declarations>| {
        let options = CheckOptions { registry: Some(&registry), declarations: d, config: None };
        let chain = ChainOptions { choice: profile.into(), ..ChainOptions::default() };
        check_releases("old", &o, "new", &n, options, chain).unwrap().0
    };
    let handled = with(Some(&d));
    assert!(handled.storage.safe, "{}", handled.to_text(false));
    assert!(!with(None).storage.safe);
    // The same declaration for a struct that does not change is a problem, registry or not.
    let stale = declarations(&IN_PLACE.replace("struct = \"S\"", "struct = \"T\""));
    let report = with(Some(&stale));
    assert!(
        report.problems.iter().any(|p| p.contains("`s-new`") && p.contains("does not change")),
        "{:?}",
        report.problems
    );
}

#[test]
fn a_sui_user_package_upgraded_to_a_new_id_is_paired_by_module_name() {
    let old = load_32("v1", "module 0xa::shop (bytecode v6)\n  struct Item has key\n    a: u64\n  public fun buy(&0xa::shop::Item)\n  public fun sell()\n");
    let new = load_32(
        "v2",
        "module 0xb::shop (bytecode v6)\n  struct Item has key\n    a: u64\n  public fun buy(&0xb::shop::Item)\n",
    );
    let report = run_with(Profile::new(Chain::Sui, Policy::Compatible).unwrap(), &old, &new, None);
    let rules: Vec<String> = report
        .chain
        .rejections
        .iter()
        .map(|r| format!("{} {} {}", r.module, r.rule, r.item.as_deref().unwrap_or("")))
        .collect();
    // `buy` keeps its signature once the package's own types are read at its original id.
    assert_eq!(rules, vec!["0xa::shop sui-fn-public-missing sell"]);
    assert!(report.chain.notes.iter().any(|n| n.contains("original id 0xa")), "{:?}", report.chain.notes);
}

fn sui_at(policy: Policy, version: u64) -> Profile {
    Profile::new(Chain::Sui, policy).unwrap().at_protocol(version).unwrap()
}

fn rules_of(report: &Report) -> Vec<&'static str> {
    report.chain.rejections.iter().map(|r| r.rule.as_str()).collect()
}

#[test]
fn a_dep_only_upgrade_that_adds_a_module_is_refused_from_protocol_68_and_accepted_before() {
    let rule = ChainRuleId::SuiDeponlyNewModule.rule();
    let (old, new) = (release(Chain::Sui, "old", rule.example.0), release(Chain::Sui, "new", rule.example.1));
    let at = |version: u64| run_with(sui_at(Policy::DepOnly, version), &old, &new, None);
    // The default is the newest protocol version known, and the report says so.
    let newest = run_with(Profile::new(Chain::Sui, Policy::DepOnly).unwrap(), &old, &new, None);
    assert_eq!(newest.chain.protocol_version, Some(SUI_NEWEST));
    assert_eq!(rules_of(&newest), vec!["sui-deponly-new-module"]);
    assert!(!newest.chain.accepts && !newest.passes());
    assert!(newest.to_text(false).contains(&format!("chain: sui (dep-only, protocol {SUI_NEWEST}; given)")));
    assert_eq!(rules_of(&at(68)), vec!["sui-deponly-new-module"]);
    // Before `disallow_new_modules_in_deps_only_packages`, Sui's own check accepts it.
    let before = at(67);
    assert!(before.chain.accepts && before.passes(), "{:#?}", before.chain.rejections);
    assert!(before.to_text(false).contains("chain: sui (dep-only, protocol 67; given)"));
    let json: serde_json::Value = serde_json::from_str(&before.to_json()).unwrap();
    assert_eq!(json["chain"]["protocol_version"], 67);
    // Chains without protocol versions say none.
    let aptos = run(Profile::default_for(Chain::Aptos), "struct S has key\n    a: u64", "struct S has key\n    a: u64");
    let json: serde_json::Value = serde_json::from_str(&aptos.to_json()).unwrap();
    assert!(json["chain"].get("protocol_version").is_none(), "{json:#}");
    assert!(aptos.to_text(false).contains("chain: aptos (compatible; given)"));
}

/// The protocol versions at which some flag turns a rule on or off, and each one before.
fn boundaries() -> Vec<u64> {
    let mut vs = vec![protocol::SUI_UPGRADES_FROM, SUI_NEWEST];
    for gate in all_rules().filter_map(|r| r.protocol) {
        vs.extend([gate.from, gate.from.saturating_sub(1)]);
        vs.extend(gate.until.iter().flat_map(|u| [*u, u.saturating_sub(1)]));
    }
    vs.retain(|v| *v >= protocol::SUI_UPGRADES_FROM);
    vs.sort_unstable();
    vs.dedup();
    vs
}

#[test]
fn a_protocol_version_changes_only_the_rules_gated_at_it() {
    // On every Sui fixture under every user path, at every version where a flag changes: the
    // rules that apply both there and at the newest version reject exactly the same, and no rule
    // rejects where it does not apply.
    let versions = boundaries();
    assert!(versions.contains(&67) && versions.contains(&68) && versions.contains(&130), "{versions:?}");
    let mut differed = 0;
    for policy in [Policy::Compatible, Policy::Additive, Policy::DepOnly] {
        for rule in all_rules().filter(|r| r.chain == Chain::Sui) {
            let (old, new) = (release(Chain::Sui, "old", rule.example.0), release(Chain::Sui, "new", rule.example.1));
            let newest = sui_at(policy, SUI_NEWEST);
            let at_newest = run_with(newest, &old, &new, None).chain.rejections;
            for &v in &versions {
                let profile = sui_at(policy, v);
                let at_v = run_with(profile, &old, &new, None).chain.rejections;
                for r in &at_v {
                    assert!(profile.applies(r.rule), "{} rejects under {profile}, where it does not apply", r.rule);
                }
                let both = |list: &[compat_checker::chain::Rejection]| -> Vec<compat_checker::chain::Rejection> {
                    list.iter().filter(|r| profile.applies(r.rule) && newest.applies(r.rule)).cloned().collect()
                };
                assert_eq!(both(&at_v), both(&at_newest), "{} under {profile}", rule.id);
                differed += usize::from(at_v != at_newest);
            }
        }
    }
    assert!(differed > 0, "no fixture changed with the protocol version");
    // The framework path does not depend on it.
    for rule in all_rules().filter(|r| r.chain == Chain::Sui) {
        let (old, new) = (release(Chain::Sui, "old", rule.example.0), release(Chain::Sui, "new", rule.example.1));
        let newest = run_with(sui_at(Policy::Framework, SUI_NEWEST), &old, &new, None).chain.rejections;
        for v in [1, 7, 67, 89, 129] {
            assert_eq!(
                run_with(sui_at(Policy::Framework, v), &old, &new, None).chain.rejections,
                newest,
                "{}",
                rule.id
            );
        }
    }
}

#[test]
fn each_protocol_gated_rule_applies_from_the_version_of_its_flag() {
    // (rule, path, last version without it, first version with it, first version without it again)
    let cases = [
        (ChainRuleId::SuiUserAbilityAdded, Policy::Compatible, Some(6), 7, None),
        (ChainRuleId::SuiDatatypeTparamChanged, Policy::Compatible, Some(7), 8, None),
        (ChainRuleId::SuiUserTparamIncompatible, Policy::Compatible, None, 3, Some(8)),
        (ChainRuleId::SuiDeponlyNewModule, Policy::DepOnly, Some(67), 68, None),
        (ChainRuleId::SuiUserNewModuleInit, Policy::Compatible, Some(89), 90, Some(130)),
        (ChainRuleId::SuiUserNewModuleInit, Policy::Additive, Some(89), 90, Some(130)),
        (ChainRuleId::SuiUserExistingModuleInit, Policy::Compatible, Some(129), 130, None),
        (ChainRuleId::SuiUserExistingModuleInit, Policy::Additive, Some(129), 130, None),
    ];
    for (id, policy, before, from, until) in cases {
        let rule = id.rule();
        let (old, new) = (release(Chain::Sui, "old", rule.example.0), release(Chain::Sui, "new", rule.example.1));
        let fires =
            |v: u64| run_with(sui_at(policy, v), &old, &new, None).chain.rejections.iter().any(|r| r.rule == id);
        assert!(fires(from), "{id} at {from}");
        if let Some(b) = before {
            assert!(!fires(b), "{id} at {b}");
        }
        if let Some(u) = until {
            assert!(!fires(u) && fires(u - 1), "{id} around {u}");
        }
    }
    // Before version 8 loosening a struct's type parameters was fine, tightening was not.
    let (loosened, tightened) = ("struct S<T0> has key\n    a: u64", "struct S<T0: copy> has key\n    a: u64");
    let at7 = |o: &str, n: &str| run(sui_at(Policy::Compatible, 7), o, n);
    assert!(at7(tightened, loosened).chain.accepts);
    assert_eq!(rules_of(&at7(loosened, tightened)), vec!["sui-user-tparam-incompatible"]);
    // An upgrade with no package upgrades yet is refused as a profile, not judged.
    let err = Profile::new(Chain::Sui, Policy::Compatible).unwrap().at_protocol(2).unwrap_err();
    assert!(err.to_string().contains("before protocol version 3 (`package_upgrades`)"), "{err}");
    assert!(Profile::default_for(Chain::Sui).at_protocol(2).is_ok());
}

#[test]
fn auto_takes_a_policy_and_a_protocol_version_and_refuses_what_the_chain_decided_lacks() {
    use compat_checker::chain::ChainChoice;
    let rule = ChainRuleId::SuiDeponlyNewModule.rule();
    let (old, new) = (release(Chain::Sui, "old", rule.example.0), release(Chain::Sui, "new", rule.example.1));
    let with = |choice: ChainChoice| {
        check_releases(
            "old",
            &old,
            "new",
            &new,
            CheckOptions::default(),
            ChainOptions { choice, ..ChainOptions::default() },
        )
    };
    let choice = ChainChoice { policy: Some(Policy::DepOnly), protocol_version: Some(67), ..ChainChoice::auto() };
    let report = with(choice).unwrap().0;
    assert_eq!(
        (report.chain.chain, report.chain.policy, report.chain.protocol_version),
        (Chain::Sui, Policy::DepOnly, Some(67))
    );
    assert!(report.chain.decided.starts_with("auto: the Sui flavor byte"), "{}", report.chain.decided);
    assert!(report.chain.accepts);
    // The same choice on Diem-family releases: no dep-only path there, and the error says why
    // the chain was decided.
    let (o, n) = (
        release(Chain::Diem, "old", "struct S has key\n    a: u64"),
        release(Chain::Diem, "new", "struct S has key\n    a: u64"),
    );
    let err = check_releases(
        "old",
        &o,
        "new",
        &n,
        CheckOptions::default(),
        ChainOptions { choice, ..ChainOptions::default() },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("diem has no `dep-only` upgrade path") && err.contains("16-byte addresses"), "{err}");
    let versioned = ChainChoice { protocol_version: Some(67), ..ChainChoice::auto() };
    let err = check_releases(
        "old",
        &o,
        "new",
        &n,
        CheckOptions::default(),
        ChainOptions { choice: versioned, ..ChainOptions::default() },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("applies to Sui only"), "{err}");
}

#[test]
fn a_libra_framework_release_is_aptos_based_from_its_modules_or_the_states_format() {
    use compat_checker::chain::detect::Hint;
    use compat_checker::chain::{ChainChoice, ReleaseView};
    // libra-framework's own modules (0L's Aptos-based framework), 32-byte addresses.
    let libra = "module 0x1::diem_governance (bytecode v6)\n  public fun vote()\n\
                 module 0x1::ol_account (bytecode v6)\n  struct BurnTracker has key\n    n: u64\n";
    let release = load_32("libra", libra);
    let modules: Vec<&binary_format::Module> = release.modules.iter().map(|m| &m.module).collect();
    // As bare modules (the rehearsal's view: no container, no width) ...
    let (bare, _) = compat_checker::check("old", &modules, "new", &modules, CheckOptions::default());
    assert_eq!((bare.chain.chain, bare.chain.policy), (Chain::Aptos, Policy::Compatible));
    assert_eq!(bare.chain.decided, "auto: the Aptos framework's modules at 0x1 (diem_governance, ol_account)");
    // ... and as a loaded release.
    let loaded = check_releases("old", &release, "new", &release, CheckOptions::default(), ChainOptions::default());
    assert!(loaded.unwrap().0.chain.decided.ends_with("(diem_governance, ol_account), 32-byte addresses"));
    // Bare modules that show nothing take what the caller knows of the state's format.
    let plain: Vec<binary_format::Module> =
        text::parse("module 0x1::M (bytecode v6)\n  struct S has key\n    a: u64\n").unwrap();
    let plain: Vec<&binary_format::Module> = plain.iter().collect();
    let view = ReleaseView::of(&plain);
    let choice = ChainChoice { hint: Some(Hint::AptosBackup), ..ChainChoice::auto() };
    let (profile, why) = compat_checker::check::decide_profile(choice, &view, &view).unwrap();
    assert_eq!(profile, Profile::default_for(Chain::Aptos));
    assert!(why.contains("Aptos-format backup"), "{why}");
    let (profile, _) = compat_checker::check::decide_profile(ChainChoice::auto(), &view, &view).unwrap();
    assert_eq!(profile.chain, Chain::Diem);
    // A chain given wins over the hint.
    let given = ChainChoice { chain: Some(Chain::Sui), ..choice };
    assert_eq!(compat_checker::check::decide_profile(given, &view, &view).unwrap().1, "given");
}
