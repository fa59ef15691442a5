//! The layer rules of ARCHITECTURE.md, checked on the source: the web edge, email and
//! the scheduler reach the database only through services, email does not use the web
//! edge, `domain` uses no I/O crate, and
//! `state.rs` depends on neither `web` nor `scheduler`.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// `(file, line)` of each code line (comments left out) under `dir` naming a pattern.
fn offences(dir: &str, patterns: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let files = if root.is_dir() {
        rust_files(&root)
    } else {
        vec![root]
    };
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("source file");
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if patterns.iter().any(|p| code.contains(p)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, code));
            }
        }
    }
    found
}

#[test]
fn email_and_the_scheduler_reach_the_database_only_through_services() {
    for dir in ["src/email", "src/scheduler"] {
        let found = offences(dir, &["crate::db"]);
        assert!(
            found.is_empty(),
            "{dir} imports crate::db:\n{}",
            found.join("\n")
        );
    }
}

#[test]
fn the_web_edge_reaches_the_database_only_through_services() {
    let found = offences("src/web", &["crate::db", "sqlx::"]);
    assert!(
        found.is_empty(),
        "src/web reaches the database directly:\n{}",
        found.join("\n")
    );
}

#[test]
fn email_renders_without_the_web_edge() {
    let found = offences("src/email", &["crate::web"]);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_domain_uses_no_io_crate() {
    let found = offences(
        "src/domain",
        &["sqlx", "axum", "tokio", "reqwest", "lettre"],
    );
    assert!(
        found.is_empty(),
        "src/domain uses an I/O crate:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_shared_state_depends_on_neither_web_nor_scheduler() {
    let found = offences("src/state.rs", &["crate::web", "crate::scheduler"]);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The use cases that act for an administrator change things only through
/// `services::tx::Work`, which commits only with the authority a role check returned.
#[test]
fn admin_use_cases_commit_only_with_a_permit() {
    let admin = [
        "src/services/catalogs",
        "src/services/packages",
        "src/services/groups.rs",
        "src/services/roles.rs",
        "src/services/users",
    ];
    for dir in admin {
        let found = offences(dir, &[".begin()", "audit::record("]);
        assert!(
            found.is_empty(),
            "{dir} opens a transaction or writes audit events outside Work:\n{}",
            found.join("\n")
        );
    }
}

/// Every use case leaves a span: each `pub` async function of `services` (outside its
/// tests) carries `#[tracing::instrument]`.
#[test]
fn every_service_function_is_traced() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/services");
    let mut untraced = Vec::new();
    for file in rust_files(&root) {
        let text = std::fs::read_to_string(&file).expect("source file");
        let mut attributes: Vec<&str> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.starts_with("#[cfg(test)]") {
                break;
            }
            if line.starts_with("#[") || line.starts_with("///") {
                attributes.push(line);
                continue;
            }
            let public = line.starts_with("pub async fn ")
                || line.starts_with("pub(crate) async fn ")
                || line.starts_with("pub(super) async fn ");
            if public && !attributes.iter().any(|a| a.contains("tracing::instrument")) {
                untraced.push(format!("{}:{}: {line}", file.display(), n + 1));
            }
            attributes.clear();
        }
    }
    assert!(untraced.is_empty(), "untraced:\n{}", untraced.join("\n"));
}
