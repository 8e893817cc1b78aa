//! The web UI in a real browser: headless Chromium (from Debian) driven through chromedriver,
//! against `valuetree serve --demo`, one journey per persona at a phone's width (360 px) and
//! at a desktop's, with axe-core checking every page the journeys show and a screenshot of
//! each written to `target/screenshots/{phone,desktop}/`.
//!
//! Switched on like the PostgreSQL suite: with `VALUETREE_TEST_BROWSER=1` (`.ci/run` sets it
//! and installs what it needs) a missing browser, driver or axe-core fails the test; without
//! it the test says it did not run.

use super::Server;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SWITCH: &str = "VALUETREE_TEST_BROWSER";

/// What the suite needs on the machine.
struct Tools {
    chromedriver: PathBuf,
    chromium: PathBuf,
    axe: String,
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// The tools, `None` when the suite is switched off; a switched-on suite without them fails.
fn tools() -> Option<Tools> {
    if !std::env::var(SWITCH).is_ok_and(|v| !v.is_empty() && v != "0") {
        eprintln!(
            "the browser suite was not run: set {SWITCH}=1 to run it (it needs `apt-get install \
             chromium chromium-driver fonts-noto-cjk` and `npm ci` in crates/valuetree/tests/browser; \
             .ci/run does both)"
        );
        return None;
    }
    let chromedriver = std::env::var_os("VALUETREE_CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| on_path("chromedriver"))
        .unwrap_or_else(|| {
            panic!("{SWITCH} is set but there is no chromedriver: apt-get install chromium-driver")
        });
    let chromium = std::env::var_os("VALUETREE_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| on_path("chromium"))
        .unwrap_or_else(|| {
            panic!("{SWITCH} is set but there is no chromium: apt-get install chromium")
        });
    let axe_path = manifest_dir().join("tests/browser/node_modules/axe-core/axe.min.js");
    let axe = std::fs::read_to_string(&axe_path).unwrap_or_else(|e| {
        panic!(
            "{SWITCH} is set but axe-core is missing ({}: {e}): run `npm ci` in crates/valuetree/tests/browser",
            axe_path.display()
        )
    });
    Some(Tools {
        chromedriver,
        chromium,
        axe,
    })
}

/// A chromedriver on a free port of 127.0.0.1, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(tools: &Tools, log: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new(&tools.chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).expect("driver log"))
            .spawn()
            .expect("start chromedriver");
        // Owned at once, so that a driver that never answers is still stopped.
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return driver;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("chromedriver did not start; its log is {}", log.display());
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser window of one width, signed in as one persona at a time; every page it shows is
/// screenshotted and checked by axe-core (and, in Chinese, for English interface words).
struct Browser<'t> {
    client: Client,
    base: String,
    width: &'static str,
    shots: PathBuf,
    axe: &'t str,
    seen: usize,
    problems: Vec<String>,
    /// The English interface strings, when the interface should be Chinese.
    english: Option<Vec<String>>,
}

fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else {
        format!("\"{text}\"")
    }
}

impl<'t> Browser<'t> {
    async fn open(
        driver: &Driver,
        tools: &'t Tools,
        base: &str,
        width: &'static str,
        pixels: u32,
    ) -> Browser<'t> {
        let mut caps = serde_json::Map::new();
        // A headless window is at least 500 px wide: the viewport of a phone is emulated.
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": tools.chromium.display().to_string(),
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--lang=en-GB",
                    "--window-size=1280,1600",
                ],
                "mobileEmulation": {
                    "deviceMetrics": { "width": pixels, "height": 1600, "pixelRatio": 1.0 },
                },
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("a Chromium session");
        // axe-core over the calibration board (thousands of rows at the demo's scale) can take
        // longer than Chromium's 30-second default on a slow machine.
        client
            .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                Some(std::time::Duration::from_secs(180)),
                None,
                None,
            ))
            .await
            .expect("the script timeout");
        let shots = manifest_dir().join("../../target/screenshots").join(width);
        std::fs::create_dir_all(&shots).expect("the screenshots folder");
        let browser = Browser {
            client,
            base: base.to_string(),
            width,
            shots,
            axe: &tools.axe,
            seen: 0,
            problems: Vec::new(),
            english: None,
        };
        browser.goto("/login").await;
        let inner = browser.run("return window.innerWidth;").await;
        assert_eq!(
            inner.as_u64(),
            Some(u64::from(pixels)),
            "the {width} window is {inner} px wide"
        );
        browser
    }

    async fn run(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }

    /// Goes to `path` and looks at the page.
    async fn visit(&mut self, path: &str, name: &str) {
        self.goto(path).await;
        self.look(name).await;
    }

    /// Screenshots the page, runs axe-core on it, and in Chinese checks its words.
    async fn look(&mut self, name: &str) {
        self.seen += 1;
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(self.shots.join(format!("{:02}-{name}.png", self.seen)), png)
            .expect("write the screenshot");
        self.run(&format!("{}\nreturn true;", self.axe)).await;
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] }).then(r => done(
                   r.violations
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at ' +
                          v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))));",
                Vec::new(),
            )
            .await
            .expect("axe-core ran");
        let url = self.client.current_url().await.map(|u| u.to_string());
        for violation in found.as_array().into_iter().flatten() {
            self.problems.push(format!(
                "{} {name} ({}): {}",
                self.width,
                url.as_deref().unwrap_or("?"),
                violation.as_str().unwrap_or_default()
            ));
        }
        if let Some(english) = &self.english {
            let texts = self
                .run(
                    "const out = []; const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
                     while (walk.nextNode()) { const t = walk.currentNode.data.trim(); if (t) out.push(t); }
                     return out;",
                )
                .await;
            assert_eq!(
                self.run("return document.documentElement.lang;").await,
                json!("zh-CN"),
                "{name}"
            );
            for shown in texts
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                for text in english {
                    let phrase = text.split_whitespace().count() >= 3;
                    if shown == text || (phrase && shown.contains(text.as_str())) {
                        self.problems.push(format!(
                            "{} {name}: the English {text:?} in the Chinese interface ({shown:?})",
                            self.width
                        ));
                    }
                }
            }
        }
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: no {css}: {e}", self.width))
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    async fn choose(&self, css: &str, value: &str) {
        self.find(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("{css} = {value}: {e}"));
    }

    /// Clicks and looks at the page the click leads to.
    async fn press(&mut self, css: &str, name: &str) {
        self.find(css).await.click().await.expect("click");
        self.settle().await;
        self.look(name).await;
    }

    /// Clicks what `xpath` finds and looks at the page the click leads to.
    async fn press_xpath(&mut self, xpath: &str, name: &str) {
        self.client
            .find(Locator::XPath(xpath))
            .await
            .unwrap_or_else(|e| panic!("{}: no {xpath}: {e}", self.width))
            .click()
            .await
            .expect("click");
        self.settle().await;
        self.look(name).await;
    }

    async fn settle(&self) {
        self.client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("body"))
            .await
            .expect("a page");
        for _ in 0..300 {
            if self.run("return document.readyState;").await == json!("complete") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for element in self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find all")
        {
            out.push(element.text().await.expect("text"));
        }
        out
    }

    async fn attr(&self, css: &str, name: &str) -> String {
        self.find(css)
            .await
            .attr(name)
            .await
            .expect("attribute")
            .unwrap_or_default()
    }

    async fn sign_in(&mut self, persona: &Persona) {
        self.goto("/login").await;
        if !self
            .client
            .find_all(Locator::Css("form[action='/logout']"))
            .await
            .expect("find")
            .is_empty()
        {
            self.find("form[action='/logout'] button")
                .await
                .click()
                .await
                .expect("sign out");
            self.settle().await;
        }
        self.look(&format!("sign-in-{}", persona.role)).await;
        self.fill("#username", &persona.username).await;
        self.fill("#password", &persona.password).await;
        self.press(
            "form[action='/login'] button[type=submit]",
            &format!("home-{}", persona.role),
        )
        .await;
        let heading = self.text("h1").await;
        assert!(
            heading.contains(&persona.name),
            "{} signed in as {}: {heading}",
            self.width,
            persona.role
        );
    }
}

