//! The house's rules, checked on the source (docs/DESIGN.md, "The house"): the modules of the
//! engine and of the CLI depend on each other in one direction only (no cycle), the CLI and the
//! shell use only what the engine's lib.rs names, and an engine file over 600 lines says why.
//!
//! The source is read as text: comments, strings and char literals are dropped, then every
//! `crate::`, `super::` (and, in a crate's root file, `module::`) path is resolved to the
//! top-level module it names. Good enough for our code; not a Rust parser.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Longest engine file that needs no reason.
const LONG_FILE: usize = 600;
/// What a longer file's opening comment must say.
const LONG_REASON: &str = "Long because:";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The source without comments, string and char literals (each replaced by a space, newlines
/// kept so line numbers still hold).
fn code_only(src: &str) -> String {
    let s: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let blank = |c: char, out: &mut String| out.push(if c == '\n' { '\n' } else { ' ' });
    while i < s.len() {
        let c = s[i];
        let next = s.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < s.len() {
                if s[i] == '/' && s.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if s[i] == '*' && s.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(s[i], &mut out);
                    i += 1;
                }
            }
        } else if c == 'r' && matches!(next, Some('"') | Some('#')) && !ident_char_before(&s, i) {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while s.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if s.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= s.len() {
                    break;
                }
                if s[j] == '"' && (0..hashes).all(|h| s.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                blank(s[j], &mut out);
                j += 1;
            }
            i = j;
            out.push(' ');
        } else if c == '"' {
            i += 1;
            while i < s.len() && s[i] != '"' {
                if s[i] == '\\' {
                    i += 1;
                }
                if let Some(&c) = s.get(i) {
                    blank(c, &mut out);
                }
                i += 1;
            }
            i += 1;
            out.push(' ');
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}'); anything else is a lifetime.
            if next == Some('\\') {
                let mut j = i + 2;
                while j < s.len() && s[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push(' ');
            } else if s.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push(' ');
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_char_before(s: &[char], i: usize) -> bool {
    i > 0 && (s[i - 1].is_alphanumeric() || s[i - 1] == '_')
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Path, // `::`
    Punct(char),
}

/// Tokens with their line numbers.
fn tokens(code: &str) -> Vec<(Token, usize)> {
    let s: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < s.len() {
        let c = s[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
                i += 1;
            }
            let word: String = s[start..i].iter().collect();
            // `r#type` and the like.
            let word = word.strip_prefix("r#").map(String::from).unwrap_or(word);
            out.push((Token::Ident(word), line));
        } else if c == ':' && s.get(i + 1) == Some(&':') {
            out.push((Token::Path, line));
            i += 2;
        } else {
            out.push((Token::Punct(c), line));
            i += 1;
        }
    }
    out
}

/// A place in the source that names another module.
#[derive(Debug, Clone)]
struct Use {
    file: PathBuf,
    line: usize,
}

impl std::fmt::Display for Use {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self
            .file
            .strip_prefix(workspace())
            .unwrap_or(&self.file)
            .display()
            .to_string();
        write!(f, "{shown}:{}", self.line)
    }
}

/// One crate's source: each file's module path (`["hub", "servers"]`; the root file is `[]`).
struct Crate {
    /// The root's name in messages: `lib` or `main`.
    root: String,
    files: Vec<(PathBuf, Vec<String>)>,
}

impl Crate {
    fn read(src: &Path, root: &str) -> Crate {
        let files = rust_files(src)
            .into_iter()
            .filter(|f| !f.starts_with(src.join("bin")))
            .map(|f| {
                let rel = f.strip_prefix(src).unwrap().with_extension("");
                let mut path: Vec<String> = rel
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                if path.last().is_some_and(|l| l == "mod") {
                    path.pop();
                }
                if path == [root] {
                    path.clear();
                }
                (f, path)
            })
            .collect();
        Crate {
            root: root.to_string(),
            files,
        }
    }

    fn modules(&self) -> BTreeSet<String> {
        self.files
            .iter()
            .filter_map(|(_, p)| p.first().cloned())
            .collect()
    }

    /// The graph between top-level modules (the root file is a node too): for each edge, where
    /// the source names it first.
    fn graph(&self) -> BTreeMap<String, BTreeMap<String, Use>> {
        let modules = self.modules();
        let mut graph: BTreeMap<String, BTreeMap<String, Use>> = BTreeMap::new();
        for (file, path) in &self.files {
            let from = path.first().cloned().unwrap_or_else(|| self.root.clone());
            let src = std::fs::read_to_string(file).unwrap();
            for (to, line) in references(&tokens(&code_only(&src)), path, &modules) {
                let to = to.unwrap_or_else(|| self.root.clone());
                if to != from {
                    graph
                        .entry(from.clone())
                        .or_default()
                        .entry(to)
                        .or_insert(Use {
                            file: file.clone(),
                            line,
                        });
                }
            }
        }
        graph
    }
}

