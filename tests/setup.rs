//! Processes that start together on a fresh embedded database, as a deployment starts
//! its API and workers: each one opens and migrates the same new SQLite file.

use std::process::{Command, Stdio};

#[test]
fn processes_starting_together_on_a_fresh_sqlite_file_all_come_up() {
    // Before the setup lock, about one start in three hundred failed with "database is
    // locked": two first connections switching the new file to WAL at once.
    for _ in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let starts: Vec<_> = (0..6)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_quire"))
                    .arg("migrate")
                    .current_dir(dir.path())
                    .env_clear()
                    .env("QUIRE_LOG", "warn")
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("start quire migrate")
            })
            .collect();
        for start in starts {
            let output = start.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "a start failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let journal = std::fs::read(dir.path().join("quire-data/quire.db")).unwrap();
        // Bytes 18 and 19 of the header are the write and read format: 2 means WAL.
        assert_eq!(journal[18..20], [2, 2], "the file is in WAL mode");
    }
}

/// `--help` names the environment variables of the URL settings but never shows their
/// values, which hold passwords.
#[test]
fn help_shows_no_password_from_the_environment() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["bench", "report", "--help"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_quire"))
            .args(args)
            .env("DATABASE_URL", "postgres://app:hunter2@db/invoices")
            .env("REPORTS_DATABASE_URL", "mysql://ro:s3cret@replica/invoices")
            .env("REDIS_URL", "redis://default:r3dis@cache:6379")
            .env("AWS_SECRET_ACCESS_KEY", "aws-s3cr3t")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("[env: DATABASE_URL]"), "{help}");
        assert!(help.contains("[env: AWS_SECRET_ACCESS_KEY]"), "{help}");
        for password in ["hunter2", "s3cret", "r3dis", "aws-s3cr3t"] {
            assert!(!help.contains(password), "{args:?}: {help}");
        }
    }
}

/// A CA file that is missing or holds no certificate is a configuration error, found
/// when the process starts rather than at the first webhook.
#[test]
fn an_unusable_webhook_ca_file_stops_a_worker_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("not-a-ca.pem");
    std::fs::write(&not_pem, "just text\n").unwrap();
    let missing = dir.path().join("missing.pem");
    for (file, says) in [
        (&not_pem, "holds no PEM certificate"),
        (&missing, "cannot read"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_quire"))
            .args(["work", "--webhook-ca-file"])
            .arg(file)
            .current_dir(dir.path())
            .env_clear()
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(says) && stderr.contains(&*file.to_string_lossy()),
            "{stderr}"
        );
        assert!(
            !dir.path().join("quire-data").exists(),
            "nothing was opened before the settings were found bad"
        );
    }
}

/// A reader that goes away (`quire reports check | head -1`) ends the command quietly,
/// killed by SIGPIPE as other command-line tools are, without a panic. The pipe's read
/// end is closed before the process starts, so its first line meets the closed pipe.
#[test]
fn a_closed_stdout_ends_a_listing_quietly() {
    use std::os::unix::process::ExitStatusExt as _;
    let dir = tempfile::tempdir().unwrap();
    // `check` asks a database: the seeded demo one answers every definition.
    let seeded = Command::new(env!("CARGO_BIN_EXE_quire"))
        .args(["seed", "--tenants", "1", "--invoices", "1"])
        .env_clear()
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(seeded.status.success(), "{seeded:?}");
    for command in ["list", "check"] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = Command::new(env!("CARGO_BIN_EXE_quire"))
            .args(["reports", command])
            .env_clear()
            .current_dir(dir.path())
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{command}: {stderr}");
        assert_eq!(
            output.status.signal(),
            Some(libc::SIGPIPE),
            "{command}: {output:?}"
        );
    }
}

/// `quire reports` in `dir`, without the environment's catalog settings.
fn reports(dir: &std::path::Path, args: &[&str], replace: bool) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quire"));
    command
        .arg("reports")
        .args(args)
        .env_remove("QUIRE_CONFIG")
        .env_remove("QUIRE_REPORTS_DIR")
        .env("QUIRE_REPORTS_REPLACE_BUILTIN", replace.to_string())
        .current_dir(dir);
    command.output().unwrap()
}

