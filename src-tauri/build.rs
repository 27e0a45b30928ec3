//! Tauri's code generation reads tauri.conf.json and embeds `frontendDist` (../ui/dist) into the
//! binary, and builds the permission set from the app manifest below.
//!
//! The window's commands are declared once: a `pub fn` with `#[tauri::command]` in
//! `src/commands/`. This script reads those functions and generates, from that one list:
//! - `$OUT_DIR/handler.rs`: `commands::handler()`, the `generate_handler!` list;
//! - the app manifest's commands (Tauri makes `allow-<command>` of each), and the permission set
//!   `window-commands` holding all of them, which `capabilities/default.json` grants the window;
//! - `ui/src/lib/commands.ts`: one typed function per command (argument and result types from
//!   the engine's ts-rs bindings in ui/src/lib/bindings). Written only when it changes;
//!   `scripts/test` fails if the committed copy is stale.
//!
//! `scripts/run` and `scripts/test` build the UI (Vite) into ui/dist first. So that a bare
//! `cargo build --workspace` in a fresh clone still compiles, a missing ui/dist gets a one-page
//! stand-in that says how to build the real UI (ui/dist is build output and is gitignored).
use std::fs;
use std::path::{Path, PathBuf};

const STAND_IN: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Patchbay</title></head>\
<body><main><h1>Patchbay</h1><p>This build has no UI: run <code>scripts/run</code> (or <code>npm --prefix ui ci &amp;&amp; npm --prefix ui run build</code>) and build again.</p></main></body></html>";

const COMMANDS_DIR: &str = "src/commands";
const API_TS: &str = "../ui/src/lib/commands.ts";
const BINDINGS: &str = "../ui/src/lib/bindings";
/// The permission set the window's capability grants: every command, and nothing else of ours.
const PERMISSION_SET: &str = "window-commands";

fn main() {
    let dist = Path::new("../ui/dist");
    println!("cargo:rerun-if-changed=../ui/dist");
    if !dist.join("index.html").exists() {
        fs::create_dir_all(dist).expect("create ui/dist");
        fs::write(dist.join("index.html"), STAND_IN)
            .expect("write the stand-in ui/dist/index.html");
    }

    println!("cargo:rerun-if-changed={COMMANDS_DIR}");
    println!("cargo:rerun-if-changed={BINDINGS}");
    let commands = table::read(Path::new(COMMANDS_DIR));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    fs::write(out.join("handler.rs"), table::handler(&commands)).expect("write handler.rs");

    let permissions = out.join("permissions");
    fs::create_dir_all(&permissions).expect("create the permissions dir");
    fs::write(
        permissions.join("window-commands.toml"),
        table::permission_set(PERMISSION_SET, &commands),
    )
    .expect("write the permission set");

    let ts = table::typescript(&commands, Path::new(BINDINGS));
    if fs::read_to_string(API_TS).ok().as_deref() != Some(ts.as_str()) {
        fs::write(API_TS, ts).expect("write ui/src/lib/commands.ts");
    }

    // tauri-build wants 'static lists; a build script lives once, so leaking them is fine.
    let names: Vec<&'static str> = commands
        .iter()
        .map(|c| &*Box::leak(c.name.clone().into_boxed_str()))
        .collect();
    let pattern = Box::leak(format!("{}/*.toml", permissions.display()).into_boxed_str());
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(
            tauri_build::AppManifest::new()
                .commands(Box::leak(names.into_boxed_slice()))
                .permissions_path_pattern(pattern),
        ),
    )
    .expect("tauri-build");
}

mod table {
    use std::collections::BTreeSet;
    use std::fmt::Write as _;
    use std::fs;
    use std::path::Path;

    use syn::{FnArg, GenericArgument, Pat, PathArguments, ReturnType, Type};

    /// One `#[tauri::command]` function.
    pub struct Command {
        /// The module under `commands` it lives in.
        pub module: String,
        pub name: String,
        pub docs: Vec<String>,
        /// The arguments the window sends (not Tauri's injected `State`, `AppHandle`...).
        pub args: Vec<(String, Type)>,
        pub output: ReturnType,
    }

