//! Embeds the git revision of the source this binary is built from as `CARROT_REVISION`:
//! the commit, `-dirty` when tracked files had uncommitted changes, or `unknown` without git
//! (a source tarball, no `git` on the PATH). Setting `CARROT_REVISION` in the build's
//! environment overrides it, for builds from an exported tree.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CARROT_REVISION");
    let revision = match std::env::var("CARROT_REVISION") {
        Ok(given) if !given.trim().is_empty() => given.trim().to_string(),
        _ => from_git(),
    };
    println!("cargo:rustc-env=CARROT_REVISION={revision}");
}

/// The revision from git, registering every file whose change can change it.
fn from_git() -> String {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest.parent().unwrap_or(&manifest).to_path_buf();
    watch_sources(&workspace);
    let Some(head) = git(&workspace, &["rev-parse", "HEAD"]).filter(|h| !h.is_empty()) else {
        return "unknown".into();
    };
    // HEAD and the branch it points to (loose or packed): a checkout or a commit changes one.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".into()];
    if let Some(branch) = git(&workspace, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&workspace, &["rev-parse", "--git-path", &name]) {
            let path = workspace.join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    // Without optional locks, `git status` leaves the index alone.
    let status = [
        "--no-optional-locks",
        "status",
        "--porcelain",
        "--untracked-files=no",
    ];
    let dirty = git(&workspace, &status).is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{head}-dirty")
    } else {
        head
    }
}

/// Edits to the code compiled into `carrot` (each workspace crate's sources and manifest, the
/// lock file) rerun this script, so the `-dirty` mark follows them; tests and docs do not.
fn watch_sources(workspace: &Path) {
    for file in ["Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(file).display());
    }
    let Ok(entries) = std::fs::read_dir(workspace) else {
        return;
    };
    for entry in entries.flatten() {
        let krate = entry.path();
        if !krate.join("Cargo.toml").is_file() {
            continue;
        }
        for part in ["Cargo.toml", "build.rs", "src"] {
            if krate.join(part).exists() {
                println!("cargo:rerun-if-changed={}", krate.join(part).display());
            }
        }
    }
}

/// Runs git in `dir`; its trimmed stdout, or `None` when git is missing or fails.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
