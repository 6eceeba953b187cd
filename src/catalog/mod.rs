//! The report catalog: the definitions built into the binary, plus (overriding by name)
//! or instead of them those of a `reports/*.toml` folder, validated when it loads.

mod definition;
pub mod params;
mod separators;
pub mod sql;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub use definition::{Column, ColumnType, DefinitionError, Overlap, Report};
pub use params::{BindValue, FieldError, ParamSpec, ParamType, ResolvedParams};
pub use separators::{CsvDelimiter, DecimalMark};

use crate::settings::ReportsSource;

/// The definitions shipped with quire, embedded by `build.rs`.
const BUILT_IN: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_reports.rs"));

fn built_in_texts() -> impl Iterator<Item = (String, String)> {
    BUILT_IN
        .iter()
        .map(|(file, text)| ((*file).to_owned(), (*text).to_owned()))
}

/// Errors loading the catalog; every one is a configuration error (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The reports directory, or a file in it, cannot be read.
    #[error("cannot read the reports directory {path}: {source}")]
    ReadDir {
        /// The directory, as displayed.
        path: String,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// A definition is invalid.
    #[error(transparent)]
    Definition(#[from] DefinitionError),
    /// Two files define a report with the same name.
    #[error("report {name:?} is defined twice ({first} and {second})")]
    Duplicate {
        /// The report name both files use.
        name: String,
        /// The file that defined it first.
        first: String,
        /// The file that defined it again.
        second: String,
    },
}

/// Every known report, by name. A report is shared, so that a run keeps the definition
/// it started with when the catalog is reloaded under it.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    reports: BTreeMap<String, (String, Arc<Report>)>,
}

impl Catalog {
    /// Loads the catalog from `source`.
    ///
    /// # Errors
    /// When the directory cannot be read or any definition is invalid.
    pub fn load(source: &ReportsSource) -> Result<Catalog, CatalogError> {
        match source {
            ReportsSource::BuiltIn => Catalog::from_texts(built_in_texts()),
            ReportsSource::Dir(dir) => Catalog::from_dir(dir),
            ReportsSource::BuiltInAnd(dir) => {
                let mut catalog = Catalog::from_texts(built_in_texts())?;
                catalog.reports.extend(Catalog::from_dir(dir)?.reports);
                Ok(catalog)
            }
        }
    }

    /// The built-in definitions as `(file name, TOML text)`, as `quire reports export`
    /// writes them.
    pub fn built_in_files() -> impl Iterator<Item = (&'static str, &'static str)> {
        BUILT_IN.iter().copied()
    }

    /// The catalog built into the binary.
    pub fn built_in() -> Catalog {
        Catalog::load(&ReportsSource::BuiltIn).expect("the built-in catalog is valid")
    }

    fn from_dir(dir: &Path) -> Result<Catalog, CatalogError> {
        let read_error = |source| CatalogError::ReadDir {
            path: dir.display().to_string(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(read_error)? {
            let path = entry.map_err(read_error)?.path();
            if path.extension().is_some_and(|ext| ext == "toml") {
                let text = std::fs::read_to_string(&path).map_err(read_error)?;
                files.push((path.display().to_string(), text));
            }
        }
        files.sort();
        Catalog::from_texts(files)
    }

    /// A catalog of definitions given as `(file name, TOML text)` pairs, for catalogs
    /// that do not live in a folder (the built-in one, the benchmark's).
    ///
    /// # Errors
    /// When a definition is invalid or a name is defined twice.
    pub fn from_texts(
        files: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Catalog, CatalogError> {
        let mut reports = BTreeMap::new();
        for (file, text) in files {
            let report = Report::parse(&file, &text)?;
            if let Some((first, _)) = reports.get(&report.name) {
                return Err(CatalogError::Duplicate {
                    name: report.name,
                    first: String::clone(first),
                    second: file,
                });
            }
            reports.insert(report.name.clone(), (file, Arc::new(report)));
        }
        Ok(Catalog { reports })
    }

    /// The report called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Report>> {
        self.reports.get(name).map(|(_, report)| report)
    }

    /// Every report, sorted by name.
    pub fn reports(&self) -> impl Iterator<Item = &Report> {
        self.reports.values().map(|(_, report)| report.as_ref())
    }
}