/// A demo persona: its login and the person it is.
struct Persona {
    role: String,
    username: String,
    password: String,
    person_id: String,
    name: String,
}

fn personas(server: &Server) -> Vec<Persona> {
    server
        .logins
        .iter()
        .map(|(role, username, password)| {
            let cookie = server.login(username, password);
            let (_, me) = server.get("/api/me", &[("Cookie", &cookie)]);
            let me = super::json(&me);
            let person_id = me["person_id"].as_str().unwrap_or_default().to_string();
            let (_, record) =
                server.get(&format!("/api/people/{person_id}"), &[("Cookie", &cookie)]);
            let name = super::json(&record)["person"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            Persona {
                role: role.clone(),
                username: username.clone(),
                password: password.clone(),
                person_id,
                name,
            }
        })
        .collect()
}

fn persona<'p>(all: &'p [Persona], role: &str) -> &'p Persona {
    all.iter()
        .find(|p| p.role == role)
        .unwrap_or_else(|| panic!("no {role} persona"))
}

/// The journeys, in one browser window of one width.
async fn journeys(browser: &mut Browser<'_>, all: &[Persona], server: &Server) {
    let (employee, lead, manager, hr, admin) = (
        persona(all, "employee"),
        persona(all, "lead"),
        persona(all, "manager"),
        persona(all, "hr"),
        persona(all, "admin"),
    );
    let label = browser.width;

    // The lead's node, and what HR sponsors (a need or objective HR leads).
    browser.sign_in(lead).await;
    let led = browser
        .attr(
            "section[aria-labelledby=leads] > ul:first-of-type li a",
            "href",
        )
        .await;
    let node_id = led.trim_start_matches("/nodes/").to_string();
    assert!(!node_id.is_empty(), "the lead leads a node");
    browser.sign_in(hr).await;
    let sponsored = browser
        .attr(
            "section[aria-labelledby=leads] > ul:first-of-type li a",
            "href",
        )
        .await
        .trim_start_matches("/nodes/")
        .to_string();

    // The employee records a contribution on it and sees it on their tree.
    browser.sign_in(employee).await;
    browser.visit("/tree", "value-tree").await;
    browser.visit(&format!("/nodes/{node_id}"), "node").await;
    let description = format!("Load-tested the refund flow ({label})");
    browser.choose("#phase", "build").await;
    browser.fill("#effort", "2").await;
    browser.fill("#description", &description).await;
    browser
        .press(
            "form[action$='/contributions'] button[type=submit]",
            "node-recorded",
        )
        .await;
    assert!(
        browser
            .texts("table.contributions td")
            .await
            .contains(&description),
        "{label}: the contribution is on the node's page"
    );
    browser.visit("/", "home-after-recording").await;
    assert!(
        browser
            .texts("ul.tree li.mine > .id")
            .await
            .contains(&node_id),
        "{label}: {node_id} is on the employee's tree"
    );
    browser.visit("/reviews", "reviews").await;
    let reviews = browser_path(browser).await;
    browser
        .visit(
            &format!("{reviews}/people/{}", employee.person_id),
            "own-review",
        )
        .await;

    // The lead confirms it, then hands the node over.
    browser.sign_in(lead).await;
    browser
        .visit(&format!("/nodes/{node_id}"), "node-as-lead")
        .await;
    browser
        .press_xpath(
            &format!(
                "//tr[td[contains(., {})]]//button",
                xpath_literal(&description)
            ),
            "node-confirmed",
        )
        .await;
    let row = browser
        .texts("table.contributions tr")
        .await
        .into_iter()
        .find(|r| r.contains(&description))
        .expect("the row");
    assert!(row.contains("confirmed"), "{label}: {row}");
    // To a colleague who worked on it (not a persona: the employee's home stays theirs).
    let mut successor = None;
    for link in browser
        .client
        .find_all(Locator::Css("table.contributions td a[href^='/people/']"))
        .await
        .expect("the contributors")
    {
        let id = link.attr("href").await.expect("href").unwrap_or_default();
        let id = id.trim_start_matches("/people/").to_string();
        if all.iter().all(|p| p.person_id != id) {
            successor = Some((id, link.text().await.expect("name")));
            break;
        }
    }
    let (successor, successor_name) = successor.expect("a colleague on the node");
    browser.fill("#to_lead_id", &successor).await;
    browser
        .fill("#note", "Handing over after the load test")
        .await;
    browser
        .press(
            "form[action$='/hand-over'] button[type=submit]",
            "node-handed-over",
        )
        .await;
    assert!(
        browser.text("dl").await.contains(&successor_name),
        "{label}: {successor_name} leads {node_id} now"
    );

    // A flagpole: the employee raises it, the lead asks to join, the employee accepts, HR
    // (the lead of what it serves) links it into the tree.
    browser.sign_in(employee).await;
    browser.visit("/flagpoles", "flagpoles").await;
    let title = format!("Self-service refund status ({label})");
    browser.fill("#fp-title", &title).await;
    browser
        .fill("#fp-description", "Customers see where their refund is")
        .await;
    browser.choose("#fp-serves", &sponsored).await;
    browser.fill("#fp-roles", "tester").await;
    browser
        .press(
            "form[action='/flagpoles'] button[type=submit]",
            "flagpole-raised",
        )
        .await;
    browser.sign_in(lead).await;
    browser.visit("/flagpoles", "flagpoles-as-lead").await;
    let article = format!("//article[.//h2[contains(., {})]]", xpath_literal(&title));
    let flagpole_id = browser
        .client
        .find(Locator::XPath(&format!("{article}//h2")))
        .await
        .expect("the flagpole")
        .attr("id")
        .await
        .expect("id")
        .unwrap_or_default()
        .trim_start_matches("fp-")
        .to_string();
    browser
        .fill(&format!("#message-{flagpole_id}"), "I can test it")
        .await;
    browser
        .press_xpath(
            &format!("{article}//form[contains(@action, '/ask')]//button"),
            "flagpole-asked",
        )
        .await;
    browser.sign_in(employee).await;
    browser
        .press_xpath(
            &format!(
                "//ul[@class='join-requests']/li[contains(., {})]//form[input[@value='accepted']]/button",
                xpath_literal(&lead.name)
            ),
            "join-accepted",
        )
        .await;
    browser
        .visit(&format!("/nodes/{flagpole_id}"), "flagpole-node")
        .await;
    assert!(
        browser.text("main").await.contains(&lead.name),
        "{label}: {} is a member of the flagpole",
        lead.name
    );
    browser.sign_in(hr).await;
    browser.visit("/flagpoles", "flagpoles-as-sponsor").await;
    browser.fill(&format!("#weight-{flagpole_id}"), "0.1").await;
    browser
        .press_xpath(
            &format!("{article}//form[contains(@action, '/link')]//button"),
            "flagpole-linked",
        )
        .await;
    let linked = browser
        .client
        .find(Locator::XPath(&article))
        .await
        .expect("the flagpole")
        .text()
        .await
        .expect("text");
    assert!(linked.contains("in the value tree"), "{label}: {linked}");

    // The manager reads a report's record, from before they managed them.
    browser.sign_in(manager).await;
    let report = report_with_earlier_history(server, manager);
    browser
        .visit(&format!("/people/{}", report.0), "report-record")
        .await;
    let history = browser
        .texts("section[aria-labelledby=history] li.unit")
        .await;
    assert!(
        history.iter().any(|h| !h.contains(&manager.name))
            && history.iter().any(|h| h.contains(&manager.name)),
        "{label}: {}'s history shows the time before {} managed them: {history:?}",
        report.1,
        manager.name
    );
    assert!(
        !browser
            .texts("section[aria-labelledby=reviews] h3")
            .await
            .is_empty(),
        "{label}: the manager sees the report's reviews"
    );

    // HR calibrates the cycle taking ratings and overrides a score with a reason.
    browser.sign_in(hr).await;
    browser.visit("/cycles", "cycles").await;
    let board = browser.attr("ul.cycles li:last-child a", "href").await;
    browser.visit(&board, "calibration-board").await;
    if browser
        .text("form[action$='/phase'] span")
        .await
        .contains("review phase")
    {
        browser.choose("#phase", "calibration").await;
        browser
            .press("form[action$='/phase'] button", "board-calibration-phase")
            .await;
    }
    browser
        .press("form[action$='/calibrate'] button", "board-calibrated")
        .await;
    let person = browser
        .attr("table.proposed tbody tr:first-child a", "href")
        .await
        .trim_start_matches("/people/")
        .to_string();
    let reason = format!("Carried the refunds rework ({label})");
    browser.fill("#ov-person", &person).await;
    browser.fill("#ov-score", "4").await;
    browser.fill("#ov-reason", &reason).await;
    browser
        .press("#override button[type=submit]", "board-overridden")
        .await;
    assert!(
        browser.texts("table.overrides td").await.contains(&reason),
        "{label}: the override and its reason are on the board"
    );
    if label == "desktop" {
        copy_for_readme(browser, "calibration-board.png").await;
    }

    // HR reads the diagnostics: every page accessible at this width, the kept credit charted.
    for (path, name) in [
        ("/diagnostics", "diagnostics-kept"),
        ("/diagnostics/churn", "diagnostics-churn"),
        ("/diagnostics/collaboration", "diagnostics-collaboration"),
        ("/diagnostics/tree", "diagnostics-tree"),
        ("/diagnostics/ratings", "diagnostics-ratings"),
        ("/diagnostics/whatif", "diagnostics-whatif"),
    ] {
        browser.visit(path, name).await;
    }

    // The administrator uploads a CSV with a bad row: its error shows, nothing is imported.
    browser.sign_in(admin).await;
    browser.visit("/admin", "admin").await;
    let head_before = browser.text("section[aria-labelledby=ledger] p").await;
    let csv = std::env::temp_dir().join(format!("valuetree-browser-{label}-people.csv"));
    std::fs::write(
        &csv,
        "person_id,name,email,joined_on,left_on
P9999990,Ada Good,,2024-02-01,
P9999991,Bad Date,,2024-13-40,
",
    )
    .expect("the CSV");
    browser.choose("#kind", "people").await;
    browser
        .find("#file")
        .await
        .send_keys(&csv.display().to_string())
        .await
        .expect("choose the file");
    browser
        .press(
            "form[action='/admin/import'] button[type=submit]",
            "admin-upload-refused",
        )
        .await;
    let bad = browser.texts("table.bad-rows tbody tr").await;
    assert!(
        bad.len() == 1 && bad[0].starts_with('3'),
        "{label}: line 3 is named: {bad:?}"
    );
    assert_eq!(
        browser.text("section[aria-labelledby=ledger] p").await,
        head_before,
        "{label}: nothing was imported"
    );
    let _ = std::fs::remove_file(&csv);

    // The employee's pages in Chinese: no English interface string left.
    browser.sign_in(employee).await;
    if label == "desktop" {
        browser.visit("/", "home-for-readme").await;
        copy_for_readme(browser, "my-value-tree.png").await;
    }
    browser.press("a[href='/lang/zh-CN']", "zh-home").await;
    browser.english = Some(super::web::english_strings());
    for (path, name) in [
        ("/", "zh-home-again"),
        ("/tree", "zh-value-tree"),
        (&format!("/nodes/{node_id}") as &str, "zh-node"),
        ("/flagpoles", "zh-flagpoles"),
        ("/reviews", "zh-reviews"),
        ("/org", "zh-org"),
        ("/settings", "zh-settings"),
    ] {
        browser.visit(path, name).await;
    }
    browser.english = None;
    browser.press("a[href='/lang/en']", "back-to-english").await;
}

