//! `quire demo` as a user runs it: the real binary in an empty folder, with nothing but
//! Redis.

use std::process::Command;

fn demo(dir: &std::path::Path, redis_url: &str, prefix: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_quire"))
        .arg("demo")
        .current_dir(dir)
        .env_clear()
        .env("REDIS_URL", redis_url)
        .env("QUIRE_PREFIX", prefix)
        .env("QUIRE_BIND", "127.0.0.1:0")
        .env("QUIRE_LOG", "warn")
        .output()
        .expect("run quire demo")
}

#[test]
fn the_demo_builds_every_report_in_an_empty_folder_and_deduplicates_the_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("test-{}", uuid::Uuid::now_v7().simple());
    let output = demo(dir.path(), "redis://127.0.0.1:6379", &prefix);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(dir.path().join("quire-data/quire.db").exists());
    let completed = stdout
        .lines()
        .filter(|l| l.ends_with(": completed"))
        .count();
    assert_eq!(completed, 8, "{stdout}");
    assert_eq!(
        stdout.matches("completed (deduplicated)").count(),
        1,
        "{stdout}"
    );
    // Every file it names exists, with the size it states.
    let files: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("file "))
        .collect();
    assert_eq!(files.len(), 9);
    for line in files {
        let (path, rest) = line.trim().split_once(" (").unwrap();
        let bytes: u64 = rest
            .split(", ")
            .nth(1)
            .unwrap()
            .trim_end_matches(" bytes)")
            .parse()
            .unwrap();
        assert_eq!(
            std::fs::metadata(dir.path().join(path)).unwrap().len(),
            bytes,
            "{path}"
        );
    }
    assert_eq!(stdout.matches("download http://127.0.0.1:").count(), 9);

    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut conn = client.get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{{{prefix}}}*"))
        .query(&mut conn)
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(&keys).query(&mut conn).unwrap();
    }
}

#[test]
fn without_redis_the_demo_names_the_url_it_tried_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let output = demo(dir.path(), "redis://127.0.0.1:1", "unused");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("REDIS_URL redis://127.0.0.1:1"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence: {stderr}");
}
