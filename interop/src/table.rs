//! The interop table: one row per run of our agent against a real peer.
//!
//! Each test records its row with [`record`] into the rows directory
//! (`ICE_INTEROP_ROWS`, or `target/interop-rows` of the workspace), win or
//! lose, before it asserts. `interop-table` reads every row and writes
//! `INTEROP.md` and the README block between [`BEGIN`] and [`END`]; with
//! `--check` it fails if either file would change, so the committed table
//! is the one the last run produced and a run that lost a row shows.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The README line after which the generated table starts.
pub const BEGIN: &str =
    "<!-- interop-table:begin (written by `cargo run -p ice-interop --bin interop-table`) -->";
/// The README line before which it ends.
pub const END: &str = "<!-- interop-table:end -->";

/// One run of our agent against a peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// The peer: `Chromium`, `webrtc-ice`, `aioice`, `libnice`.
    pub peer: String,
    /// Its version, as the peer reports it (or its package).
    pub version: String,
    /// What this run varies: `mDNS on`, `direct`, `relay (our TURN)`, ….
    pub variant: String,
    /// Our agent's role: `controlling` or `controlled`.
    pub our_role: String,
    /// The selected pair's candidate types as our agent reports it, ours
    /// first (`host → prflx`); empty when it failed.
    pub pair: String,
    /// `connected`, or `failed: <why>`.
    pub result: String,
}

impl Row {
    /// The row of one run: `failed: <why>` or `connected`, our role named
    /// as the table spells it.
    pub fn new(
        peer: &str,
        version: &str,
        variant: &str,
        our_role: ice::Role,
        pair: String,
        outcome: Result<(), &str>,
    ) -> Row {
        Row {
            peer: peer.to_owned(),
            version: version.to_owned(),
            variant: variant.to_owned(),
            our_role: role_name(our_role).to_owned(),
            pair,
            result: match outcome {
                Ok(()) => "connected".to_owned(),
                Err(why) => format!("failed: {why}"),
            },
        }
    }

    /// Whether the run connected.
    pub fn connected(&self) -> bool {
        self.result == "connected"
    }
}

/// A role as the table and the peers spell it.
pub fn role_name(role: ice::Role) -> &'static str {
    match role {
        ice::Role::Controlling => "controlling",
        ice::Role::Controlled => "controlled",
    }
}

/// The pair's candidate types as a table cell: ours, then the peer's.
pub fn pair_cell(local: &ice::Candidate, remote: &ice::Candidate) -> String {
    format!("{} → {}", local.kind, remote.kind)
}

/// Where rows are written and read.
pub fn rows_dir() -> PathBuf {
    match std::env::var_os("ICE_INTEROP_ROWS") {
        Some(d) => PathBuf::from(d),
        None => workspace_root().join("target").join("interop-rows"),
    }
}

/// The workspace root (this crate's parent directory).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// Writes `row` into the rows directory, replacing an earlier run of the
/// same peer, variant and role.
pub fn record(row: &Row) -> std::io::Result<()> {
    let dir = rows_dir();
    std::fs::create_dir_all(&dir)?;
    let name: String = format!("{}-{}-{}", row.peer, row.variant, row.our_role)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let json = serde_json::to_string_pretty(row).map_err(std::io::Error::other)?;
    std::fs::write(dir.join(format!("{name}.json")), json + "\n")
}

/// Reads every row in `dir`, in table order.
pub fn read_rows(dir: &Path) -> Result<Vec<Row>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut rows = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|x| x == "json") {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let row: Row =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            rows.push(row);
        }
    }
    rows.sort_by_key(order);
    Ok(rows)
}

fn order(r: &Row) -> (usize, String, String, String) {
    let peer = ["Chromium", "webrtc-ice", "aioice", "libnice"]
        .iter()
        .position(|p| *p == r.peer)
        .unwrap_or(usize::MAX);
    (peer, r.peer.clone(), r.variant.clone(), r.our_role.clone())
}