/// The top-level modules a file's paths name (`None`: an item of the crate's root file), with
/// their lines. `path` is the file's module path; inline `mod x { .. }` blocks extend it.
fn references(
    tokens: &[(Token, usize)],
    path: &[String],
    modules: &BTreeSet<String>,
) -> Vec<(Option<String>, usize)> {
    let ident = |i: usize| match tokens.get(i) {
        Some((Token::Ident(w), _)) => Some(w.as_str()),
        _ => None,
    };
    let is = |i: usize, t: Token| tokens.get(i).map(|(x, _)| x) == Some(&t);
    // The module a resolved path's first segments name; `segments` start at the crate root.
    let top = |segments: &[String]| -> Option<Option<String>> {
        match segments.first() {
            Some(m) if modules.contains(m) => Some(Some(m.clone())),
            Some(_) => Some(None),
            None => None,
        }
    };
    let mut found = Vec::new();
    let mut depth = 0usize;
    // Inline modules: (name, the brace depth inside them).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let (token, line) = &tokens[i];
        let after_path = i > 0 && is(i - 1, Token::Path);
        match token {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Ident(w) if w == "mod" && is(i + 2, Token::Punct('{')) => {
                if let Some(name) = ident(i + 1) {
                    inline.push((name.to_string(), depth + 1));
                }
            }
            Token::Ident(w) if !after_path && is(i + 1, Token::Path) => {
                let here: Vec<String> = path
                    .iter()
                    .cloned()
                    .chain(inline.iter().map(|(n, _)| n.clone()))
                    .collect();
                let mut rest = i + 2;
                let base: Option<Vec<String>> = match w.as_str() {
                    "crate" => Some(Vec::new()),
                    "self" => Some(here.clone()),
                    "super" => {
                        let mut up = 1;
                        while ident(rest) == Some("super") && is(rest + 1, Token::Path) {
                            up += 1;
                            rest += 2;
                        }
                        Some(here[..here.len().saturating_sub(up)].to_vec())
                    }
                    // In a crate's root file a module is named without `crate::`.
                    m if path.is_empty() && inline.is_empty() && modules.contains(m) => {
                        rest = i;
                        Some(Vec::new())
                    }
                    _ => None,
                };
                if let Some(base) = base {
                    // `a::b` or a group `{a::b, c}`: the first segment of each.
                    let firsts: Vec<String> = if is(rest, Token::Punct('{')) {
                        group_firsts(tokens, rest)
                    } else {
                        ident(rest).map(String::from).into_iter().collect()
                    };
                    for first in firsts {
                        let segments: Vec<String> = if base.is_empty() && first == "self" {
                            Vec::new()
                        } else {
                            base.iter().cloned().chain([first]).collect()
                        };
                        if let Some(to) = top(&segments) {
                            found.push((to, *line));
                        } else if base.is_empty() {
                            // `crate::{self, ..}` or `super::*` at the root: the root file.
                            found.push((None, *line));
                        }
                    }
                    i = rest.max(i + 1);
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// The first identifier of each element of the `{ .. }` group opening at `open`.
fn group_firsts(tokens: &[(Token, usize)], open: usize) -> Vec<String> {
    let mut firsts = Vec::new();
    let mut depth = 0;
    let mut expecting = true;
    for (token, _) in &tokens[open..] {
        match token {
            Token::Punct('{') => {
                depth += 1;
                if depth == 1 {
                    expecting = true;
                }
            }
            Token::Punct('}') => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            Token::Punct(',') if depth == 1 => expecting = true,
            Token::Ident(w) if depth == 1 && expecting => {
                firsts.push(w.clone());
                expecting = false;
            }
            Token::Punct('*') if depth == 1 && expecting => expecting = false,
            _ => {}
        }
    }
    firsts
}

/// Each group of modules that reach each other: one circle through it (`a → b → ... → a`), then
/// where each module names another of the group; empty when the graph has no circle.
fn cycles(graph: &BTreeMap<String, BTreeMap<String, Use>>) -> Vec<String> {
    // Tarjan's strongly connected components.
    struct Walk<'g> {
        graph: &'g BTreeMap<String, BTreeMap<String, Use>>,
        index: HashMap<&'g str, usize>,
        low: HashMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        groups: Vec<Vec<&'g str>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, v: &'g str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flat_map(|e| e.keys()) {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    group.push(w);
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    self.groups.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: HashMap::new(),
        low: HashMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        groups: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.groups
        .into_iter()
        .map(|group| {
            let members: BTreeSet<&str> = group.iter().copied().collect();
            let start = *members.iter().next().unwrap();
            // The shortest way from `start` back to itself inside the group.
            let mut came_from: HashMap<&str, &str> = HashMap::new();
            let mut queue = std::collections::VecDeque::from([start]);
            'search: while let Some(v) = queue.pop_front() {
                for w in graph[v].keys().map(String::as_str) {
                    if !members.contains(w) {
                        continue;
                    }
                    if w == start {
                        came_from.insert(start, v);
                        break 'search;
                    }
                    if !came_from.contains_key(w) {
                        came_from.insert(w, v);
                        queue.push_back(w);
                    }
                }
            }
            let mut steps = vec![start];
            let mut at = came_from[start];
            while at != start {
                steps.push(at);
                at = came_from[at];
            }
            steps.push(start);
            steps.reverse();
            // One circle, then every use inside the group: each is a way round.
            let mut text = steps.join(" → ");
            for from in &members {
                for (to, at) in &graph[*from] {
                    if members.contains(to.as_str()) {
                        let _ = write!(text, "\n      {from} uses {to} at {at}");
                    }
                }
            }
            text
        })
        .collect()
}

fn assert_no_cycle(name: &str, krate: &Crate) {
    let found = cycles(&krate.graph());
    assert!(
        found.is_empty(),
        "the modules of {name} depend on each other in a circle; dependencies must point one way \
         (docs/DESIGN.md, \"The house\"). Break each circle: move what both sides need into the \
         lower module (or a new one both can use), or make one a child module of the other.\n  {}",
        found.join("\n  ")
    );
}

#[test]
fn the_engine_s_modules_depend_one_way() {
    assert_no_cycle(
        "crates/engine",
        &Crate::read(&workspace().join("crates/engine/src"), "lib"),
    );
}

#[test]
fn the_cli_s_modules_depend_one_way() {
    assert_no_cycle(
        "crates/cli",
        &Crate::read(&workspace().join("crates/cli/src"), "main"),
    );
}

/// The modules lib.rs declares, and the names it re-exports.
fn engine_facade() -> (BTreeSet<String>, BTreeSet<String>) {
    let lib = std::fs::read_to_string(workspace().join("crates/engine/src/lib.rs")).unwrap();
    let toks = tokens(&code_only(&lib));
    let mut modules = BTreeSet::new();
    let mut names = BTreeSet::new();
    for (i, (t, _)) in toks.iter().enumerate() {
        if *t == Token::Ident("mod".into())
            && let Some((Token::Ident(m), _)) = toks.get(i + 1)
        {
            modules.insert(m.clone());
        }
    }
    // Every identifier in a `pub use` that is not followed by `::` is a name it exports
    // (`x as y` exports y; listing x too is harmless).
    let mut in_use = false;
    for (i, (t, _)) in toks.iter().enumerate() {
        match t {
            Token::Ident(w) if w == "use" => in_use = true,
            Token::Punct(';') => in_use = false,
            Token::Ident(w) if in_use && toks.get(i + 1).map(|t| &t.0) != Some(&Token::Path) => {
                names.insert(w.clone());
            }
            _ => {}
        }
    }
    (modules, names)
}

#[test]
fn the_cli_and_the_shell_use_only_the_engine_s_facade() {
    let (modules, exported) = engine_facade();
    let root = workspace();
    let mut misuses = Vec::new();
    for dir in ["crates/cli/src", "src-tauri/src"] {
        for file in rust_files(&root.join(dir)) {
            let src = std::fs::read_to_string(&file).unwrap();
            let toks = tokens(&code_only(&src));
            for (i, (t, line)) in toks.iter().enumerate() {
                if *t != Token::Ident("patchbay_engine".into())
                    || toks.get(i + 1).map(|t| &t.0) != Some(&Token::Path)
                {
                    continue;
                }
                let named: Vec<(String, bool)> = if toks.get(i + 2).map(|t| &t.0)
                    == Some(&Token::Punct('{'))
                {
                    // `patchbay_engine::{a::B, C}`: does each element go deeper?
                    let mut out = Vec::new();
                    let mut depth = 0;
                    let mut last: Option<String> = None;
                    for (j, (t, _)) in toks.iter().enumerate().skip(i + 2) {
                        match t {
                            Token::Punct('{') => depth += 1,
                            Token::Punct('}') => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            Token::Ident(w) if depth == 1 && last.is_none() => {
                                last = Some(w.clone());
                                let deeper = toks.get(j + 1).map(|t| &t.0) == Some(&Token::Path);
                                out.push((w.clone(), deeper));
                            }
                            Token::Punct(',') if depth == 1 => last = None,
                            _ => {}
                        }
                    }
                    out
                } else if let Some((Token::Ident(w), _)) = toks.get(i + 2) {
                    let deeper = toks.get(i + 3).map(|t| &t.0) == Some(&Token::Path);
                    vec![(w.clone(), deeper)]
                } else {
                    Vec::new()
                };
                for (name, deeper) in named {
                    let module = modules.contains(&name) && (deeper || !exported.contains(&name));
                    if module || !(exported.contains(&name) || modules.contains(&name)) {
                        misuses.push(format!(
                            "{}: patchbay_engine::{name}{}",
                            Use {
                                file: file.clone(),
                                line: *line
                            },
                            if deeper { "::…" } else { "" }
                        ));
                    }
                }
            }
        }
    }
    assert!(
        misuses.is_empty(),
        "the CLI and the shell may name only what crates/engine/src/lib.rs re-exports \
         (`patchbay_engine::Name`), never an engine module: re-export the item in lib.rs (with \
         `pub use`) and name it from there.\n  {}",
        misuses.join("\n  ")
    );
}

#[test]
fn a_long_engine_file_says_why() {
    let mut long = Vec::new();
    for file in rust_files(&workspace().join("crates/engine/src")) {
        let src = std::fs::read_to_string(&file).unwrap();
        let lines = src.lines().count();
        // The opening comment block is where a reader looks first.
        let says_why = src
            .lines()
            .take_while(|l| l.trim_start().starts_with("//"))
            .any(|l| l.contains(LONG_REASON));
        if lines > LONG_FILE && !says_why {
            long.push(format!("{} ({lines} lines)", Use { file, line: 1 }));
        }
    }
    assert!(
        long.is_empty(),
        "engine files over {LONG_FILE} lines: split each by job (one module per job), or, if it \
         is one job, say why in its opening comment (`//! {LONG_REASON} ...`).\n  {}",
        long.join("\n  ")
    );
}

// The checker checks itself on made-up sources.

fn refs(src: &str, path: &[&str], modules: &[&str]) -> Vec<Option<String>> {
    let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
    let modules = modules.iter().map(|s| s.to_string()).collect();
    references(&tokens(&code_only(src)), &path, &modules)
        .into_iter()
        .map(|(m, _)| m)
        .collect()
}

#[test]
fn the_checker_reads_paths_and_skips_comments_and_strings() {
    let modules = ["calls", "session", "events"];
    let src = r##"
        //! Uses crate::calls:: only in a comment.
        use crate::session::Session;
        use crate::{events::Event, calls};
        use super::Thing;
        /* crate::calls::X */
        fn f() -> &'static str { let c = '"'; "crate::calls::run" }
        fn g() { crate::events::publish(); let s = r#"crate::calls"#; }
        mod tests { use super::*; use super::super::events::E; }
    "##;
    assert_eq!(
        refs(src, &["session", "inner"], &modules),
        [
            Some("session".into()),
            Some("events".into()),
            Some("calls".into()),
            Some("session".into()),
            Some("events".into()),
            Some("session".into()),
        ]
    );
    // In a root file, a module is named without `crate::`; `super::` from a top-level file is
    // the root.
    assert_eq!(
        refs("fn main() { commands::run(); }", &[], &["commands"]),
        [Some("commands".into())]
    );
    assert_eq!(
        refs("use super::Cli;", &["commands"], &["commands"]),
        [None]
    );
}

#[test]
fn the_checker_finds_a_cycle_and_says_where() {
    let at = |line| Use {
        file: workspace().join("x.rs"),
        line,
    };
    let mut graph: BTreeMap<String, BTreeMap<String, Use>> = BTreeMap::new();
    graph
        .entry("hub".into())
        .or_default()
        .insert("calls".into(), at(1));
    graph
        .entry("calls".into())
        .or_default()
        .insert("session".into(), at(2));
    assert!(cycles(&graph).is_empty());
    graph
        .entry("session".into())
        .or_default()
        .insert("calls".into(), at(3));
    let found = cycles(&graph);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("calls → session → calls"),
        "{}",
        found[0]
    );
    assert!(
        found[0].contains("session uses calls at x.rs:3"),
        "{}",
        found[0]
    );
}
