//! `hls-swarm-nixfmt [--check] PATH...`: formats `.nix` files (directories are searched
//! recursively, skipping hidden ones, `target` and `result*`) with the alejandra library.
//! With `--check` nothing is written; the exit code is 1 when a file would change, 2 on a
//! parse error or bad usage.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "target" || name.starts_with("result") {
                continue;
            }
            collect(&entry.path(), out)?;
        }
    } else if path.extension().is_some_and(|e| e == "nix") {
        out.push(path.to_path_buf());
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut check = false;
    let mut roots = Vec::new();
    for arg in std::env::args_os().skip(1) {
        match arg.to_str() {
            Some("--check") => check = true,
            Some("-h" | "--help") => {
                println!("usage: hls-swarm-nixfmt [--check] PATH...  (alejandra 3.1.0)");
                return ExitCode::SUCCESS;
            }
            _ => roots.push(PathBuf::from(arg)),
        }
    }
    if roots.is_empty() {
        roots.push(PathBuf::from("."));
    }
    let mut files = Vec::new();
    for root in &roots {
        if let Err(e) = collect(root, &mut files) {
            eprintln!("hls-swarm-nixfmt: {}: {e}", root.display());
            return ExitCode::from(2);
        }
    }
    let (mut changed, mut failed) = (0usize, 0usize);
    for file in &files {
        let before = match std::fs::read_to_string(file) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("hls-swarm-nixfmt: {}: {e}", file.display());
                failed += 1;
                continue;
            }
        };
        let (status, after) = alejandra::format::in_memory(file.display().to_string(), before);
        match status {
            alejandra::format::Status::Error(e) => {
                eprintln!("hls-swarm-nixfmt: {}: {e}", file.display());
                failed += 1;
            }
            alejandra::format::Status::Changed(false) => {}
            alejandra::format::Status::Changed(true) if check => {
                println!("would reformat {}", file.display());
                changed += 1;
            }
            alejandra::format::Status::Changed(true) => {
                if let Err(e) = std::fs::write(file, after) {
                    eprintln!("hls-swarm-nixfmt: {}: {e}", file.display());
                    failed += 1;
                } else {
                    println!("reformatted {}", file.display());
                    changed += 1;
                }
            }
        }
    }
    eprintln!(
        "hls-swarm-nixfmt: {} files, {} {}, {} errors",
        files.len(),
        changed,
        if check {
            "need formatting"
        } else {
            "reformatted"
        },
        failed
    );
    if failed > 0 {
        ExitCode::from(2)
    } else if check && changed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
