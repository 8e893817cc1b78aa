//! What the end-to-end tests share: a fresh database of each backend, and running the real
//! binary on it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use tempfile::TempDir;

pub const FIXED_CLOCK: &str = "2025-01-15T09:00:00Z";

/// A fresh, empty database of one backend, removed when dropped.
pub struct Db {
    pub url: String,
    pg_admin: Option<(String, String)>,
    _dir: TempDir,
}

impl Db {
    pub fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = dir.path().join("test.db").display().to_string();
        Db {
            url,
            pg_admin: None,
            _dir: dir,
        }
    }

    pub fn postgres(admin_url: &str) -> Db {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "vt_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let mut admin = postgres::Client::connect(admin_url, postgres::NoTls).unwrap_or_else(|e| {
            panic!("VALUETREE_TEST_PG is set but PostgreSQL is unreachable at {admin_url}: {e}")
        });
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url, |(base, _)| base);
        Db {
            url: format!("{base}/{name}"),
            pg_admin: Some((admin_url.to_string(), name)),
            _dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    /// Runs raw SQL against the database, behind valuetree's back.
    pub fn tamper(&self, sql: &str) {
        if self.pg_admin.is_some() {
            let mut client =
                postgres::Client::connect(&self.url, postgres::NoTls).expect("connect");
            client.batch_execute(sql).expect("tamper sql");
        } else {
            let conn = rusqlite::Connection::open(&self.url).expect("open sqlite");
            conn.execute_batch(sql).expect("tamper sql");
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_valuetree"))
            .args(args)
            .env("VALUETREE_DB", &self.url)
            .env("VALUETREE_CLOCK", FIXED_CLOCK)
            .env_remove("VALUETREE_AS")
            .output()
            .expect("run valuetree")
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "valuetree {args:?} failed on {}:\nstdout:\n{}\nstderr:\n{}",
            self.url,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs and expects failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "valuetree {args:?} should have failed; stdout:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub fn head(&self) -> String {
        self.ok(&["head"]).trim().to_string()
    }

    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir().join(name);
        std::fs::write(&path, text).expect("write file");
        path.display().to_string()
    }

    pub fn with_examples(self) -> Db {
        self.ok(&["import", "dir", &examples()]);
        self
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.pg_admin
            && let Ok(mut admin) = postgres::Client::connect(admin_url, postgres::NoTls)
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

pub fn examples() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    root.canonicalize()
        .expect("examples/ exists")
        .display()
        .to_string()
}

/// Runs `test` on SQLite, and on PostgreSQL when configured.
pub fn each_backend(test: impl Fn(Db)) {
    test(Db::sqlite());
    match std::env::var("VALUETREE_TEST_PG") {
        Ok(url) if !url.is_empty() => test(Db::postgres(&url)),
        _ => eprintln!("VALUETREE_TEST_PG is not set: PostgreSQL part skipped"),
    }
}

impl Db {
    /// Runs with `input` on standard input and expects success; returns stdout.
    pub fn ok_with_input(&self, args: &[&str], input: &str) -> String {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_valuetree"))
            .args(args)
            .env("VALUETREE_DB", &self.url)
            .env("VALUETREE_CLOCK", FIXED_CLOCK)
            .env_remove("VALUETREE_AS")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run valuetree");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "valuetree {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