/// One of the manager's reports whose record began before the manager managed them: (id,
/// name).
fn report_with_earlier_history(server: &Server, manager: &Persona) -> (String, String) {
    let cookie = server.login(&manager.username, &manager.password);
    let (_, me) = server.get(
        &format!("/api/people/{}", manager.person_id),
        &[("Cookie", &cookie)],
    );
    let me = super::json(&me);
    let unit = me["placement"]["unit"]["unit_id"]
        .as_str()
        .unwrap_or_else(|| panic!("the manager's unit: {me}"))
        .to_string();
    let (_, members) = server.get(&format!("/api/units/{unit}"), &[("Cookie", &cookie)]);
    let members = super::json(&members);
    for member in members["members"].as_array().into_iter().flatten() {
        let id = member["person"]["person_id"].as_str().unwrap_or_default();
        if member["manager"]["person_id"].as_str() != Some(manager.person_id.as_str()) {
            continue;
        }
        let (_, record) = server.get(&format!("/api/people/{id}"), &[("Cookie", &cookie)]);
        let record = super::json(&record);
        let earlier = record["history"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["manager"]["person_id"].as_str() != Some(manager.person_id.as_str()));
        if earlier {
            let name = record["person"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            return (id.to_string(), name);
        }
    }
    panic!(
        "no report of {} with an earlier history in {unit}: {members}",
        manager.name
    );
}

/// Keeps the current page's screenshot as one of the README's pictures.
async fn copy_for_readme(browser: &Browser<'_>, file: &str) {
    let png = browser.client.screenshot().await.expect("a screenshot");
    let dir = manifest_dir().join("../../target/screenshots/readme");
    std::fs::create_dir_all(&dir).expect("the folder");
    std::fs::write(dir.join(file), png).expect("write");
}

#[test]
fn every_persona_walks_through_the_pages_in_chromium_at_a_phones_width_and_a_desktops() {
    let Some(tools) = tools() else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    let db = dir.path().join("demo.db").display().to_string();
    let server = Server::start(&db, &["--demo"], dir.path().join("server.log"));
    let all = personas(&server);
    let driver = Driver::start(&tools, &dir.path().join("chromedriver.log"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut problems = Vec::new();
    let mut pages = 0;
    for (width, pixels) in [("phone", 360), ("desktop", 1280)] {
        runtime.block_on(async {
            let mut browser = Browser::open(&driver, &tools, &server.url, width, pixels).await;
            journeys(&mut browser, &all, &server).await;
            pages += browser.seen;
            problems.append(&mut browser.problems);
            let _ = browser.client.close().await;
        });
    }
    assert!(
        problems.is_empty(),
        "{} problems on {pages} pages:\n{}",
        problems.len(),
        problems.join("\n")
    );
    eprintln!("browser suite: {pages} pages at two widths, screenshots in target/screenshots/");
}

/// The path of the page the browser is on (where a redirect led).
async fn browser_path(browser: &Browser<'_>) -> String {
    let url = browser.client.current_url().await.expect("url");
    url.path().trim_end_matches('/').to_string()
}
