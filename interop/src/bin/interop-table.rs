//! Writes `INTEROP.md` and the README's interop table from the rows the
//! interop tests recorded (`ice_interop::table`).
//!
//! `interop-table` writes both files; `interop-table --check` changes
//! nothing and exits 1 if either differs from what the rows give (a peer
//! whose row went missing, or whose result or pair changed, shows up
//! here). A peer's version alone changing is reported, not failed: the
//! machine's packages move on without us.

use std::process::ExitCode;

use ice_interop::table;

fn main() -> ExitCode {
    let check = std::env::args().skip(1).any(|a| a == "--check");
    match run(check) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("interop-table: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(check: bool) -> Result<(), String> {
    let dir = table::rows_dir();
    let rows = table::read_rows(&dir)?;
    if rows.is_empty() {
        return Err(format!(
            "no rows in {}: run the interop tests first (cargo test -p ice-interop)",
            dir.display()
        ));
    }
    let t = table::markdown(&rows);
    let root = table::workspace_root();
    let interop_md = format!(
        "# Interop results\n\n\
         Written by `cargo run -p ice-interop --bin interop-table` from the rows\n\
         the interop tests (`interop/tests/`) recorded in their last run; not\n\
         edited by hand. `scripts/test` fails when a run no longer gives this table\n\
         (a peer's package version alone changing is reported, not failed).\n\
         A row's pair is the selected pair as our agent reports it, our candidate\n\
         type first.\n\n{t}"
    );
    let readme_path = root.join("README.md");
    let readme = std::fs::read_to_string(&readme_path)
        .map_err(|e| format!("cannot read {}: {e}", readme_path.display()))?;
    let new_readme = table::splice(&readme, &t).ok_or_else(|| {
        format!(
            "README.md has no block between `{}` and `{}`",
            table::BEGIN,
            table::END
        )
    })?;
    let md_path = root.join("INTEROP.md");
    let old_md = std::fs::read_to_string(&md_path).unwrap_or_default();
    if check {
        let mut stale = Vec::new();
        let differs = |a: &str, b: &str| table::without_versions(a) != table::without_versions(b);
        if differs(&old_md, &interop_md) {
            stale.push("INTEROP.md");
        }
        if differs(&readme, &new_readme) {
            stale.push("README.md");
        }
        if stale.is_empty() && (old_md != interop_md || readme != new_readme) {
            println!(
                "interop-table: a peer's version differs from the committed table \
                 (results are the same); regenerate it when convenient"
            );
        }
        if !stale.is_empty() {
            return Err(format!(
                "{} not what this run gives:\n{t}\nrun `cargo run -p ice-interop --bin interop-table` and commit, \
                 or find out why a row changed",
                stale.join(" and ")
            ));
        }
        println!("interop table up to date ({} rows)", rows.len());
        return Ok(());
    }
    std::fs::write(&md_path, interop_md)
        .map_err(|e| format!("cannot write {}: {e}", md_path.display()))?;
    std::fs::write(&readme_path, new_readme)
        .map_err(|e| format!("cannot write {}: {e}", readme_path.display()))?;
    println!("wrote INTEROP.md and README.md ({} rows)", rows.len());
    Ok(())
}