/// The Markdown table of `rows`.
pub fn markdown(rows: &[Row]) -> String {
    let mut t = String::from(
        "| peer | version | run | our role | selected pair (ours → peer's) | result |\n\
         |---|---|---|---|---|---|\n",
    );
    for r in rows {
        let pair = if r.pair.is_empty() { "–" } else { &r.pair };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&r.peer),
            cell(&r.version),
            cell(&r.variant),
            cell(&r.our_role),
            cell(pair),
            cell(&r.result)
        );
    }
    t
}

/// A table cell: no line breaks, no column separators.
fn cell(s: &str) -> String {
    s.replace(['\n', '\r'], " ").replace('|', "\\|")
}

/// `text` with the version cell of every table row blanked, so that two
/// tables can be compared on what was run and what came of it: a peer's
/// package moving to a new version is no failure of ours.
pub fn without_versions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        // `| peer | version | …`: peer names and versions hold no `|`.
        let bars: Vec<usize> = line.match_indices('|').map(|(i, _)| i).take(3).collect();
        match bars.as_slice() {
            [0, second, third] if line.starts_with("| ") => {
                out.push_str(&line[..=*second]);
                out.push_str(" * ");
                out.push_str(&line[*third..]);
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// `readme` with the block between [`BEGIN`] and [`END`] replaced by
/// `table`; `None` if the markers are missing or out of order.
pub fn splice(readme: &str, table: &str) -> Option<String> {
    let start = readme.find(BEGIN)? + BEGIN.len();
    let end = readme[start..].find(END)? + start;
    Some(format!("{}\n{}{}", &readme[..start], table, &readme[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(peer: &str, role: &str, result: &str) -> Row {
        Row {
            peer: peer.into(),
            version: "1".into(),
            variant: "direct".into(),
            our_role: role.into(),
            pair: "host → host".into(),
            result: result.into(),
        }
    }

    #[test]
    fn the_table_escapes_cells_and_marks_a_missing_pair() {
        let mut r = row("aioice", "controlling", "failed: a|b\nc");
        r.pair.clear();
        let t = markdown(&[r]);
        assert!(
            t.ends_with("| aioice | 1 | direct | controlling | – | failed: a\\|b c |\n"),
            "{t}"
        );
    }

    #[test]
    fn versions_are_ignored_but_results_are_not() {
        let mut a = row("libnice", "controlled", "connected");
        let mut b = a.clone();
        b.version = "2".into();
        let (ta, tb) = (markdown(&[a.clone()]), markdown(&[b]));
        assert_ne!(ta, tb);
        assert_eq!(without_versions(&ta), without_versions(&tb));
        a.result = "failed: timeout".into();
        assert_ne!(without_versions(&ta), without_versions(&markdown(&[a])));
    }

    #[test]
    fn splice_replaces_only_the_block() {
        let readme = format!("a\n{BEGIN}\nold\n{END}\nb\n");
        let out = splice(&readme, "new\n").unwrap_or_default();
        assert_eq!(out, format!("a\n{BEGIN}\nnew\n{END}\nb\n"));
        assert_eq!(splice("no markers", "x"), None);
    }

    #[test]
    fn rows_round_trip_through_the_directory_in_table_order() {
        let dir = std::env::temp_dir().join(format!("interop-rows-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_default();
        for (i, r) in [
            row("libnice", "controlled", "connected"),
            row("Chromium", "controlling", "connected"),
        ]
        .iter()
        .enumerate()
        {
            let json = serde_json::to_string(r).unwrap_or_default();
            std::fs::write(dir.join(format!("{i}.json")), json).unwrap_or_default();
        }
        let rows = read_rows(&dir).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            rows.iter().map(|r| r.peer.as_str()).collect::<Vec<_>>(),
            ["Chromium", "libnice"]
        );
        assert!(rows.iter().all(Row::connected));
    }
}