const CUSTOM: &str = r#"
name = "clients"
title = "Our own clients list"
sql = "SELECT name FROM clients WHERE tenant_id = :tenant"
columns = [{ name = "name", type = "text" }]
"#;

/// A `./reports` folder adds to the built-in catalog, and a definition with a built-in
/// name replaces that one; `reports_replace_builtin` makes the folder the whole catalog.
#[test]
fn a_reports_folder_adds_to_the_built_in_catalog_unless_it_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("reports");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("clients.toml"), CUSTOM).unwrap();
    std::fs::write(
        folder.join("extra.toml"),
        CUSTOM.replace("\"clients\"\ntitle", "\"extra_clients\"\ntitle"),
    )
    .unwrap();

    let built_in = reports(tempfile::tempdir().unwrap().path(), &["list"], false);
    let built_in = String::from_utf8(built_in.stdout).unwrap();
    let added = String::from_utf8(reports(dir.path(), &["list"], false).stdout).unwrap();
    assert_eq!(
        added.lines().count(),
        built_in.lines().count() + 1,
        "{added}"
    );
    assert!(added.lines().any(|name| name == "extra_clients"), "{added}");
    let shown = reports(dir.path(), &["show", "clients", "--json"], false);
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["title"], "Our own clients list");

    let replaced = String::from_utf8(reports(dir.path(), &["list"], true).stdout).unwrap();
    assert_eq!(replaced, "clients\nextra_clients\n");
}

/// `quire reports export DIR` writes the built-in definitions, which read back as the
/// built-in catalog; it never overwrites a file.
#[test]
fn reports_export_writes_the_built_in_definitions_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exported");
    let first = reports(dir.path(), &["export", out.to_str().unwrap()], false);
    assert!(first.status.success(), "{first:?}");
    let written = std::fs::read_dir(&out).unwrap().count();
    let listed = reports(dir.path(), &["list"], false).stdout;
    assert_eq!(written, String::from_utf8(listed).unwrap().lines().count());
    let from_files = Command::new(env!("CARGO_BIN_EXE_quire"))
        .args(["reports", "list"])
        .env("QUIRE_REPORTS_DIR", &out)
        .env("QUIRE_REPORTS_REPLACE_BUILTIN", "true")
        .env_remove("QUIRE_CONFIG")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        from_files.stdout,
        reports(dir.path(), &["list"], false).stdout
    );

    std::fs::write(out.join("clients.toml"), CUSTOM).unwrap();
    let again = reports(dir.path(), &["export", out.to_str().unwrap()], false);
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    assert_eq!(
        std::fs::read_to_string(out.join("clients.toml")).unwrap(),
        CUSTOM
    );
}

