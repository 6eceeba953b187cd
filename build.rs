//! Embeds the shipped report catalog (`reports/*.toml`) into the binary, so that
//! `quire demo` works in an empty folder, and rebuilds when migrations change.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=reports");

    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let reports = Path::new(&manifest_dir).join("reports");
    let mut files: Vec<_> = std::fs::read_dir(&reports)
        .expect("the reports folder exists")
        .map(|entry| entry.expect("readable reports folder").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();

    let mut source = String::from("&[\n");
    for path in files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 file name");
        writeln!(
            source,
            "    ({name:?}, include_str!({:?})),",
            path.display()
        )
        .expect("write to String");
    }
    source.push_str("]\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("builtin_reports.rs");
    std::fs::write(out, source).expect("write builtin_reports.rs");
}
