//! The server end to end: the real `valuetree serve` on 127.0.0.1:0, spoken to over HTTP.

#[path = "server/browser.rs"]
mod browser;
mod common;
#[path = "server/oidc.rs"]
mod oidc;
#[path = "server/web.rs"]
mod web;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// A running `valuetree serve`, stopped when dropped.
struct Server {
    child: Child,
    url: String,
    logins: Vec<(String, String, String)>,
    log: std::path::PathBuf,
}

impl Server {
    fn start(db: &str, extra: &[&str], log: std::path::PathBuf) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_valuetree"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .env("VALUETREE_DB", db)
            .env("VALUETREE_CLOCK", FIXED_CLOCK)
            .env_remove("VALUETREE_AS")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start valuetree serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut logins = Vec::new();
        let mut url = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("a line");
            if let Some(rest) = line.strip_prefix("demo login: ") {
                let parts: Vec<&str> = rest.split(' ').collect();
                assert_eq!(parts.len(), 3, "{line}");
                logins.push((parts[0].into(), parts[1].into(), parts[2].into()));
            } else if let Some(rest) = line.strip_prefix("listening on ") {
                url = Some(rest.to_string());
                break;
            }
        }
        let url = url.unwrap_or_else(|| {
            panic!(
                "the server did not say where it listens; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        let server = Server {
            child,
            url,
            logins,
            log,
        };
        for _ in 0..100 {
            if server.get("/readyz", &[]).0 == 200 {
                return server;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the server never became ready");
    }

    fn host(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// One HTTP/1.1 request; returns (status, headers in lower case, body).
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> (u16, Vec<(String, String)>, String) {
        http_request(self.host(), method, path, headers, body)
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let (status, _, body) = self.request("GET", path, headers, None);
        (status, body)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Signs in; returns the `Cookie` header value.
    fn login(&self, username: &str, password: &str) -> String {
        let body = serde_json::json!({"username": username, "password": password}).to_string();
        let (status, headers, text) = self.request("POST", "/api/login", &[], Some(&body));
        assert_eq!(status, 200, "login of {username}: {text}");
        let cookie = headers
            .iter()
            .find(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.clone())
            .expect("a session cookie");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        cookie.split(';').next().unwrap_or_default().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request to `host`; returns (status, headers in lower case, body).
fn http_request(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(host).expect("connect");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        {
            request.push_str("Content-Type: application/json\r\n");
        }
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or(""));
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body)
}

/// The body of a chunked answer; a missing last chunk (an answer broken off) panics.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(size.trim(), 16).expect("a hexadecimal chunk size");
        if size == 0 {
            return body;
        }
        body.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn serve_demo_prints_a_fresh_login_for_each_persona_and_reuses_its_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("demo.db").display().to_string();
    let first = Server::start(&db, &["--demo"], dir.path().join("first.log"));
    let personas: Vec<&str> = first.logins.iter().map(|(p, _, _)| p.as_str()).collect();
    assert_eq!(personas, ["employee", "lead", "manager", "hr", "admin"]);
    for (persona, username, password) in &first.logins {
        let cookie = first.login(username, password);
        let (status, me) = first.get("/api/me", &[("Cookie", &cookie)]);
        assert_eq!(status, 200, "{me}");
        let me = json(&me);
        assert!(me["person_id"].is_string(), "{me}");
        let roles = me["roles"].to_string();
        match persona.as_str() {
            "hr" => assert!(roles.contains("\"hr\""), "{me}"),
            "admin" => assert!(roles.contains("\"admin\""), "{me}"),
            _ => assert!(!roles.contains("hr") && !roles.contains("admin"), "{me}"),
        }
    }
    let (old_user, old_password) = (first.logins[0].1.clone(), first.logins[0].2.clone());
    drop(first);
    // A restart reuses the demo and gives every persona a new password.
    let second = Server::start(&db, &["--demo"], dir.path().join("second.log"));
    assert_eq!(second.logins.len(), 5);
    assert_ne!(second.logins[0].2, old_password);
    let body = serde_json::json!({"username": old_user, "password": old_password}).to_string();
    assert_eq!(
        second.request("POST", "/api/login", &[], Some(&body)).0,
        401
    );
    drop(second);
    // A database that is not the demo is refused.
    let other = Db::sqlite().with_examples();
    let out = Command::new(env!("CARGO_BIN_EXE_valuetree"))
        .args(["serve", "--demo", "--addr", "127.0.0.1:0"])
        .env("VALUETREE_DB", &other.url)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not the demo"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_api_records_once_keeps_people_to_their_rights_and_logs_no_secret() {
    each_backend(|db| {
        let db = db.with_examples();
        db.ok(&["user", "add", "chloe", "--person", "P04"]);
        let password = "chloe's long password";
        db.ok_with_input(&["user", "passwd", "chloe"], &format!("{password}\n"));
        db.ok(&["user", "add", "kofi", "--person", "P11", "--role", "hr"]);
        db.ok_with_input(&["user", "passwd", "kofi"], "kofi's long password\n");
        let server = Server::start(&db.url, &[], db.dir().join("server.log"));
        let origin = server.url.clone();

        // Sign-in: a wrong password is refused without saying which part was wrong.
        let wrong = serde_json::json!({"username": "chloe", "password": "nope"}).to_string();
        let (status, _, text) = server.request("POST", "/api/login", &[], Some(&wrong));
        assert_eq!(status, 401, "{text}");
        assert!(text.contains("the username or password is wrong"), "{text}");
        let cookie = server.login("chloe", password);
        let me = json(&server.get("/api/me", &[("Cookie", &cookie)]).1);
        assert_eq!(me["person_id"], "P04");
        assert_eq!(me["username"], "chloe");

        // A contribution: recorded once, a retry answers with the same receipt, another
        // body under the same id is a conflict.
        let with_origin = [("Cookie", cookie.as_str()), ("Origin", origin.as_str())];
        let body = r#"{"contribution_id":"C-api-1","node_id":"INI3","phase":"build","date":"2025-01-10","effort":"2.5","description":"alt text for every product image"}"#;
        let (status, _, first) =
            server.request("POST", "/api/contributions", &with_origin, Some(body));
        assert_eq!(status, 201, "{first}");
        let first = json(&first);
        assert!(
            first["seq"].is_number() && first["hash"].is_string(),
            "{first}"
        );
        let (status, _, again) =
            server.request("POST", "/api/contributions", &with_origin, Some(body));
        assert_eq!(status, 200, "{again}");
        let again = json(&again);
        assert_eq!(
            (&again["seq"], &again["hash"]),
            (&first["seq"], &first["hash"])
        );
        let other = body.replace("\"2.5\"", "3");
        let (status, _, text) =
            server.request("POST", "/api/contributions", &with_origin, Some(&other));
        assert_eq!(status, 409, "{text}");
        // Someone else's work, an unknown field, no Origin: each refused with its reason.
        let for_ben = r#"{"person_id":"P03","node_id":"INI3","phase":"build","effort":1}"#;
        let (status, _, text) =
            server.request("POST", "/api/contributions", &with_origin, Some(for_ben));
        assert_eq!(status, 403, "{text}");
        assert_eq!(json(&text)["error"]["details"]["rule"], "own-work-only");
        let extra = r#"{"node_id":"INI3","phase":"build","effort":1,"hours":3}"#;
        let (status, _, text) =
            server.request("POST", "/api/contributions", &with_origin, Some(extra));
        assert_eq!(status, 400, "{text}");
        assert!(text.contains("unknown field `hours`"), "{text}");
        let bad_effort = r#"{"node_id":"INI3","phase":"build","effort":"a lot"}"#;
        let (status, _, text) =
            server.request("POST", "/api/contributions", &with_origin, Some(bad_effort));
        assert_eq!(status, 400, "{text}");
        assert!(
            text.contains("effort") && text.contains("not a number"),
            "{text}"
        );
        let (status, _, text) = server.request(
            "POST",
            "/api/contributions",
            &[("Cookie", cookie.as_str())],
            Some(body),
        );
        assert_eq!(status, 403, "{text}");
        assert_eq!(json(&text)["error"]["code"], "csrf");

        // Reads: the work is open, another person's private record and everyone's credit
        // are not.
        let (status, ben) = server.get("/api/people/P03", &[("Cookie", &cookie)]);
        assert_eq!(status, 200, "{ben}");
        assert!(json(&ben)["private"].is_null(), "{ben}");
        // Lists filter: Ben's contributions in discovery, and a node's from one person
        // after a date; the summaries beside them stay whole.
        let ids = |text: &str, list: &str| -> Vec<String> {
            json(text)[list]["items"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|c| c["contribution_id"].as_str().unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        let (status, text) = server.get(
            "/api/people/P03?phase=discover&confirmed=true",
            &[("Cookie", &cookie)],
        );
        assert_eq!(status, 200, "{text}");
        assert_eq!(ids(&text, "contributions"), ["C010"]);
        assert_eq!(json(&text)["work"], json(&ben)["work"]);
        let (status, text) = server.get(
            "/api/nodes/INI1?person_id=P02&from=2024-02-01&to=2024-12-31",
            &[("Cookie", &cookie)],
        );
        assert_eq!(status, 200, "{text}");
        assert_eq!(ids(&text, "contributions"), ["C002", "C005"]);
        let (status, text) = server.get(
            "/api/nodes/INI1?from=2024-12-31&to=2024-01-01",
            &[("Cookie", &cookie)],
        );
        assert_eq!(status, 400, "{text}");
        let (status, text) = server.get("/api/nodes/INI1?phase=dream", &[("Cookie", &cookie)]);
        assert_eq!(status, 400, "{text}");
        assert!(text.contains("phase"), "{text}");
        let (status, text) = server.get("/api/credit", &[("Cookie", &cookie)]);
        assert_eq!(status, 403, "{text}");
        assert_eq!(
            json(&text)["error"]["details"]["rule"],
            "organisation-wide-views-are-hr"
        );
        let (status, text) = server.get("/api/org?limit=501", &[("Cookie", &cookie)]);
        assert_eq!(status, 400, "{text}");
        let (status, text) = server.get("/api/org?limit=2", &[("Cookie", &cookie)]);
        assert_eq!(status, 200, "{text}");
        assert_eq!(
            json(&text)["people"]["items"].as_array().map(Vec::len),
            Some(2)
        );

        // HR reads Chloe's private record; Chloe sees who looked.
        let hr = server.login("kofi", "kofi's long password");
        let (status, record) = server.get("/api/people/P04", &[("Cookie", &hr)]);
        assert_eq!(status, 200, "{record}");
        assert_eq!(json(&record)["private"]["access"], "full", "{record}");
        let looked = (0..50)
            .map(|_| {
                std::thread::sleep(std::time::Duration::from_millis(50));
                server
                    .get("/api/people/P04/audit", &[("Cookie", &cookie)])
                    .1
            })
            .find(|audit| audit.contains("\"actor\":\"P11\""))
            .expect("Kofi's read is in Chloe's audit");
        assert!(looked.contains("private_record_read"), "{looked}");
        let (status, _) = server.get("/api/people/P03/audit", &[("Cookie", &cookie)]);
        assert_eq!(status, 403, "another person's audit is not Chloe's to read");

        // An API token: read-only may read, not write; revoked, it is unknown.
        let (status, _, made) = server.request(
            "POST",
            "/api/tokens",
            &with_origin,
            Some(r#"{"name":"calendar sync","scope":"read"}"#),
        );
        assert_eq!(status, 201, "{made}");
        let made = json(&made);
        let token = made["token"].as_str().expect("a token").to_string();
        let bearer = format!("Bearer {token}");
        let (status, me) = server.get("/api/me", &[("Authorization", &bearer)]);
        assert_eq!(
            (status, json(&me)["person_id"].clone()),
            (200, "P04".into())
        );
        let (status, _, text) = server.request(
            "POST",
            "/api/contributions",
            &[("Authorization", bearer.as_str())],
            Some(r#"{"node_id":"INI3","phase":"build","effort":1}"#),
        );
        assert_eq!(status, 403, "{text}");
        assert_eq!(json(&text)["error"]["code"], "token_scope");
        let token_id = made["token_info"]["token_id"].as_str().expect("an id");
        let (status, _, text) = server.request(
            "DELETE",
            &format!("/api/tokens/{token_id}"),
            &with_origin,
            None,
        );
        assert_eq!(status, 200, "{text}");
        assert_eq!(server.get("/api/me", &[("Authorization", &bearer)]).0, 401);

        // Signing out ends the session.
        let (status, _, _) = server.request("POST", "/api/logout", &with_origin, None);
        assert_eq!(status, 200);
        assert_eq!(server.get("/api/me", &[("Cookie", &cookie)]).0, 401);

        // Five wrong passwords from one address lock that username out for a while.
        for _ in 0..5 {
            server.request("POST", "/api/login", &[], Some(&wrong));
        }
        let (status, _, text) = server.request("POST", "/api/login", &[], Some(&wrong));
        assert_eq!(status, 429, "{text}");

        // Every line of the log has a request id; no secret is in any line.
        let log = server.log_text();
        let secret = cookie.split('=').nth(1).unwrap_or_default();
        for needle in [password, token.as_str(), secret] {
            assert!(!log.contains(needle), "a secret is in the log");
        }
        assert!(log.contains("request_id="), "{log}");
        drop(server);

        // The contribution is in the ledger, recorded by the person who signed in.
        let events = db.ok(&["export", "events"]);
        let line = events
            .lines()
            .find(|l| l.contains("C-api-1"))
            .expect("the contribution's event");
        assert_eq!(json(line)["actor"], "P04", "{line}");
        db.ok(&["verify"]);
    });
}

#[test]
fn every_documented_route_exists_and_an_undocumented_one_does_not() {
    let db = Db::sqlite().with_examples();
    let server = Server::start(&db.url, &[], db.dir().join("server.log"));
    let (status, text) = server.get("/api/openapi.json", &[]);
    assert_eq!(status, 200, "{text}");
    let document = json(&text);
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.len() > 40, "{} paths", paths.len());
    let mut operations = 0;
    for (path, methods) in paths {
        for (method, operation) in methods.as_object().expect("methods") {
            operations += 1;
            assert!(operation["summary"].is_string(), "{method} {path}");
            let concrete: String = path
                .split('/')
                .map(|part| if part.starts_with('{') { "x" } else { part })
                .collect::<Vec<_>>()
                .join("/");
            let body = matches!(method.as_str(), "post" | "put").then_some("{}");
            let (status, _, text) = server.request(&method.to_uppercase(), &concrete, &[], body);
            assert!(
                status != 405 && !text.contains("no such route"),
                "{method} {path} is documented but not served: {status} {text}"
            );
        }
    }
    assert!(operations >= 55, "{operations} operations");
    let (status, text) = server.get("/api/no-such-thing", &[]);
    assert_eq!(status, 404, "{text}");
    assert!(text.contains("no such route"), "{text}");
}

/// A write token for a new account of `person`, made on the command line.
fn write_token(db: &Db, username: &str, person: &str) -> String {
    db.ok(&["user", "add", username, "--person", person]);
    db.ok(&[
        "user", "token", username, "--name", "test", "--scope", "write",
    ])
    .trim()
    .to_string()
}

#[test]
fn an_administrator_streams_the_whole_ledger_and_the_export_is_recorded() {
    let db = Db::sqlite().with_examples();
    db.ok(&["user", "add", "backup", "--role", "admin"]);
    let token = db
        .ok(&[
            "user", "token", "backup", "--name", "nightly", "--scope", "read",
        ])
        .trim()
        .to_string();
    let employee = write_token(&db, "chloe", "P04");
    let server = Server::start(&db.url, &[], db.dir().join("server.log"));
    let head = |server: &Server| {
        let (_, text) = server.get(
            "/api/ledger/head",
            &[("Authorization", &format!("Bearer {token}"))],
        );
        json(&text)["seq"].as_i64().expect("a head")
    };
    let before = head(&server);
    let (status, text) = server.get(
        "/api/ledger/export",
        &[("Authorization", &format!("Bearer {employee}"))],
    );
    assert_eq!(status, 403, "{text}");
    let (status, headers, body) = server.request(
        "GET",
        "/api/ledger/export",
        &[("Authorization", &format!("Bearer {token}"))],
        None,
    );
    assert_eq!(status, 200);
    assert!(headers.contains(&("content-type".into(), "application/x-ndjson".into())));
    let seqs: Vec<i64> = body
        .lines()
        .map(|line| json(line)["seq"].as_i64().expect("each line is an event"))
        .collect();
    assert_eq!(
        seqs,
        (1..=before).collect::<Vec<_>>(),
        "every event, in order"
    );
    // The export is in the ledger (a refused one is not).
    assert_eq!(head(&server), before + 1);
    let last = db.ok(&["export", "events"]);
    assert!(
        last.lines()
            .last()
            .is_some_and(|l| l.contains("ledger_exported")),
        "{last}"
    );
}

#[test]
fn every_acknowledged_write_survives_a_kill_in_the_middle_of_a_stream() {
    each_backend(|db| {
        let db = db.with_examples();
        let token = write_token(&db, "chloe", "P04");
        let mut server = Server::start(&db.url, &[], db.dir().join("first.log"));
        let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let host = server.host().to_string();
        let clients: Vec<_> = (0..32)
            .map(|client| {
                let (acknowledged, stop, host, token) =
                    (acknowledged.clone(), stop.clone(), host.clone(), token.clone());
                std::thread::spawn(move || {
                    for i in 0.. {
                        if stop.load(std::sync::atomic::Ordering::SeqCst) {
                            break;
                        }
                        let id = format!("D-{client}-{i}");
                        let body = format!(
                            r#"{{"contribution_id":"{id}","node_id":"INI3","phase":"build","date":"2025-01-10","effort":1,"description":"load"}}"#
                        );
                        let request = format!(
                            "POST /api/contributions HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        let Ok(mut stream) = TcpStream::connect(&host) else {
                            break;
                        };
                        if stream.write_all(request.as_bytes()).is_err() {
                            break;
                        }
                        let mut response = String::new();
                        if stream.read_to_string(&mut response).is_err() {
                            break;
                        }
                        if response.starts_with("HTTP/1.1 201") {
                            if let Ok(mut acked) = acknowledged.lock() {
                                acked.push(id);
                            }
                        } else if response.is_empty() {
                            break;
                        }
                    }
                })
            })
            .collect();
        // Kill the server (SIGKILL) while the clients are writing.
        for _ in 0..200 {
            if acknowledged.lock().map_or(0, |a| a.len()) >= 150 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        server.child.kill().expect("kill the server");
        let _ = server.child.wait();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for client in clients {
            let _ = client.join();
        }
        let acknowledged = acknowledged.lock().map(|a| a.clone()).unwrap_or_default();
        assert!(
            acknowledged.len() >= 32,
            "only {} writes acknowledged",
            acknowledged.len()
        );
        eprintln!("{} writes acknowledged before the kill", acknowledged.len());
        drop(server);

        // Every acknowledged contribution is in the ledger, which verifies.
        db.ok(&["verify"]);
        let restarted = Server::start(&db.url, &[], db.dir().join("second.log"));
        let (status, record) = restarted.get(
            "/api/people/P04?limit=500",
            &[("Authorization", &format!("Bearer {token}"))],
        );
        assert_eq!(status, 200, "{record}");
        let record = json(&record);
        assert!(
            record["contributions"]["total"].as_u64() < Some(500),
            "{record}"
        );
        let recorded: std::collections::HashSet<String> = record["contributions"]["items"]
            .as_array()
            .expect("contributions")
            .iter()
            .filter_map(|c| c["contribution_id"].as_str().map(str::to_string))
            .collect();
        let lost: Vec<&String> = acknowledged
            .iter()
            .filter(|id| !recorded.contains(*id))
            .collect();
        assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    });
}

#[test]
fn two_servers_on_one_postgresql_database_share_sessions_and_writes() {
    let Ok(admin) = std::env::var("VALUETREE_TEST_PG") else {
        eprintln!("VALUETREE_TEST_PG is not set: skipped");
        return;
    };
    if admin.is_empty() {
        return;
    }
    let db = Db::postgres(&admin).with_examples();
    db.ok(&["user", "add", "chloe", "--person", "P04"]);
    db.ok_with_input(&["user", "passwd", "chloe"], "chloe's long password\n");
    let one = Server::start(&db.url, &[], db.dir().join("one.log"));
    let two = Server::start(&db.url, &[], db.dir().join("two.log"));
    let cookie = one.login("chloe", "chloe's long password");
    // The session made on one is valid on the other.
    let (status, me) = two.get("/api/me", &[("Cookie", &cookie)]);
    assert_eq!(status, 200, "{me}");
    // A write through two is seen through one within a second.
    let (status, _, text) = two.request(
        "POST",
        "/api/contributions",
        &[("Cookie", cookie.as_str()), ("Origin", two.url.as_str())],
        Some(r#"{"contribution_id":"C-two","node_id":"INI3","phase":"launch","date":"2025-01-12","effort":1}"#),
    );
    assert_eq!(status, 201, "{text}");
    let started = std::time::Instant::now();
    loop {
        let (_, node) = one.get("/api/nodes/INI3", &[("Cookie", &cookie)]);
        let (_, person) = one.get("/api/people/P04", &[("Cookie", &cookie)]);
        if node.contains("C-two") || person.contains("C-two") {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "the write through one server is not visible through the other"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Who calls, in the order of the matrix's columns. The subject of every row is Chloe
/// (P04): her current manager is P08 (since 2024-07-01), her former manager P10 (2023-09-01
/// to 2024-06-30), P09 leads INI3 where she and P12 contribute, P11 sits on the 2024 cycle's
/// committee, P05 holds `hr`, P07 holds `admin` (not `hr`), P06 is a colleague with no
/// relation to her record; the tokens are Chloe's; `service` is a service account without
/// roles.
const CALLERS: [&str; 13] = [
    "anonymous",
    "self",
    "stranger",
    "manager",
    "former",
    "lead",
    "peer",
    "committee",
    "hr",
    "admin",
    "read_token",
    "revoked",
    "service",
];

/// The expected status of each request for each caller, written out (not derived from the
/// code that enforces it; docs/security.md states the same in words).
const MATRIX: &[(&str, &str, Option<&str>, [u16; 13])] = &[
    //                                                         anon self strg mgr  fmr  lead peer cmte hr   adm  rtok rvk  svc
    (
        "GET",
        "/api/people/P04",
        None,
        [
            401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 200,
        ],
    ),
    (
        "GET",
        "/api/nodes/INI3",
        None,
        [
            401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 200,
        ],
    ),
    (
        "GET",
        "/api/org",
        None,
        [
            401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 200,
        ],
    ),
    (
        "GET",
        "/api/cycles/2024/record/P04",
        None,
        [
            401, 403, 403, 200, 200, 403, 403, 200, 200, 403, 403, 401, 403,
        ],
    ),
    (
        "GET",
        "/api/cycles/2024/feedback/P04",
        None,
        [
            401, 200, 403, 200, 200, 403, 403, 200, 200, 403, 200, 401, 403,
        ],
    ),
    (
        "GET",
        "/api/credit",
        None,
        [
            401, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403, 401, 403,
        ],
    ),
    (
        "GET",
        "/api/credit?person_id=P04",
        None,
        [
            401, 200, 403, 200, 403, 403, 403, 403, 200, 403, 200, 401, 403,
        ],
    ),
    (
        "GET",
        "/api/credit?person_id=P04&from=2024-01-01&to=2024-06-30",
        None,
        [
            401, 200, 403, 200, 200, 403, 403, 403, 200, 403, 200, 401, 403,
        ],
    ),
    (
        "GET",
        "/api/cycles/2024/session",
        None,
        [
            401, 403, 403, 403, 403, 403, 403, 200, 200, 403, 403, 401, 403,
        ],
    ),
    (
        "GET",
        "/api/cycles/2024/final",
        None,
        [
            401, 403, 403, 403, 403, 403, 403, 200, 200, 403, 403, 401, 403,
        ],
    ),
    (
        "GET",
        "/api/people/P04/audit",
        None,
        [
            401, 200, 403, 403, 403, 403, 403, 403, 403, 200, 200, 401, 403,
        ],
    ),
    (
        "GET",
        "/api/ledger/export",
        None,
        [
            401, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403, 401, 403,
        ],
    ),
    (
        "GET",
        "/api/ledger/verify",
        None,
        [
            401, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403, 401, 403,
        ],
    ),
    (
        "POST",
        "/api/contributions",
        Some(
            r#"{"contribution_id":"M-{who}","person_id":"P04","node_id":"INI3","phase":"build","date":"2025-01-10","effort":1}"#,
        ),
        [
            401, 201, 403, 403, 403, 403, 403, 403, 403, 201, 403, 401, 403,
        ],
    ),
    (
        "POST",
        "/api/contributions/K-{who}/confirm",
        Some("{}"),
        [
            401, 403, 403, 403, 403, 201, 403, 403, 403, 403, 403, 401, 403,
        ],
    ),
    (
        "POST",
        "/api/cycles",
        Some(r#"{"cycle_id":"X-{who}","starts_on":"2025-01-01","ends_on":"2025-06-30"}"#),
        [
            401, 403, 403, 403, 403, 403, 403, 403, 201, 403, 403, 401, 403,
        ],
    ),
    (
        // The ordinal model, named in the body; HR runs cycles.
        "POST",
        "/api/cycles/2024/calibrate",
        Some(r#"{"model":"ordinal"}"#),
        [
            401, 403, 403, 403, 403, 403, 403, 403, 201, 403, 403, 401, 403,
        ],
    ),
    (
        "POST",
        "/api/roles/grant",
        Some(r#"{"person_id":"P03","role":"hr"}"#),
        [
            401, 403, 403, 403, 403, 403, 403, 403, 403, 201, 403, 401, 403,
        ],
    ),
    (
        // Irreversible: HR and admin together (no caller here holds both), or the operator.
        "POST",
        "/api/people/P04/erase",
        Some(r#"{"reason":"request 9"}"#),
        [
            401, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401, 403,
        ],
    ),
    (
        "GET",
        "/api/diagnose/kept-credit",
        None,
        [
            401, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403, 401, 403,
        ],
    ),
    (
        "GET",
        "/api/diagnose/churn",
        None,
        [
            401, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403, 401, 403,
        ],
    ),
    (
        "GET",
        "/api/diagnose/ratings/2024",
        None,
        [
            401, 403, 403, 403, 403, 403, 403, 200, 200, 403, 403, 401, 403,
        ],
    ),
    (
        "POST",
        "/api/whatif",
        Some("action,subject_id,target_id,date\nchange_manager,P06,P07,2025-02-01\n"),
        [
            401, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403, 401, 403,
        ],
    ),
];

#[test]
fn every_endpoint_answers_each_role_and_relation_as_the_matrix_says() {
    each_backend(|db| {
        let db = db.with_examples();
        db.ok(&["role", "grant", "P05", "hr"]);
        db.ok(&["role", "grant", "P07", "admin"]);
        db.ok(&["calibrate", "--cycle", "2024"]);
        let people = [
            ("self", "P04"),
            ("stranger", "P06"),
            ("manager", "P08"),
            ("former", "P10"),
            ("lead", "P09"),
            ("peer", "P12"),
            ("committee", "P11"),
            ("hr", "P05"),
            ("admin", "P07"),
        ];
        for (who, person) in people {
            db.ok(&["user", "add", who, "--person", person]);
            db.ok_with_input(
                &["user", "passwd", who],
                &format!("{who}'s long password\n"),
            );
        }
        let read_token = db
            .ok(&["user", "token", "self", "--name", "read", "--scope", "read"])
            .trim()
            .to_string();
        let revoked = db
            .ok(&[
                "user", "token", "self", "--name", "gone", "--scope", "write",
            ])
            .trim()
            .to_string();
        let revoked_id = db
            .ok(&["user", "tokens", "self"])
            .lines()
            .find(|l| l.contains(" gone "))
            .and_then(|l| l.split_whitespace().next())
            .expect("the token's id")
            .to_string();
        db.ok(&["user", "revoke", "self", &revoked_id]);
        db.ok(&["user", "add", "service"]);
        let service = db
            .ok(&[
                "user", "token", "service", "--name", "sync", "--scope", "write",
            ])
            .trim()
            .to_string();
        let server = Server::start(&db.url, &[], db.dir().join("server.log"));
        let origin = server.url.clone();
        let mut credentials: Vec<Vec<(String, String)>> = Vec::new();
        for who in CALLERS {
            let headers = match who {
                "anonymous" => Vec::new(),
                "read_token" => vec![("Authorization".into(), format!("Bearer {read_token}"))],
                "revoked" => vec![("Authorization".into(), format!("Bearer {revoked}"))],
                "service" => vec![("Authorization".into(), format!("Bearer {service}"))],
                person => {
                    let cookie = server.login(person, &format!("{person}'s long password"));
                    vec![("Cookie".into(), cookie), ("Origin".into(), origin.clone())]
                }
            };
            credentials.push(headers);
        }
        // A contribution of Chloe's per caller, for the confirmation row.
        let admin = &credentials[CALLERS.iter().position(|c| *c == "admin").unwrap_or(0)];
        let admin: Vec<(&str, &str)> = admin
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        for who in CALLERS {
            let body = format!(
                r#"{{"contribution_id":"K-{who}","person_id":"P04","node_id":"INI3","phase":"design","date":"2025-01-11","effort":2}}"#
            );
            let (status, _, text) =
                server.request("POST", "/api/contributions", &admin, Some(&body));
            assert_eq!(status, 201, "{text}");
        }
        let mut wrong = Vec::new();
        for (method, path, body, expected) in MATRIX {
            for (column, who) in CALLERS.iter().enumerate() {
                let headers: Vec<(&str, &str)> = credentials[column]
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                let path = path.replace("{who}", who);
                let body = body.map(|b| b.replace("{who}", who));
                let (status, _, text) = server.request(method, &path, &headers, body.as_deref());
                if status != expected[column] {
                    wrong.push(format!(
                        "{method} {path} as {who}: {status}, expected {}: {}",
                        expected[column],
                        text.chars().take(200).collect::<String>()
                    ));
                }
                if status == 403 {
                    let error = json(&text);
                    assert!(
                        error["error"]["details"]["rule"].is_string()
                            || ["csrf", "token_scope"]
                                .contains(&error["error"]["code"].as_str().unwrap_or("")),
                        "a refusal names its rule: {method} {path} as {who}: {text}"
                    );
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "{} answers differ from the matrix:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
        // A model that does not exist is refused, naming those that do.
        let hr: Vec<(&str, &str)> = credentials[8]
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let (status, _, text) = server.request(
            "POST",
            "/api/cycles/2024/calibrate",
            &hr,
            Some(r#"{"model":"median"}"#),
        );
        assert_eq!(status, 400, "{text}");
        assert!(text.contains("ordinal-plain"), "{text}");
        // What of Chloe's record each may see.
        let expected_private = [
            ("self", "own"),
            ("manager", "full"),
            ("former", "period"),
            ("hr", "full"),
            ("read_token", "own"),
        ];
        for (column, who) in CALLERS.iter().enumerate() {
            if ["anonymous", "revoked"].contains(who) {
                continue;
            }
            let headers: Vec<(&str, &str)> = credentials[column]
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let (_, _, text) = server.request("GET", "/api/people/P04", &headers, None);
            let access = json(&text)["private"]["access"]
                .as_str()
                .map(str::to_string);
            let expected = expected_private
                .iter()
                .find(|(w, _)| w == who)
                .map(|(_, a)| a.to_string());
            assert_eq!(
                access, expected,
                "the private part of P04's record as {who}"
            );
        }
        // HR reading their own record sees their feedback as anyone does, not every rating.
        let hr = &credentials[CALLERS.iter().position(|c| *c == "hr").unwrap_or(0)];
        let hr: Vec<(&str, &str)> = hr.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let (_, _, own) = server.request("GET", "/api/people/P05", &hr, None);
        assert_eq!(json(&own)["private"]["access"], "own", "{own}");
    });
}

#[test]
fn malformed_requests_get_a_4xx_naming_what_is_wrong_never_a_500() {
    let db = Db::sqlite().with_examples();
    db.ok(&["role", "grant", "P05", "hr"]);
    db.ok(&["role", "grant", "P07", "admin"]);
    let mut tokens = Vec::new();
    for (who, person) in [("hr", "P05"), ("admin", "P07"), ("chloe", "P04")] {
        tokens.push(write_token(&db, who, person));
    }
    let server = Server::start(&db.url, &[], db.dir().join("server.log"));
    let document = json(&server.get("/api/openapi.json", &[]).1);
    let huge = "x".repeat(200_000);
    let bodies = [
        "".to_string(),
        "not json".to_string(),
        "[]".to_string(),
        "null".to_string(),
        "{}".to_string(),
        r#"{"unknown_field": 1}"#.to_string(),
        r#"{"node_id": 12, "phase": true, "effort": "many", "date": "2024-13-45"}"#.to_string(),
        r#"{"person_id": "NOBODY", "node_id": "NOWHERE", "phase": "build", "effort": -1, "date": "9999-12-31"}"#.to_string(),
        format!(r#"{{"node_id": "{huge}", "phase": "build", "effort": 1}}"#),
        r#"{"username": "", "password": ""}"#.to_string(),
        r#"{"score": "NaN", "ratee_id": "P04", "relationship": "peer", "dimension": "results"}"#.to_string(),
        "{\"title\": \"\\u0000\"}".to_string(),
    ];
    let odd_ids = [
        "x",
        "%00",
        "..%2F..%2Fetc",
        "9999999999999999999999",
        &huge[..3000],
    ];
    let mut failures = Vec::new();
    for (path, methods) in document["paths"].as_object().expect("paths") {
        for method in methods.as_object().expect("methods").keys() {
            for id in odd_ids {
                let concrete: String = path
                    .split('/')
                    .map(|part| if part.starts_with('{') { id } else { part })
                    .collect::<Vec<_>>()
                    .join("/");
                for token in &tokens {
                    let bearer = format!("Bearer {token}");
                    let headers = [("Authorization", bearer.as_str())];
                    let queries = [
                        "",
                        "?as_of=yesterday&limit=-1&offset=x&from=2024-02-30&explain=maybe",
                    ];
                    for query in queries {
                        let target = format!("{concrete}{query}");
                        let tries: Vec<Option<&str>> = if matches!(method.as_str(), "post" | "put")
                        {
                            bodies.iter().map(|b| Some(b.as_str())).collect()
                        } else {
                            vec![None]
                        };
                        for body in tries {
                            let (status, _, text) =
                                server.request(&method.to_uppercase(), &target, &headers, body);
                            if status >= 500 || status == 0 {
                                failures.push(format!(
                                    "{method} {} -> {status}: {}",
                                    target.chars().take(120).collect::<String>(),
                                    text.chars().take(200).collect::<String>()
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} server errors:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(server.get("/healthz", &[]).0, 200, "the server is still up");
}

#[test]
fn a_configuration_file_sets_what_flags_and_environment_leave_unset() {
    let db = Db::sqlite().with_examples();
    db.ok(&["user", "add", "chloe", "--person", "P04"]);
    db.ok_with_input(&["user", "passwd", "chloe"], "chloe's long password\n");
    let config = db.write(
        "valuetree.toml",
        "public_url = \"https://valuetree.example.org\"\nsession_days = 1\nlog = \"debug\"\n",
    );
    let server = Server::start(&db.url, &["--config", &config], db.dir().join("server.log"));
    // The public URL is https: the cookie is Secure and lives a day; changes must come from
    // that origin, not from the address the server listens on.
    let body = r#"{"username":"chloe","password":"chloe's long password"}"#;
    let (status, headers, text) = server.request("POST", "/api/login", &[], Some(body));
    assert_eq!(status, 200, "{text}");
    let cookie = headers
        .iter()
        .find(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    assert!(
        cookie.contains("Secure") && cookie.contains("Max-Age=86400"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap_or_default().to_string();
    let change = r#"{"node_id":"INI3","phase":"build","effort":1}"#;
    let local = server.url.clone();
    let (status, _, _) = server.request(
        "POST",
        "/api/contributions",
        &[("Cookie", session.as_str()), ("Origin", local.as_str())],
        Some(change),
    );
    assert_eq!(
        status, 403,
        "the listening address is not the public origin"
    );
    let (status, _, text) = server.request(
        "POST",
        "/api/contributions",
        &[
            ("Cookie", session.as_str()),
            ("Origin", "https://valuetree.example.org"),
        ],
        Some(change),
    );
    assert_eq!(status, 201, "{text}");
    // A flag wins over the file.
    drop(server);
    let flagged = Server::start(
        &db.url,
        &["--config", &config, "--public-url", "http://localhost:9"],
        db.dir().join("flagged.log"),
    );
    let (_, headers, _) = flagged.request("POST", "/api/login", &[], Some(body));
    let cookie = headers
        .iter()
        .find(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    assert!(!cookie.contains("Secure"), "{cookie}");
    // An unknown key in the file is refused by name.
    let bad = db.write("bad.toml", "listen = \"127.0.0.1:1\"\n");
    let out = Command::new(env!("CARGO_BIN_EXE_valuetree"))
        .args(["serve", "--config", &bad, "--addr", "127.0.0.1:0"])
        .env("VALUETREE_DB", &db.url)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown field `listen`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_password_change_ends_the_other_sessions_and_a_disabled_account_is_shut_out() {
    let db = Db::sqlite().with_examples();
    db.ok(&["user", "add", "chloe", "--person", "P04"]);
    db.ok_with_input(&["user", "passwd", "chloe"], "chloe's long password\n");
    let token = db
        .ok(&[
            "user", "token", "chloe", "--name", "sync", "--scope", "read",
        ])
        .trim()
        .to_string();
    let server = Server::start(&db.url, &[], db.dir().join("server.log"));
    let here = server.login("chloe", "chloe's long password");
    let elsewhere = server.login("chloe", "chloe's long password");
    let origin = server.url.clone();
    let with = |cookie: &str, body: &str| {
        server
            .request(
                "POST",
                "/api/password",
                &[("Cookie", cookie), ("Origin", origin.as_str())],
                Some(body),
            )
            .0
    };
    // The current password is asked again, and a short new one is refused.
    assert_eq!(
        with(
            &here,
            r#"{"current_password":"wrong one","new_password":"a new long password"}"#
        ),
        401
    );
    assert_eq!(
        with(
            &here,
            r#"{"current_password":"chloe's long password","new_password":"short"}"#
        ),
        422
    );
    assert_eq!(
        with(
            &here,
            r#"{"current_password":"chloe's long password","new_password":"a new long password"}"#
        ),
        200
    );
    assert_eq!(
        server.get("/api/me", &[("Cookie", &here)]).0,
        200,
        "this session stays"
    );
    assert_eq!(
        server.get("/api/me", &[("Cookie", &elsewhere)]).0,
        401,
        "the other one ends"
    );
    let old = r#"{"username":"chloe","password":"chloe's long password"}"#;
    assert_eq!(server.request("POST", "/api/login", &[], Some(old)).0, 401);
    server.login("chloe", "a new long password");
    // Disabled: sessions end, tokens stop working, sign-in is refused.
    let bearer = format!("Bearer {token}");
    assert_eq!(server.get("/api/me", &[("Authorization", &bearer)]).0, 200);
    db.ok(&["user", "disable", "chloe"]);
    assert_eq!(server.get("/api/me", &[("Cookie", &here)]).0, 401);
    assert_eq!(server.get("/api/me", &[("Authorization", &bearer)]).0, 401);
    let new = r#"{"username":"chloe","password":"a new long password"}"#;
    assert_eq!(server.request("POST", "/api/login", &[], Some(new)).0, 401);
    // The account list says so.
    let audit = db.ok(&["user", "list", "--format", "json"]);
    assert!(audit.contains("\"disabled\": true"), "{audit}");
}

#[test]
fn the_diagnostics_over_http_are_the_command_lines_and_follow_new_work() {
    let db = Db::sqlite().with_examples();
    db.ok(&["role", "grant", "P05", "hr"]);
    let token = write_token(&db, "dan", "P05");
    let auth = format!("Bearer {token}");
    let headers = [("Authorization", auth.as_str())];
    let cli = json(&db.ok(&["diagnose", "kept-credit", "--format", "json"]));
    let server = Server::start(&db.url, &[], db.dir().join("server.log"));
    let kept_of = |report: &serde_json::Value, id: &str| {
        report["people"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["person_id"] == id))
            .map(|p| p["kept"].as_f64().unwrap_or(f64::NAN))
    };
    let (status, text) = server.get("/api/diagnose/kept-credit", &headers);
    assert_eq!(status, 200, "{text}");
    let http = json(&text);
    // The server answers from its warm engine; the command line from a fresh one.
    for p in cli.as_array().into_iter().flatten() {
        let id = p["person_id"].as_str().unwrap_or_default();
        let (a, b) = (p["kept"].as_f64().unwrap_or(f64::NAN), kept_of(&http, id));
        assert!(
            b.is_some_and(|b| (a - b).abs() < 1e-6),
            "{id}: {a} vs {b:?}"
        );
    }
    // New work after an outcome: recorded, then seen by the next diagnostic.
    let body = r#"{"contribution_id":"K-late","person_id":"P05","node_id":"INI3","phase":"operate","date":"2024-11-01","effort":40}"#;
    let (status, _, text) = server.request("POST", "/api/contributions", &headers, Some(body));
    assert_eq!(status, 201, "{text}");
    let (status, text) = server.get("/api/diagnose/kept-credit", &headers);
    assert_eq!(status, 200, "{text}");
    let after = json(&text);
    assert!(
        kept_of(&after, "P05") != kept_of(&http, "P05"),
        "Dan's work on Hana's flagpole changes what he keeps: {}",
        after["people"]
    );
    let (status, text) = server.get("/api/diagnose/churn?as_of=2025-01-15", &headers);
    assert_eq!(status, 200, "{text}");
    assert_eq!(json(&text)["as_of"], "2025-01-15");
    let plan = "action,subject_id,target_id,date\nchange_manager,P06,P07,2025-02-01\n";
    let (status, _, text) = server.request("POST", "/api/whatif", &headers, Some(plan));
    assert_eq!(status, 200, "{text}");
    assert_eq!(json(&text)["manager_changes"][0]["to_manager_id"], "P07");
    let bad = "action,subject_id,target_id,date\nchange_manager,P06,NOBODY,2025-02-01\n";
    let (status, _, text) = server.request("POST", "/api/whatif", &headers, Some(bad));
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("NOBODY"), "{text}");
}