/// With `--json`, `migrate`, `reports list` and `reports check` each print one JSON
/// document saying what their text says: the migrations applied now, the catalog, and
/// each definition's check with its error.
#[test]
fn migrate_and_reports_print_one_json_document_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let quire = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_quire"))
            .args(args)
            .env_clear()
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let parsed = |output: &std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{output:?}"))
    };

    let first = quire(&["migrate", "--json"]);
    assert!(first.status.success(), "{first:?}");
    let first = parsed(&first);
    assert_eq!(first["database"], "sqlite://quire-data/quire.db");
    assert_eq!(
        first["applied"][0],
        serde_json::json!({ "version": 1, "description": "state" })
    );
    let again = parsed(&quire(&["migrate", "--json"]));
    assert_eq!(again["applied"], serde_json::json!([]), "applied once");

    // A definition whose columns are not its query's, beside the built-in ones.
    std::fs::create_dir(dir.path().join("reports")).unwrap();
    std::fs::write(
        dir.path().join("reports/misnamed.toml"),
        CUSTOM
            .replace("\"clients\"\ntitle", "\"misnamed\"\ntitle")
            .replace("{ name = \"name\"", "{ name = \"nom\""),
    )
    .unwrap();
    let listed = quire(&["reports", "list", "--json"]);
    let listed = parsed(&listed);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|report| report["name"].as_str().unwrap())
        .collect();
    let text = String::from_utf8(quire(&["reports", "list"]).stdout).unwrap();
    assert_eq!(names, text.lines().collect::<Vec<_>>());
    assert!(names.contains(&"misnamed"), "{names:?}");
    assert_eq!(listed[0]["title"], "Accounts receivable detail", "{listed}");

    let seeded = quire(&["seed", "--tenants", "1", "--invoices", "1"]);
    assert!(seeded.status.success(), "{seeded:?}");
    let checked = quire(&["reports", "check", "--json"]);
    assert_eq!(checked.status.code(), Some(1), "{checked:?}");
    let checked = parsed(&checked);
    let checked = checked.as_array().unwrap();
    assert_eq!(checked.len(), names.len());
    for (check, name) in checked.iter().zip(&names) {
        assert_eq!(check["name"], *name);
        if *name == "misnamed" {
            assert_eq!(
                (&check["ok"], &check["error"]),
                (
                    &serde_json::json!(false),
                    &serde_json::json!(
                        "the query returns columns [name] but the definition declares [nom]"
                    )
                )
            );
        } else {
            assert_eq!(
                (&check["ok"], &check["error"]),
                (&serde_json::json!(true), &serde_json::Value::Null),
                "{name}"
            );
        }
    }
}

/// A subcommand's `--help` lists its own flags first, then the global ones once, under
/// their heading.
#[test]
fn help_lists_a_commands_own_flags_before_the_global_ones() {
    let output = Command::new(env!("CARGO_BIN_EXE_quire"))
        .args(["keys", "create", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    let heading = help
        .find("Global options")
        .expect("a heading for the global options");
    assert_eq!(help.matches("Global options").count(), 1, "{help}");
    assert!(help.find("--tenant <TENANT>").unwrap() < heading, "{help}");
    assert!(help.find("--database-url <").unwrap() > heading, "{help}");
    assert_eq!(help.matches("--redis-url <").count(), 1, "{help}");
}

/// Every global setting has a flag, an environment variable and a key of the config
/// file; every worker option has a flag, an environment variable and a key under the
/// file's `[work]`.
#[test]
fn every_setting_has_a_flag_an_environment_variable_and_a_file_key() {
    use clap::CommandFactory as _;
    let root = quire::cli::Cli::command();
    let settings: Vec<&clap::Arg> = root
        .get_arguments()
        // `--json` is how results print, and the file cannot name itself.
        .filter(|arg| arg.is_global_set() && !["json", "config"].contains(&arg.get_id().as_str()))
        .collect();
    assert!(settings.len() >= 20, "{} settings", settings.len());
    for arg in settings {
        let id = arg.get_id().as_str();
        assert!(arg.get_long().is_some(), "{id} has no flag");
        assert!(arg.get_env().is_some(), "{id} has no environment variable");
        let file = format!("{id} = 0");
        if let Err(error) = toml::from_str::<quire::settings::SettingsArgs>(&file) {
            assert!(
                !error.to_string().contains("unknown field"),
                "{id}: {error}"
            );
        }
    }
    let work = root.find_subcommand("work").unwrap();
    for arg in work.get_arguments().filter(|arg| !arg.is_global_set()) {
        let id = arg.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        assert!(
            arg.get_env().is_some(),
            "quire work --{id} has no environment variable"
        );
        let file = format!("[work]\n{id} = 0");
        if let Err(error) = toml::from_str::<quire::settings::SettingsArgs>(&file) {
            assert!(
                !error.to_string().contains("unknown field"),
                "[work] {id}: {error}"
            );
        }
    }
}

/// An error's causes are printed once each, even where an error's message already
/// quotes its source.
#[test]
fn an_error_names_each_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_quire"))
        .args(["queues", "list"])
        .env_remove("QUIRE_CONFIG")
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .env("QUIRE_LOG", "warn")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("Connection refused").count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: cannot reach Redis at REDIS_URL"),
        "{stderr}"
    );
}
