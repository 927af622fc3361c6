//! No module cycle inside any crate of the workspace.
//!
//! The test reads every `crates/*/src/**/*.rs` and `examples/*/src/**/*.rs`, finds each module's
//! references to other modules of its own crate, and fails naming the cycle when it finds one.
//!
//! **Modules.** A file is a module (`src/a.rs` and `src/a/mod.rs` are `a`, `src/a/b.rs` is
//! `a::b`; `lib.rs` and `main.rs` are the crate root), and so is an inline `mod name { .. }`.
//! Code under `#[cfg(test)]` (a `mod tests { .. }` or a `#[cfg(test)] mod name;` file) is left
//! out: a test may reach anywhere.
//!
//! **References.** Every path that starts with `crate::`, `super::` or `self::` (in a `use`,
//! including `{..}` groups, or in an expression or type), resolved to the deepest module it names:
//! `crate::store::rows::Row` names `store::rows`, `crate::AppState` names the root.
//!
//! **Granularity: sibling modules at each level.** The children of one module are the nodes of
//! one graph. A reference from a file under child `A` to something under child `B` of the same
//! parent is an edge `A -> B` of that parent's graph; a file counts as its ancestor at every
//! level above it, so `http/token.rs` using `crate::issuance` is the edge `http -> issuance` at the
//! root. A module using its own parent or an ancestor (`crate::store::Store` from
//! `store/apis.rs`, `crate::AppState` from anywhere) is no edge: a parent's own file is not a
//! node of its children's graph, so `mod.rs` and the files below it may use each other freely.
//! A cycle is a strongly connected component of two or more siblings, named by its parent and
//! its members: `warrant-server crate::{audit, store}`.
//!
//! **The allowlist** ([`KNOWN_CYCLES`]) holds the cycles that existed when the check was added.
//! The test fails on any cycle not in it, and on a listed cycle that no longer exists, so the
//! list only shrinks: when you break a cycle, delete its line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Cycles tolerated while they are being removed; each line goes when its cycle does. Empty
/// since the redesign (issue #15): no crate has a module cycle.
const KNOWN_CYCLES: &[&str] = &[];

