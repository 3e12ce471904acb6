//! Results on stdout: one JSON object per line with `--json`, aligned
//! `key  value` rows for people otherwise. Progress and errors go to
//! stderr, so stdout stays parseable.

use std::io::Write;

use serde::Serialize;

use crate::error::CliError;

/// Prints `value` as one line of JSON on stdout and flushes (a reader of a
/// long-running command's stdout sees each object at once).
pub fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let line = serde_json::to_string(value).map_err(|e| {
        CliError::new(
            "cannot write the JSON output",
            e.to_string(),
            "report this as a bug, with the command line",
        )
    })?;
    print_line(&line);
    Ok(())
}

/// Prints one line on stdout and flushes. A closed stdout (`icectl … |
/// head`) is not an error worth failing for.
pub fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Rows of `key  value`, keys padded to one width.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<(String, String)>,
}

impl Table {
    /// An empty table.
    pub fn new() -> Table {
        Table::default()
    }

    /// Adds a row.
    pub fn row(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Table {
        self.rows.push((key.into(), value.into()));
        self
    }

    /// The rows, indented by two spaces, one per line; a multi-line value
    /// continues under its first line.
    pub fn render(&self) -> String {
        let width = self
            .rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (key, value) in &self.rows {
            let mut lines = value.lines();
            let first = lines.next().unwrap_or("");
            out.push_str(&format!("  {key:<width$}  {first}\n"));
            for more in lines {
                out.push_str(&format!("  {:<width$}  {more}\n", ""));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_keys_and_continues_values() {
        let mut t = Table::new();
        t.row("a", "1").row("longer", "2\n3");
        assert_eq!(t.render(), "  a       1\n  longer  2\n          3\n");
        assert_eq!(Table::new().render(), "");
    }
}