    /// Every command, module by module (file names sorted), in the order written.
    pub fn read(dir: &Path) -> Vec<Command> {
        let mut files: Vec<_> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .collect();
        files.sort();
        let mut commands = Vec::new();
        for file in files {
            let module = file.file_stem().unwrap().to_string_lossy().into_owned();
            let text = fs::read_to_string(&file).expect("read a commands file");
            let parsed =
                syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            for item in parsed.items {
                let syn::Item::Fn(f) = item else { continue };
                if !f.attrs.iter().any(is_command) {
                    continue;
                }
                let name = f.sig.ident.to_string();
                assert!(
                    module != "mod",
                    "command {name}: put commands in a module of src/commands, not mod.rs"
                );
                assert!(
                    matches!(f.vis, syn::Visibility::Public(_)),
                    "command {name} in {}: make it `pub fn` so the generated handler can reach it",
                    file.display()
                );
                let args = f
                    .sig
                    .inputs
                    .iter()
                    .filter_map(|input| match input {
                        FnArg::Typed(t) => Some(t),
                        FnArg::Receiver(_) => None,
                    })
                    .filter(|t| !injected(&t.ty))
                    .map(|t| {
                        let Pat::Ident(id) = &*t.pat else {
                            panic!("command {name}: name every argument plainly")
                        };
                        (id.ident.to_string(), (*t.ty).clone())
                    })
                    .collect();
                commands.push(Command {
                    module: module.clone(),
                    name,
                    docs: docs(&f.attrs),
                    args,
                    output: f.sig.output.clone(),
                });
            }
        }
        let mut seen = BTreeSet::new();
        for c in &commands {
            assert!(seen.insert(&c.name), "two commands are called {}", c.name);
        }
        commands
    }

    fn is_command(attr: &syn::Attribute) -> bool {
        let segments: Vec<_> = attr
            .path()
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        segments == ["tauri", "command"]
    }