#[test]
fn no_module_cycle_inside_a_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    let mut crates = 0;
    for group in ["crates", "examples"] {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join(group))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|dir| dir.join("src").is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            crates += 1;
            for cycle in crate_cycles(&dir.join("src")) {
                found.insert(format!("{name} {}", cycle.name), cycle.explanation);
            }
        }
    }
    assert!(
        crates >= 6,
        "found only {crates} crates under {}",
        root.display()
    );

    let mut failures = String::new();
    let mut shrunk = BTreeSet::new();
    for (name, explanation) in &found {
        if KNOWN_CYCLES.contains(&name.as_str()) {
            continue;
        }
        // A listed cycle that lost members (or split) is progress: the list says so next.
        match KNOWN_CYCLES.iter().find(|known| is_part_of(name, known)) {
            Some(known) => {
                shrunk.insert(*known);
                writeln!(
                    failures,
                    "listed cycle shrank: in KNOWN_CYCLES, replace `{known}` by `{name}`\n{explanation}"
                )
                .unwrap();
            }
            None => writeln!(failures, "new module cycle: {name}\n{explanation}").unwrap(),
        }
    }
    for known in KNOWN_CYCLES {
        if !found.contains_key(*known) && !shrunk.contains(known) {
            writeln!(
                failures,
                "listed cycle no longer exists: delete `{known}` from KNOWN_CYCLES"
            )
            .unwrap();
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

/// Whether cycle `part` (`crate prefix::{a, b}`) has the parent of `whole` and some of its members.
fn is_part_of(part: &str, whole: &str) -> bool {
    let split = |name: &str| {
        let (parent, members) = name.split_once("::{")?;
        let members: BTreeSet<String> = members
            .trim_end_matches('}')
            .split(", ")
            .map(str::to_owned)
            .collect();
        Some((parent.to_owned(), members))
    };
    match (split(part), split(whole)) {
        (Some((parent, members)), Some((whole_parent, whole_members))) => {
            parent == whole_parent && members.is_subset(&whole_members)
        }
        _ => false,
    }
}

/// The analysis checks itself on a small crate written out here.
#[test]
fn the_check_sees_use_groups_super_and_inline_modules() {
    let files = [
        (
            "lib.rs",
            "mod a; mod b; mod c; mod d; pub struct Root; #[cfg(test)] mod t;",
        ),
        ("t.rs", "use crate::a::A;"),
        (
            "a.rs",
            "use crate::{b::{self, B}, Root};\n// crate::d::D in a comment\nconst S: &str = \"crate::d::D\";",
        ),
        (
            "b/mod.rs",
            "mod inner; pub struct B; fn f<'a>(x: &'a str) -> char { let _ = inner::X; 'c' }",
        ),
        (
            "b/inner.rs",
            "pub mod deep { pub fn g() { super::super::super::c::h(); } }",
        ),
        (
            "c.rs",
            "pub fn h() {} #[cfg(test)] mod tests { use crate::d::D; }",
        ),
        ("d.rs", "pub struct D; fn f() { let _ = crate::a::A; }"),
    ];
    let modules: Vec<Module> = files
        .iter()
        .map(|(path, source)| Module::parse(Path::new(path), source))
        .collect();
    let found = cycles(&modules);
    let names: Vec<&str> = found.iter().map(|cycle| cycle.name.as_str()).collect();
    // a -> b -> c (through b::inner::deep's `super::super::super`); nothing comes back to a from
    // b or c (the comment, the string and c's tests do not count), and d -> a alone is no cycle.
    assert_eq!(names, Vec::<&str>::new(), "{found:?}");

    let mut modules = modules;
    modules.push(Module::parse(
        Path::new("c/x.rs"),
        "use super::super::a::A;",
    ));
    let found = cycles(&modules);
    let names: Vec<&str> = found.iter().map(|cycle| cycle.name.as_str()).collect();
    assert_eq!(names, ["crate::{a, b, c}"], "{found:?}");
    assert!(found[0].explanation.contains("c/x.rs:1"), "{found:?}");

    // Breaking one edge of a listed cycle reads as a shrink, not as a new cycle.
    assert!(is_part_of("k crate::{a, b}", "k crate::{a, b, c}"));
    assert!(!is_part_of("k crate::{a, d}", "k crate::{a, b, c}"));
    assert!(!is_part_of("k crate::x::{a, b}", "k crate::{a, b, c}"));
}

/// A cycle: its name (`crate::parent::{a, b}`) and one loop through it with the evidence.
#[derive(Debug)]
struct Cycle {
    name: String,
    explanation: String,
}

fn crate_cycles(src: &Path) -> Vec<Cycle> {
    let mut files = Vec::new();
    collect_rs(src, &mut files);
    files.sort();
    let modules: Vec<Module> = files
        .iter()
        .map(|file| {
            let source = std::fs::read_to_string(file).unwrap();
            Module::parse(file.strip_prefix(src).unwrap(), &source)
        })
        .collect();
    cycles(&modules)
}

fn collect_rs(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rs(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// One file of a crate: where it sits, the inline modules it declares, the test-only files it
/// declares, and the paths it references.
#[derive(Debug)]
struct Module {
    /// The file, relative to `src/`.
    file: String,
    path: Vec<String>,
    inline: Vec<Vec<String>>,
    test_only_children: Vec<Vec<String>>,
    references: Vec<Reference>,
}

#[derive(Debug)]
struct Reference {
    /// The module the reference is written in (the file's, or an inline module's inside it).
    from: Vec<String>,
    /// The absolute path it names, from the crate root.
    to: Vec<String>,
    line: usize,
}

impl Module {
    fn parse(file: &Path, source: &str) -> Module {
        let mut path: Vec<String> = file
            .with_extension("")
            .iter()
            .map(|part| part.to_string_lossy().into_owned())
            .collect();
        if matches!(path.last().map(String::as_str), Some("mod")) {
            path.pop();
        }
        if path.len() == 1 && matches!(path[0].as_str(), "lib" | "main") {
            path.clear();
        }
        let tokens = tokenize(source);
        let mut module = Module {
            file: file.to_string_lossy().replace('\\', "/"),
            path: path.clone(),
            inline: Vec::new(),
            test_only_children: Vec::new(),
            references: Vec::new(),
        };
        module.scan(&tokens);
        module
    }

    fn scan(&mut self, tokens: &[Token]) {
        // The inline modules we are in, each with the brace depth its body opened at.
        let mut stack: Vec<(String, usize)> = Vec::new();
        let mut depth = 0;
        let mut cfg_test = false;
        let mut i = 0;
        while i < tokens.len() {
            let text = tokens[i].text.as_str();
            let current = |stack: &[(String, usize)]| {
                let mut current = self.path.clone();
                current.extend(stack.iter().map(|(name, _)| name.clone()));
                current
            };
            if text == "#" && is_cfg_test(&tokens[i..]) {
                cfg_test = true;
                i += 1;
                continue;
            }
            if text == "mod" && i + 2 < tokens.len() && tokens[i + 1].is_ident() {
                let name = tokens[i + 1].text.clone();
                let mut child = current(&stack);
                child.push(name.clone());
                match tokens[i + 2].text.as_str() {
                    "{" if cfg_test => {
                        i = skip_block(tokens, i + 2);
                        cfg_test = false;
                        continue;
                    }
                    "{" => {
                        depth += 1;
                        stack.push((name, depth));
                        self.inline.push(child);
                        i += 3;
                        continue;
                    }
                    ";" if cfg_test => self.test_only_children.push(child),
                    _ => {}
                }
            }
            match text {
                "{" => depth += 1,
                "}" => {
                    if stack.last().is_some_and(|(_, opened)| *opened == depth) {
                        stack.pop();
                    }
                    depth = depth.saturating_sub(1);
                }
                _ => {}
            }
            // `#[cfg(test)]` applies to the next item only; an item other than a module under
            // it (a test-only function or `use`) is rare and is counted.
            if cfg_test && matches!(text, ";" | "}") {
                cfg_test = false;
            }
            let starts_path = tokens.get(i + 1).is_some_and(|next| next.text == "::")
                && (i == 0 || tokens[i - 1].text != "::");
            if starts_path && matches!(text, "crate" | "super" | "self") {
                let from = current(&stack);
                let mut base = match text {
                    "crate" => Vec::new(),
                    "self" => from.clone(),
                    _ => parent(&from),
                };
                let mut j = i + 2;
                while tokens.get(j).is_some_and(|t| t.text == "super")
                    && tokens.get(j + 1).is_some_and(|t| t.text == "::")
                {
                    base = parent(&base);
                    j += 2;
                }
                let line = tokens[i].line;
                let mut targets = Vec::new();
                let end = use_tree(tokens, j, base, &mut targets);
                for to in targets {
                    self.references.push(Reference {
                        from: from.clone(),
                        to,
                        line,
                    });
                }
                i = end;
                continue;
            }
            i += 1;
        }
    }
}

fn parent(path: &[String]) -> Vec<String> {
    path[..path.len().saturating_sub(1)].to_vec()
}

fn is_cfg_test(tokens: &[Token]) -> bool {
    let texts: Vec<&str> = tokens.iter().take(7).map(|t| t.text.as_str()).collect();
    texts == ["#", "[", "cfg", "(", "test", ")", "]"]
}

/// Index just past the `{ .. }` block that opens at `open`.
fn skip_block(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match token.text.as_str() {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

/// Reads the path (or `use` tree) that continues at `i` after `prefix::`, pushing every path it
/// names; returns the index after it.
fn use_tree(
    tokens: &[Token],
    mut i: usize,
    prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    let mut path = prefix;
    loop {
        let Some(token) = tokens.get(i) else {
            out.push(path);
            return i;
        };
        if token.text == "{" {
            i += 1;
            loop {
                match tokens.get(i).map(|t| t.text.as_str()) {
                    None => return i,
                    Some("}") => return i + 1,
                    Some(",") => i += 1,
                    Some("as") => i += 2,
                    Some("self") => {
                        out.push(path.clone());
                        i += 1;
                    }
                    Some(_) => i = use_tree(tokens, i, path.clone(), out),
                }
            }
        }
        if !token.is_ident() {
            // `*`, or the end of the path in an expression.
            out.push(path);
            return i;
        }
        path.push(token.text.clone());
        i += 1;
        if tokens.get(i).is_some_and(|t| t.text == "::") {
            i += 1;
        } else {
            out.push(path);
            return i;
        }
    }
}

/// Every module cycle of one crate.
fn cycles(files: &[Module]) -> Vec<Cycle> {
    let mut modules: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut test_only: BTreeSet<Vec<String>> = BTreeSet::new();
    for file in files {
        modules.insert(file.path.clone());
        modules.extend(file.inline.iter().cloned());
        test_only.extend(file.test_only_children.iter().cloned());
    }
    // parent -> from child -> to child -> evidence
    let mut graphs: BTreeMap<Vec<String>, BTreeMap<String, BTreeMap<String, String>>> =
        BTreeMap::new();
    for file in files {
        if test_only.iter().any(|test| file.path.starts_with(test)) {
            continue;
        }
        for reference in &file.references {
            let target = (0..=reference.to.len())
                .rev()
                .map(|n| &reference.to[..n])
                .find(|prefix| modules.contains(*prefix))
                .unwrap_or(&[]);
            let from = &reference.from;
            let common = from.iter().zip(target).take_while(|(a, b)| a == b).count();
            if common < from.len() && common < target.len() {
                let written = format!("crate::{}", reference.to.join("::"));
                graphs
                    .entry(from[..common].to_vec())
                    .or_default()
                    .entry(from[common].clone())
                    .or_default()
                    .entry(target[common].clone())
                    .or_insert_with(|| format!("{}:{} uses {written}", file.file, reference.line));
            }
        }
    }
    let mut cycles = Vec::new();
    for (parent, graph) in &graphs {
        for component in components(graph) {
            let prefix: String = parent.iter().map(|part| format!("::{part}")).collect();
            let members: Vec<&str> = component.iter().map(String::as_str).collect();
            cycles.push(Cycle {
                name: format!("crate{prefix}::{{{}}}", members.join(", ")),
                explanation: explain(graph, &component),
            });
        }
    }
    cycles
}

/// The strongly connected components of two or more nodes (Tarjan's algorithm).
fn components(graph: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<BTreeSet<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeMap<String, String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<BTreeSet<String>>,
    }
    fn visit<'g>(state: &mut State<'g>, node: &'g str) {
        let n = state.index.len();
        state.index.insert(node, n);
        state.low.insert(node, n);
        state.stack.push(node);
        state.on_stack.insert(node);
        let graph = state.graph;
        for next in graph.get(node).into_iter().flat_map(|edges| edges.keys()) {
            let next = next.as_str();
            if !state.index.contains_key(next) {
                visit(state, next);
                let low = state.low[node].min(state.low[next]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(next) {
                let low = state.low[node].min(state.index[next]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = BTreeSet::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack.remove(member);
                component.insert(member.to_owned());
                if member == node {
                    break;
                }
            }
            if component.len() > 1 {
                state.out.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node.as_str()) {
            visit(&mut state, node);
        }
    }
    state.out.sort();
    state.out
}

/// One shortest loop through the component's first member, each step with where it is written.
fn explain(
    graph: &BTreeMap<String, BTreeMap<String, String>>,
    component: &BTreeSet<String>,
) -> String {
    let Some(start) = component.first() else {
        return String::new();
    };
    // Breadth-first from `start` inside the component until an edge leads back to it.
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.as_str()]);
    let mut last = None;
    while let Some(node) = queue.pop_front() {
        let edges = graph.get(node).into_iter().flat_map(|edges| edges.keys());
        for next in edges.filter(|next| component.contains(*next)) {
            if next == start {
                last = Some(node);
                break;
            }
            if !came_from.contains_key(next.as_str()) {
                came_from.insert(next, node);
                queue.push_back(next);
            }
        }
        if last.is_some() {
            break;
        }
    }
    let mut back = Vec::new();
    let mut node = last.unwrap_or(start);
    while node != start {
        back.push(node);
        node = came_from[node];
    }
    let mut loop_nodes = vec![start.as_str()];
    loop_nodes.extend(back.iter().rev());
    loop_nodes.push(start);
    let mut text = String::new();
    for pair in loop_nodes.windows(2) {
        let evidence = &graph[pair[0]][pair[1]];
        writeln!(text, "  {} -> {}: {evidence}", pair[0], pair[1]).unwrap();
    }
    text
}

#[derive(Debug)]
struct Token {
    text: String,
    line: usize,
}

impl Token {
    fn is_ident(&self) -> bool {
        self.text
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
    }
}

/// Rust source as identifiers, `::` and single punctuation characters, without comments,
/// string and character literals, lifetimes and numbers.
fn tokenize(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if let Some(hashes) = raw_string_start(&chars, i) {
            // r"..", r#".."#, br"..", cr"..": skip to the quote followed by as many hashes.
            i += hashes.0;
            let closing = hashes.1;
            while i < chars.len() {
                if chars[i] == '"' && (1..=closing).all(|k| at(i + k) == '#') {
                    i += 1 + closing;
                    break;
                }
                if chars[i] == '\n' {
                    line += 1;
                }
                i += 1;
            }
        } else if c == '"' || (matches!(c, 'b' | 'c') && at(i + 1) == '"') {
            i += if c == '"' { 1 } else { 2 };
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if at(i) == '\n' {
                    line += 1;
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' || (c == 'b' && at(i + 1) == '\'') {
            let quote = if c == '\'' { i } else { i + 1 };
            if at(quote + 1) == '\\' {
                i = quote + 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(quote + 2) == '\'' {
                i = quote + 3;
            } else {
                // A lifetime or label: skip the quote and its name.
                i = quote + 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
        } else if c.is_alphabetic() || c == '_' {
            if c == 'r' && at(i + 1) == '#' {
                i += 2;
            }
            let name_start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token {
                text: chars[name_start..i].iter().collect(),
                line,
            });
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        } else if c == ':' && at(i + 1) == ':' {
            tokens.push(Token {
                text: "::".to_owned(),
                line,
            });
            i += 2;
        } else {
            tokens.push(Token {
                text: c.to_string(),
                line,
            });
            i += 1;
        }
    }
    tokens
}

/// At a raw string literal (`r"`, `r#"`, `br#"`, `cr"`), how many characters open it and how many
/// `#` close it.
fn raw_string_start(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if matches!(chars.get(j), Some('b' | 'c')) {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    // `r` must begin a token: not the end of an identifier like `for`.
    if i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (chars.get(j) == Some(&'"')).then_some((j + 1 - i, hashes))
}
