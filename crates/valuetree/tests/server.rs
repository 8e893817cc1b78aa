//! The server end to end: the real `valuetree serve` on 127.0.0.1:0, spoken to over HTTP.

mod common;
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
        let mut stream = TcpStream::connect(self.host()).expect("connect");
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.host()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(body.unwrap_or(""));
        stream.write_all(request.as_bytes()).expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
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
        (status, headers, body.to_string())
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
            "/api/people/P04",
            &[("Authorization", &format!("Bearer {token}"))],
        );
        assert_eq!(status, 200, "{record}");
        let record = json(&record);
        let recorded: std::collections::HashSet<String> = record["contributions"]
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