    fn docs(attrs: &[syn::Attribute]) -> Vec<String> {
        attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .filter_map(|a| match &a.meta {
                syn::Meta::NameValue(nv) => match &nv.value {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }) => Some(s.value().trim().to_string()),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    /// What Tauri fills in itself rather than the window.
    fn injected(ty: &Type) -> bool {
        matches!(
            last(ty).map(|(name, _)| name).as_deref(),
            Some("State" | "AppHandle" | "Window" | "WebviewWindow" | "Webview")
        )
    }

    /// A path type's last segment and its type arguments.
    fn last(ty: &Type) -> Option<(String, Vec<Type>)> {
        let Type::Path(p) = ty else { return None };
        let seg = p.path.segments.last()?;
        let args = match &seg.arguments {
            PathArguments::AngleBracketed(a) => a
                .args
                .iter()
                .filter_map(|g| match g {
                    GenericArgument::Type(t) => Some(t.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Some((seg.ident.to_string(), args))
    }

    pub fn handler(commands: &[Command]) -> String {
        let mut s = String::from(
            "/// Every window command (generated by build.rs from src/commands/).\n\
             pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {\n    \
             tauri::generate_handler![\n",
        );
        for c in commands {
            let _ = writeln!(s, "        {}::{},", c.module, c.name);
        }
        s.push_str("    ]\n}\n");
        s
    }

    pub fn permission_set(identifier: &str, commands: &[Command]) -> String {
        let mut s = format!(
            "# Generated by build.rs from src/commands/.\n[[set]]\nidentifier = \"{identifier}\"\n\
             description = \"Every command of Patchbay's window, and nothing else.\"\npermissions = [\n"
        );
        for c in commands {
            let _ = writeln!(s, "  \"allow-{}\",", c.name.replace('_', "-"));
        }
        s.push_str("]\n");
        s
    }

    /// Words a function parameter may not be called in a module (strict mode).
    const RESERVED: &[&str] = &["arguments", "eval", "default", "function", "new", "delete"];

    pub fn typescript(commands: &[Command], bindings: &Path) -> String {
        let mut types = BTreeSet::new();
        let mut body = String::new();
        for c in commands {
            let context = format!("command {}", c.name);
            if !c.docs.is_empty() {
                body.push_str("  /**\n");
                for line in &c.docs {
                    let _ = writeln!(body, "   * {}", line.replace("*/", "* /"));
                }
                body.push_str("   */\n");
            }
            // Trailing optional arguments may be left out.
            let optional_from = c
                .args
                .iter()
                .rposition(|(_, ty)| !is_option(ty))
                .map_or(0, |i| i + 1);
            let mut params = Vec::new();
            let mut fields = Vec::new();
            for (i, (name, ty)) in c.args.iter().enumerate() {
                let key = camel(name);
                let local = if RESERVED.contains(&key.as_str()) {
                    format!("{key}_")
                } else {
                    key.clone()
                };
                let ts = to_ts(ty, &mut types, bindings, &context);
                if i >= optional_from {
                    params.push(format!("{local}?: {ts}"));
                    fields.push(format!("{key}: {local} ?? null"));
                } else {
                    params.push(format!("{local}: {ts}"));
                    fields.push(if local == key {
                        key
                    } else {
                        format!("{key}: {local}")
                    });
                }
            }
            let output = match &c.output {
                ReturnType::Default => "void".to_string(),
                ReturnType::Type(_, ty) => {
                    to_ts(&unwrap_result(ty), &mut types, bindings, &context)
                }
            };
            let payload = if fields.is_empty() {
                String::new()
            } else {
                format!(", {{ {} }}", fields.join(", "))
            };
            let _ = writeln!(
                body,
                "  {}: ({}): Promise<{output}> =>\n    invoke<{output}>('{}'{payload}),",
                camel(&c.name),
                params.join(", "),
                c.name,
            );
        }
        let mut s = String::from(
            "// Generated by src-tauri/build.rs from the #[tauri::command] functions in\n\
             // src-tauri/src/commands/. Do not edit: change the command, and build.\n\
             import { Channel, invoke } from '@tauri-apps/api/core';\n",
        );
        for t in &types {
            let path = if t == "JsonValue" {
                "./bindings/serde_json/JsonValue".to_string()
            } else {
                format!("./bindings/{t}")
            };
            let _ = writeln!(s, "import type {{ {t} }} from '{path}';");
        }
        s.push_str(
            "\n// Keeps the import used when no command takes a Channel.\nexport type { Channel };\n\n\
             /** Every command of the window, typed from its Rust signature. */\nexport const commands = {\n",
        );
        s.push_str(&body);
        s.push_str("};\n");
        s
    }

    fn is_option(ty: &Type) -> bool {
        last(ty).is_some_and(|(n, _)| n == "Option")
    }

    fn unwrap_result(ty: &Type) -> Type {
        match last(ty) {
            Some((n, args)) if n == "Result" && !args.is_empty() => args[0].clone(),
            _ => ty.clone(),
        }
    }

    fn camel(snake: &str) -> String {
        let mut out = String::new();
        let mut upper = false;
        for ch in snake.chars() {
            if ch == '_' {
                upper = true;
            } else if upper {
                out.extend(ch.to_uppercase());
                upper = false;
            } else {
                out.push(ch);
            }
        }
        out
    }

    fn to_ts(ty: &Type, types: &mut BTreeSet<String>, bindings: &Path, context: &str) -> String {
        match ty {
            Type::Reference(r) => return to_ts(&r.elem, types, bindings, context),
            Type::Tuple(t) if t.elems.is_empty() => return "void".into(),
            _ => {}
        }
        let Some((name, args)) = last(ty) else {
            panic!("{context}: a type build.rs cannot name in TypeScript; use a named type")
        };
        let mut arg = |i: usize| {
            let t = args
                .get(i)
                .unwrap_or_else(|| panic!("{context}: {name} without its type argument"));
            to_ts(t, types, bindings, context)
        };
        match name.as_str() {
            "String" | "str" | "PathBuf" => "string".into(),
            "bool" => "boolean".into(),
            "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize"
            | "f32" | "f64" => "number".into(),
            "Option" => format!("{} | null", arg(0)),
            "Vec" => {
                let inner = arg(0);
                if inner.contains(' ') {
                    format!("({inner})[]")
                } else {
                    format!("{inner}[]")
                }
            }
            "Map" | "HashMap" | "BTreeMap" => format!("Record<string, {}>", arg(1)),
            "Value" => {
                types.insert("JsonValue".into());
                "JsonValue".into()
            }
            "Channel" => format!("Channel<{}>", arg(0)),
            other => {
                assert!(
                    bindings.join(format!("{other}.ts")).exists(),
                    "{context}: the type {other} has no TypeScript binding in ui/src/lib/bindings: \
                     derive ts_rs::TS on it in the engine (behind its `ts` feature) and export the bindings"
                );
                types.insert(other.to_string());
                other.to_string()
            }
        }
    }
}
