//! Reading the per-run `runs.csv` that `carrot study eval` writes (label columns, `seed`, then
//! the metrics), for the commands that analyse it further (`study control`, `study contrast`).

use std::path::Path;
use std::str::FromStr;

use anyhow::{bail, Context, Result};

/// A runs.csv held as text, with errors that name the file, the line and the column.
pub struct RunsCsv {
    path: String,
    header: Vec<String>,
    /// `(line number, fields)` of every non-empty row.
    rows: Vec<(usize, Vec<String>)>,
}

impl RunsCsv {
    /// Reads `path`; an error if it cannot be read or has no rows.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut lines = text.lines();
        let split = |l: &str| l.split(',').map(String::from).collect::<Vec<_>>();
        let header = split(lines.next().unwrap_or_default());
        let rows: Vec<_> = lines
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i + 2, split(l)))
            .collect();
        if rows.is_empty() {
            bail!("{}: no runs", path.display());
        }
        Ok(RunsCsv {
            path: path.display().to_string(),
            header,
            rows,
        })
    }

    /// The index of column `name`.
    pub fn column(&self, name: &str) -> Result<usize> {
        self.header.iter().position(|h| h == name).with_context(|| {
            format!(
                "{}: no column `{name}` (columns: {})",
                self.path,
                self.header.join(", ")
            )
        })
    }

    /// The rows, each with its line number.
    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(move |(line, fields)| Row {
            csv: self,
            line: *line,
            fields,
        })
    }
}

/// One row of a [`RunsCsv`].
pub struct Row<'a> {
    csv: &'a RunsCsv,
    line: usize,
    fields: &'a [String],
}

impl<'a> Row<'a> {
    /// The text of column `c`.
    pub fn field(&self, c: usize) -> Result<&'a str> {
        self.fields
            .get(c)
            .map(String::as_str)
            .with_context(|| format!("{} line {}: too few fields", self.csv.path, self.line))
    }

    /// Column `c` parsed; `what` names it in the error.
    pub fn parse<T: FromStr>(&self, c: usize, what: &str) -> Result<T> {
        self.field(c)?
            .parse()
            .ok()
            .with_context(|| format!("{} line {}: bad {what}", self.csv.path, self.line))
    }

    /// The fields before column `c`, joined with `,` (the row's labels when `c` is `seed`).
    pub fn joined_before(&self, c: usize) -> Result<String> {
        self.field(c)?;
        Ok(self.fields[..c].join(","))
    }
}
