//! The web pages over HTTP, read with an HTML parser: sign-in, my value tree, the language.

use super::Server;
use crate::common::*;
use scraper::{Html, Selector};

const FORM: &str = "application/x-www-form-urlencoded";

fn select<'a>(page: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    let selector = Selector::parse(css).unwrap_or_else(|e| panic!("{css}: {e:?}"));
    page.select(&selector).collect()
}

fn text(element: &scraper::ElementRef<'_>) -> String {
    element.text().collect::<String>()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The example organisation with Chloe (P04) able to sign in, and its server.
fn chloe_server() -> (Db, Server) {
    let db = Db::sqlite().with_examples();
    db.ok(&["user", "add", "chloe", "--person", "P04"]);
    db.ok_with_input(&["user", "passwd", "chloe"], "chloe's long password\n");
    let server = Server::start(&db.url, &[], db.dir().join("server.log"));
    (db, server)
}

#[test]
fn a_person_signs_in_with_the_form_and_lands_on_their_value_tree() {
    let (_db, server) = chloe_server();
    let origin = server.url.clone();
    // Not signed in: the home page sends to the sign-in form.
    let (status, headers, _) = server.request("GET", "/", &[], None);
    assert_eq!(
        (status, header(&headers, "location")),
        (303, Some("/login"))
    );
    let (status, _, body) = server.request("GET", "/login", &[], None);
    assert_eq!(status, 200);
    let form = Html::parse_document(&body);
    assert_eq!(select(&form, "html[lang=en]").len(), 1);
    for field in ["username", "password"] {
        assert_eq!(
            select(&form, &format!("label[for={field}]")).len(),
            1,
            "{field} has a label"
        );
        assert_eq!(
            select(&form, &format!("form[method=post] input#{field}")).len(),
            1
        );
    }
    assert!(
        select(&form, "a[href='/auth/oidc/login']").is_empty(),
        "no single sign-on here"
    );

    // A wrong password: the form again, the username kept, the reason beside it.
    let wrong = "username=chloe&password=guess";
    let (status, _, body) = server.request(
        "POST",
        "/login",
        &[("Content-Type", FORM), ("Origin", &origin)],
        Some(wrong),
    );
    assert_eq!(status, 401);
    let again = Html::parse_document(&body);
    assert_eq!(
        select(&again, "input#username")[0].value().attr("value"),
        Some("chloe")
    );
    let alert = select(&again, "[role=alert]");
    assert!(text(&alert[0]).contains("wrong"), "{body}");

    // From another site: refused.
    let right = "username=chloe&password=chloe%27s+long+password";
    let (status, _, _) = server.request(
        "POST",
        "/login",
        &[("Content-Type", FORM), ("Origin", "https://evil.example")],
        Some(right),
    );
    assert_eq!(status, 403);

    let (status, headers, _) = server.request(
        "POST",
        "/login",
        &[("Content-Type", FORM), ("Origin", &origin)],
        Some(right),
    );
    assert_eq!((status, header(&headers, "location")), (303, Some("/")));
    let cookie = header(&headers, "set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();

    // My value tree: Chloe's work on INI2 and INI3, under the objectives and the customer
    // needs they serve; INI3 serves both needs and is drawn under each.
    let (status, _, body) = server.request("GET", "/", &[("Cookie", &cookie)], None);
    assert_eq!(status, 200, "{body}");
    let home = Html::parse_document(&body);
    assert!(text(&select(&home, "h1")[0]).contains("Chloe Martin"));
    let roots: Vec<String> = select(&home, "ul.tree > li > .id")
        .iter()
        .map(text)
        .collect();
    assert_eq!(roots, ["NEED1", "NEED2"]);
    let mine: Vec<String> = select(&home, "li.mine > .id").iter().map(text).collect();
    assert_eq!(mine, ["INI3", "INI2", "INI3"]);
    let under_obj2: Vec<String> = select(&home, "ul.tree > li > ul > li > ul > li > .id")
        .iter()
        .map(text)
        .collect();
    assert_eq!(under_obj2, ["INI3", "INI2", "INI3"]);
    let share = select(&home, "li.mine .share")
        .iter()
        .map(text)
        .collect::<Vec<_>>()
        .join(" | ");
    assert!(share.contains("2 contributions, effort 11"), "{share}");
    // Her credit, and how it grew: the chart ends at the figure.
    let credit = text(&select(&home, "#credit + p.figure")[0]);
    let chart = select(&home, "figure.chart svg[role=img]");
    assert_eq!(chart.len(), 1, "{body}");
    let summary = chart[0].value().attr("aria-label").unwrap_or_default();
    assert!(
        summary.contains(&format!("to {credit} on")),
        "{summary} vs {credit}"
    );
    assert_eq!(select(&home, "figure.chart path.series").len(), 1);
    // Her record across reorganisations: every unit she was in, oldest first.
    assert!(!select(&home, "ol.timeline li").is_empty(), "{body}");

    // Signing out needs the page's origin, then ends the session.
    let (status, _, _) = server.request("POST", "/logout", &[("Cookie", &cookie)], None);
    assert_eq!(status, 403);
    let (status, headers, _) = server.request(
        "POST",
        "/logout",
        &[("Cookie", &cookie), ("Origin", &origin)],
        None,
    );
    assert_eq!(
        (status, header(&headers, "location")),
        (303, Some("/login"))
    );
    let (status, _, _) = server.request("GET", "/", &[("Cookie", &cookie)], None);
    assert_eq!(status, 303);
}

#[test]
fn the_pages_speak_chinese_to_a_browser_that_prefers_it_or_a_person_who_chose_it() {
    let (_db, server) = chloe_server();
    let (_, _, body) = server.request(
        "GET",
        "/login",
        &[("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.5")],
        None,
    );
    let page = Html::parse_document(&body);
    assert_eq!(select(&page, "html[lang=zh-CN]").len(), 1);
    assert_eq!(text(&select(&page, "label[for=username]")[0]), "用户名");
    assert_eq!(text(&select(&page, "h1")[0]), "登录");
    // The switch keeps the choice over the browser's.
    let (status, headers, _) = server.request("GET", "/lang/en", &[], None);
    assert_eq!(status, 303);
    let chosen = header(&headers, "set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a language cookie")
        .to_string();
    let (_, _, body) = server.request(
        "GET",
        "/login",
        &[("Accept-Language", "zh-CN"), ("Cookie", &chosen)],
        None,
    );
    let page = Html::parse_document(&body);
    assert_eq!(text(&select(&page, "h1")[0]), "Sign in");

    // A language kept in my settings follows me to another browser (a new session, no
    // cookie, a browser preferring English); this browser's switch still wins here.
    let chloe = sign_in(&server, "chloe", "chloe's long password");
    let (status, headers, _) = post_form(&server, &chloe, "/settings/language", "language=zh-CN");
    assert_eq!(
        (status, header(&headers, "location")),
        (303, Some("/settings#language"))
    );
    assert!(header(&headers, "set-cookie").is_some_and(|c| c.starts_with("vt_lang=zh-CN")));
    let elsewhere = sign_in(&server, "chloe", "chloe's long password");
    let english = [("Accept-Language", "en-GB,en;q=0.9")];
    let home = |cookie: &str| {
        let (_, _, body) =
            server.request("GET", "/settings", &[english[0], ("Cookie", cookie)], None);
        Html::parse_document(&body)
    };
    let page = home(&elsewhere);
    assert_eq!(select(&page, "html[lang=zh-CN]").len(), 1);
    assert_eq!(
        select(&page, "input[name=language][checked]")[0]
            .value()
            .attr("value"),
        Some("zh-CN")
    );
    assert_eq!(
        select(&home(&format!("{elsewhere}; vt_lang=en")), "html[lang=en]").len(),
        1
    );
    // Forgotten: the browser decides again.
    let (_, headers, _) = post_form(&server, &elsewhere, "/settings/language", "language=");
    assert!(header(&headers, "set-cookie").is_some_and(|c| c.contains("Max-Age=0")));
    assert_eq!(select(&home(&elsewhere), "html[lang=en]").len(), 1);
}

/// Posts a form from the server's own pages, signed in with `cookie`.
fn post_form(
    server: &Server,
    cookie: &str,
    path: &str,
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let origin = server.url.clone();
    server.request(
        "POST",
        path,
        &[
            ("Cookie", cookie),
            ("Content-Type", FORM),
            ("Origin", &origin),
        ],
        Some(body),
    )
}

/// Signs `username` in through the form; returns the `Cookie` header value.
fn sign_in(server: &Server, username: &str, password: &str) -> String {
    let origin = server.url.clone();
    let body = format!(
        "username={username}&password={}",
        password.replace(' ', "+")
    );
    let (status, headers, text) = server.request(
        "POST",
        "/login",
        &[("Content-Type", FORM), ("Origin", &origin)],
        Some(&body),
    );
    assert_eq!(status, 303, "{text}");
    header(&headers, "set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string()
}

#[test]
fn a_person_records_work_on_a_node_page_and_its_lead_confirms_it_there() {
    let (db, server) = chloe_server();
    db.ok(&["user", "add", "hana", "--person", "P09"]);
    db.ok_with_input(&["user", "passwd", "hana"], "hana's long password\n");
    let origin = server.url.clone();
    let chloe = sign_in(&server, "chloe", "chloe's long password");
    let (status, _, body) = server.request("GET", "/nodes/INI3", &[("Cookie", &chloe)], None);
    assert_eq!(status, 200, "{body}");
    let node = Html::parse_document(&body);
    assert_eq!(text(&select(&node, "h1")[0]), "Accessible storefront");
    for field in ["phase", "date", "effort", "description"] {
        assert_eq!(
            select(&node, &format!("form#record label[for={field}]")).len(),
            1
        );
    }
    assert!(
        select(&node, "form[action$='/confirm']").is_empty(),
        "Chloe leads nothing here"
    );

    // A bad effort: the form again with what was typed and the reason beside the field.
    let bad = "phase=build&date=2025-01-10&effort=lots&description=Colour+contrast+audit";
    let (status, _, body) = server.request(
        "POST",
        "/nodes/INI3/contributions",
        &[
            ("Cookie", &chloe),
            ("Content-Type", FORM),
            ("Origin", &origin),
        ],
        Some(bad),
    );
    assert_eq!(status, 422, "{body}");
    let again = Html::parse_document(&body);
    assert!(text(&select(&again, "#effort-error")[0]).contains("lots"));
    assert_eq!(
        select(&again, "input#effort")[0].value().attr("value"),
        Some("lots")
    );
    assert_eq!(
        text(&select(&again, "textarea#description")[0]),
        "Colour contrast audit"
    );
    assert_eq!(select(&again, "option[value=build][selected]").len(), 1);

    // Without the page's origin: refused, nothing recorded.
    let good = "phase=build&date=2025-01-10&effort=2.5&description=Colour+contrast+audit";
    let (status, _, _) = server.request(
        "POST",
        "/nodes/INI3/contributions",
        &[("Cookie", &chloe), ("Content-Type", FORM)],
        Some(good),
    );
    assert_eq!(status, 403);
    let (status, headers, _) = server.request(
        "POST",
        "/nodes/INI3/contributions",
        &[
            ("Cookie", &chloe),
            ("Content-Type", FORM),
            ("Origin", &origin),
        ],
        Some(good),
    );
    assert_eq!(
        (status, header(&headers, "location")),
        (303, Some("/nodes/INI3?recorded=1#record"))
    );
    let (_, _, body) = server.request("GET", "/nodes/INI3?recorded=1", &[("Cookie", &chloe)], None);
    let shown = Html::parse_document(&body);
    assert_eq!(
        text(&select(&shown, "#record [role=status]")[0]),
        "Recorded."
    );

    // Hana leads INI3: she sees Chloe's new contribution first, with a Confirm button, and
    // confirms.
    let hana = sign_in(&server, "hana", "hana's long password");
    let (_, _, body) = server.request("GET", "/nodes/INI3", &[("Cookie", &hana)], None);
    let node = Html::parse_document(&body);
    let rows = select(&node, "table.contributions tbody tr");
    assert!(
        text(&rows[0]).contains("Colour contrast audit"),
        "newest first"
    );
    let audit = rows
        .iter()
        .find(|row| text(row).contains("Colour contrast audit"))
        .expect("Chloe's contribution is listed");
    let confirm = Selector::parse("form[action$='/confirm']").expect("a selector");
    let action = audit
        .select(&confirm)
        .next()
        .and_then(|f| f.value().attr("action"))
        .expect("a Confirm button for the lead")
        .to_string();
    let (status, headers, _) = server.request(
        "POST",
        &action,
        &[("Cookie", &hana), ("Origin", &origin)],
        None,
    );
    assert_eq!(status, 303);
    assert!(header(&headers, "location").is_some_and(|l| l.starts_with("/nodes/INI3#c-")));
    let (_, _, body) = server.request("GET", "/nodes/INI3", &[("Cookie", &chloe)], None);
    let node = Html::parse_document(&body);
    let row = select(&node, "table.contributions tbody tr")
        .into_iter()
        .find(|row| text(row).contains("Colour contrast audit"))
        .expect("still listed");
    assert!(text(&row).contains("confirmed") && !text(&row).contains("not confirmed"));
    // Hana hands INI3 over to Chloe: Chloe leads it now, Hana's confirm buttons are gone.
    let (status, _, _) = server.request(
        "POST",
        "/nodes/INI3/hand-over",
        &[
            ("Cookie", &hana),
            ("Content-Type", FORM),
            ("Origin", &origin),
        ],
        Some("to_lead_id=P04&note=Chloe+carries+the+design+system+on"),
    );
    assert_eq!(status, 303);
    let (_, _, body) = server.request("GET", "/nodes/INI3", &[("Cookie", &hana)], None);
    let node = Html::parse_document(&body);
    assert!(text(&select(&node, "dl.facts dd")[0]).contains("Chloe Martin"));
    assert!(body.contains("Chloe carries the design system on"));
    assert!(select(&node, "form#hand-over").is_empty());
    // Chloe cannot confirm her own: the app refuses whatever the page would show.
    let (status, _, _) = server.request(
        "POST",
        &action,
        &[("Cookie", &chloe), ("Origin", &origin)],
        None,
    );
    assert_eq!(status, 403);
}

#[test]
fn a_person_page_shows_another_record_as_far_as_the_viewer_may_see_it() {
    let (db, server) = chloe_server();
    // Grace (P08) manages Chloe since 2024-07; Ben (P03) is a colleague with no say over her.
    for (user, person) in [("grace", "P08"), ("ben", "P03")] {
        db.ok(&["user", "add", user, "--person", person]);
        db.ok_with_input(
            &["user", "passwd", user],
            &format!("{user}'s long password\n"),
        );
    }
    let grace = sign_in(&server, "grace", "grace's long password");
    let (status, _, body) = server.request("GET", "/people/P04", &[("Cookie", &grace)], None);
    assert_eq!(status, 200, "{body}");
    let page = Html::parse_document(&body);
    assert!(text(&select(&page, "h1")[0]).contains("Chloe Martin"));
    assert_eq!(text(&select(&page, "h2#tree")[0]), "What their work served");
    // Her whole history, including the unit and manager before Grace, and the nodes she
    // joined, on one timeline.
    let history = select(&page, "ol.timeline li.unit")
        .iter()
        .map(text)
        .collect::<Vec<_>>();
    assert_eq!(history.len(), 2, "{history:?}");
    assert!(history[0].contains("manager"), "{history:?}");
    let joined = select(&page, "ol.timeline li.joined")
        .iter()
        .map(text)
        .collect::<Vec<_>>();
    assert!(
        joined
            .iter()
            .any(|j| j.contains("joined Accessible storefront")),
        "{joined:?}"
    );
    // Ivan's shows the hand-over of Checkout redesign to Dan when Mobile Lab was wound down.
    let (_, _, body) = server.request("GET", "/people/P10", &[("Cookie", &grace)], None);
    let handovers = select(&Html::parse_document(&body), "ol.timeline li.handover")
        .iter()
        .map(text)
        .collect::<Vec<_>>();
    assert!(
        handovers
            .iter()
            .any(|h| h.contains("handed over to Dan Kowalski") && h.contains("Checkout redesign")),
        "{handovers:?}"
    );
    let ratings = select(&page, "ul.ratings li")
        .iter()
        .map(text)
        .collect::<Vec<_>>();
    assert!(
        ratings.iter().any(|r| r.contains("Strong second half")),
        "her manager sees the ratings: {ratings:?}"
    );
    let ben = sign_in(&server, "ben", "ben's long password");
    let (status, _, body) = server.request("GET", "/people/P04", &[("Cookie", &ben)], None);
    assert_eq!(status, 200);
    let page = Html::parse_document(&body);
    assert!(
        !select(&page, "ul.tree").is_empty(),
        "her work is open to everyone"
    );
    assert!(
        select(&page, "ul.ratings, #reviews, #credit").is_empty(),
        "{body}"
    );
    assert!(!body.contains("Strong second half"));
    // Chloe sees that Grace looked (the entry is written behind the read), not Ben.
    let chloe = sign_in(&server, "chloe", "chloe's long password");
    let readers = (0..50)
        .map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let (_, _, body) = server.request("GET", "/", &[("Cookie", &chloe)], None);
            select(&Html::parse_document(&body), "ul.readers li")
                .iter()
                .map(text)
                .collect::<Vec<_>>()
        })
        .find(|readers| !readers.is_empty())
        .expect("Grace's read is listed");
    assert!(
        readers.iter().all(|r| r.contains("Grace Kim")),
        "{readers:?}"
    );
    // An unknown person is a page saying so, not a crash.
    let (status, _, body) = server.request("GET", "/people/P99", &[("Cookie", &ben)], None);
    assert_eq!(status, 404);
    assert!(body.contains("P99"), "{body}");
}

#[test]
fn the_org_page_shows_the_organisation_on_a_date_and_what_changed_between_two() {
    let (_db, server) = chloe_server();
    let chloe = sign_in(&server, "chloe", "chloe's long password");
    let (status, _, body) =
        server.request("GET", "/org?as_of=2024-03-01", &[("Cookie", &chloe)], None);
    assert_eq!(status, 200, "{body}");
    let page = Html::parse_document(&body);
    assert_eq!(
        select(&page, "input#as_of")[0].value().attr("value"),
        Some("2024-03-01")
    );
    let chloe_line = select(&page, "section.unit li")
        .into_iter()
        .map(|li| text(&li))
        .find(|t| t.contains("Chloe Martin"))
        .expect("Chloe is employed then");
    assert!(
        chloe_line.contains("Ivan Petrov"),
        "managed by P10 then: {chloe_line}"
    );
    let (status, _, body) = server.request(
        "GET",
        "/org?from=2024-06-01&to=2024-08-01",
        &[("Cookie", &chloe)],
        None,
    );
    assert_eq!(status, 200);
    let page = Html::parse_document(&body);
    let moved = select(&page, "ul.moved li")
        .iter()
        .map(text)
        .collect::<Vec<_>>();
    assert!(
        moved.iter().any(|m| m.starts_with("Chloe Martin")),
        "the reorganisation of July 2024 moved Chloe: {moved:?}"
    );
    // Within those dates, one reorganisation: Mobile Lab dissolved, four people moved.
    let dates: Vec<String> = select(&page, "section.reorg h3").iter().map(text).collect();
    assert_eq!(dates, ["1 Jul 2024"]);
    let reorg = text(&select(&page, "section.reorg")[0]);
    assert!(reorg.contains("Units dissolved: Mobile Lab"), "{reorg}");
    assert!(reorg.contains("4 people changed unit"), "{reorg}");
    let rows: Vec<String> = select(&page, "section.reorg tbody tr")
        .iter()
        .map(text)
        .collect();
    assert!(
        rows.iter().any(|r| r.contains("Chloe Martin")
            && r.contains("Mobile Lab")
            && r.contains("Payments team")
            && r.contains("Ivan Petrov → Grace Kim")),
        "{rows:?}"
    );
    // Without dates: every reorganisation, newest first.
    let (_, _, body) = server.request("GET", "/org", &[("Cookie", &chloe)], None);
    let page = Html::parse_document(&body);
    let dates: Vec<String> = select(&page, "section.reorg h3").iter().map(text).collect();
    assert_eq!(
        dates,
        ["1 Jul 2024", "15 Apr 2024", "1 Sep 2023", "1 Jan 2023"]
    );
    let (status, _, body) = server.request(
        "GET",
        "/api/org/reorganisations?from=2024-01-01",
        &[("Cookie", &chloe)],
        None,
    );
    assert_eq!(status, 200, "{body}");
    let api: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(api["total"], 2);
    assert_eq!(api["items"][0]["units_dissolved"][0]["name"], "Mobile Lab");
    let (status, _, body) =
        server.request("GET", "/org?as_of=yesterday", &[("Cookie", &chloe)], None);
    assert_eq!(status, 400);
    assert!(body.contains("yesterday"), "{body}");
}

#[test]
fn my_settings_make_and_revoke_a_token_and_change_my_password() {
    let (_db, server) = chloe_server();
    let origin = server.url.clone();
    let chloe = sign_in(&server, "chloe", "chloe's long password");
    let post = |path: &str, body: &str| {
        server.request(
            "POST",
            path,
            &[
                ("Cookie", &chloe),
                ("Content-Type", FORM),
                ("Origin", &origin),
            ],
            Some(body),
        )
    };
    let (status, _, body) = post(
        "/settings/tokens",
        "name=calendar+sync&scope=read&days=soon",
    );
    assert_eq!(status, 422);
    assert!(text(&select(&Html::parse_document(&body), "#token_days-error")[0]).contains("soon"));
    let (status, _, body) = post("/settings/tokens", "name=calendar+sync&scope=read&days=30");
    assert_eq!(status, 201, "{body}");
    let page = Html::parse_document(&body);
    let secret = text(&select(&page, "#new-token")[0]);
    let bearer = format!("Bearer {secret}");
    let (status, _, me) = server.request("GET", "/api/me", &[("Authorization", &bearer)], None);
    assert_eq!(status, 200, "{me}");
    // Shown once: the page afterwards lists the token, never its secret.
    let (_, _, later) = server.request("GET", "/settings", &[("Cookie", &chloe)], None);
    assert!(!later.contains(&secret));
    let revoke = select(&Html::parse_document(&later), "ul.tokens form")[0]
        .value()
        .attr("action")
        .expect("a revoke button")
        .to_string();
    let (status, _, _) = post(&revoke, "");
    assert_eq!(status, 303);
    let (status, _, _) = server.request("GET", "/api/me", &[("Authorization", &bearer)], None);
    assert_eq!(status, 401);

    // The password: the current one is checked, a short new one is refused beside its field.
    let (status, _, body) = post(
        "/settings/password",
        "current_password=guess&new_password=a+new+long+password",
    );
    assert_eq!(status, 401);
    assert_eq!(
        select(&Html::parse_document(&body), "#current_password-error").len(),
        1
    );
    let (status, _, body) = post(
        "/settings/password",
        "current_password=chloe%27s+long+password&new_password=short",
    );
    assert_eq!(status, 422);
    assert_eq!(
        select(&Html::parse_document(&body), "#new_password-error").len(),
        1
    );
    let (status, _, body) = post(
        "/settings/password",
        "current_password=chloe%27s+long+password&new_password=a+new+long+password",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(select(&Html::parse_document(&body), "p.done").len(), 1);
    // This session goes on; the new password signs in.
    assert_eq!(
        server.request("GET", "/", &[("Cookie", &chloe)], None).0,
        200
    );
    sign_in(&server, "chloe", "a new long password");
}

#[test]
fn a_lead_finds_what_waits_on_them_at_home_and_answers_it_there() {
    let (db, server) = chloe_server();
    for (user, person) in [("hana", "P09"), ("ben", "P03")] {
        db.ok(&["user", "add", user, "--person", person]);
        db.ok_with_input(
            &["user", "passwd", user],
            &format!("{user}'s long password\n"),
        );
    }
    let origin = server.url.clone();
    // Ben asks to join INI3, which Hana leads.
    let ben = sign_in(&server, "ben", "ben's long password");
    let (status, _, answer) = server.request(
        "POST",
        "/api/nodes/INI3/join-requests",
        &[("Cookie", &ben), ("Origin", &origin)],
        Some(r#"{"role":"tester","message":"I can run the accessibility audits"}"#),
    );
    assert_eq!(status, 201, "{answer}");
    let hana = sign_in(&server, "hana", "hana's long password");
    let (_, _, body) = server.request("GET", "/", &[("Cookie", &hana)], None);
    let home = Html::parse_document(&body);
    // Ben's unconfirmed contribution C007 at INI1 (handed over to Hana in September 2024).
    let waiting = select(&home, "ul.to-confirm li")
        .iter()
        .map(text)
        .collect::<Vec<_>>();
    assert!(
        waiting.iter().any(|w| w.contains("Monitoring dashboards")),
        "{waiting:?}"
    );
    let join = select(&home, "ul.join-requests li")
        .iter()
        .map(text)
        .collect::<Vec<_>>();
    assert_eq!(join.len(), 1, "{join:?}");
    assert!(
        join[0].contains("Ben Okafor") && join[0].contains("tester"),
        "{join:?}"
    );
    // She accepts: Ben is a member of INI3, and the request is no longer waiting.
    let (status, headers, _) = server.request(
        "POST",
        "/nodes/INI3/join-requests/P03",
        &[
            ("Cookie", &hana),
            ("Content-Type", FORM),
            ("Origin", &origin),
        ],
        Some("status=accepted"),
    );
    assert_eq!(
        (status, header(&headers, "location")),
        (303, Some("/#tasks"))
    );
    let (_, _, body) = server.request("GET", "/nodes/INI3", &[("Cookie", &hana)], None);
    assert!(body.contains("Ben Okafor · tester"), "{body}");
    let (_, _, body) = server.request("GET", "/", &[("Cookie", &hana)], None);
    assert!(select(&Html::parse_document(&body), "ul.join-requests li").is_empty());
    // Chloe leads nothing: only the reviews asked of her wait on her.
    let chloe = sign_in(&server, "chloe", "chloe's long password");
    let (_, _, body) = server.request("GET", "/", &[("Cookie", &chloe)], None);
    let home = Html::parse_document(&body);
    let waiting: Vec<String> = select(&home, "section.tasks h3").iter().map(text).collect();
    assert_eq!(waiting, ["7 reviews to write in Annual review 2024"]);
}

#[test]
fn anyone_raises_a_flagpole_and_colleagues_ask_to_join_it() {
    let (db, server) = chloe_server();
    db.ok(&["user", "add", "ben", "--person", "P03"]);
    db.ok_with_input(&["user", "passwd", "ben"], "ben's long password\n");
    let origin = server.url.clone();
    let chloe = sign_in(&server, "chloe", "chloe's long password");
    let (status, _, body) = server.request("GET", "/flagpoles", &[("Cookie", &chloe)], None);
    assert_eq!(status, 200);
    let page = Html::parse_document(&body);
    let listed = select(&page, "article.flagpole h2")
        .iter()
        .map(text)
        .collect::<Vec<_>>();
    assert!(
        listed.iter().any(|t| t.contains("Accessible storefront")),
        "{listed:?}"
    );
    assert!(!select(&page, "select#fp-serves option[value=NEED1]").is_empty());
    let (status, headers, body) = server.request(
        "POST",
        "/flagpoles",
        &[("Cookie", &chloe), ("Content-Type", FORM), ("Origin", &origin)],
        Some("title=Gift+cards&description=Let+shoppers+give+credit&serves_id=NEED2&roles=tester%2C+writer"),
    );
    assert_eq!(
        (status, header(&headers, "location")),
        (303, Some("/flagpoles")),
        "{body}"
    );
    let ben = sign_in(&server, "ben", "ben's long password");
    let (_, _, body) = server.request("GET", "/flagpoles", &[("Cookie", &ben)], None);
    let page = Html::parse_document(&body);
    let gift = select(&page, "article.flagpole")
        .into_iter()
        .find(|a| text(a).contains("Gift cards"))
        .expect("the new flagpole is listed");
    let about = text(&gift);
    assert!(
        about.contains("Chloe Martin") && about.contains("not linked yet"),
        "{about}"
    );
    assert!(
        about.contains("sponsor Maya Chen"),
        "NEED2's lead links it: {about}"
    );
    let ask = Selector::parse("form[action$='/ask']").expect("a selector");
    let action = gift
        .select(&ask)
        .next()
        .and_then(|f| f.value().attr("action"))
        .expect("an ask-to-join form")
        .to_string();
    let (status, _, _) = server.request(
        "POST",
        &action,
        &[
            ("Cookie", &ben),
            ("Content-Type", FORM),
            ("Origin", &origin),
        ],
        Some("role=writer&message=I+write+the+help+pages"),
    );
    assert_eq!(status, 303);
    // The request waits on Chloe, the flagpole's lead.
    let (_, _, body) = server.request("GET", "/", &[("Cookie", &chloe)], None);
    let join = select(&Html::parse_document(&body), "ul.join-requests li")
        .iter()
        .map(text)
        .collect::<Vec<_>>();
    assert!(
        join.len() == 1 && join[0].contains("Ben Okafor") && join[0].contains("Gift cards"),
        "{join:?}"
    );
    // Maya leads NEED2, the need it serves: she links it into the tree.
    db.ok(&["user", "add", "maya", "--person", "P01"]);
    db.ok_with_input(&["user", "passwd", "maya"], "maya's long password\n");
    let maya = sign_in(&server, "maya", "maya's long password");
    let (_, _, body) = server.request("GET", "/flagpoles", &[("Cookie", &maya)], None);
    let page = Html::parse_document(&body);
    let link = select(&page, "form.link")
        .into_iter()
        .find_map(|f| f.value().attr("action").map(str::to_string))
        .expect("the sponsor may link it");
    assert!(
        select(
            &Html::parse_document(
                &server
                    .request("GET", "/flagpoles", &[("Cookie", &ben)], None)
                    .2
            ),
            "form.link"
        )
        .is_empty(),
        "only the sponsor sees the link form"
    );
    let (status, _, _) = server.request(
        "POST",
        &link,
        &[
            ("Cookie", &maya),
            ("Content-Type", FORM),
            ("Origin", &origin),
        ],
        Some("parent_id=NEED2&weight=0.2"),
    );
    assert_eq!(status, 303);
    let (_, _, body) = server.request("GET", "/flagpoles", &[("Cookie", &maya)], None);
    let about = select(&Html::parse_document(&body), "article.flagpole")
        .into_iter()
        .map(|a| text(&a))
        .find(|t| t.contains("Gift cards"))
        .expect("still open");
    assert!(about.contains("in the value tree"), "{about}");

    // A flagpole without a title is refused with the reason, what was typed kept.
    let (status, _, body) = server.request(
        "POST",
        "/flagpoles",
        &[
            ("Cookie", &chloe),
            ("Content-Type", FORM),
            ("Origin", &origin),
        ],
        Some("title=&description=Kept+text&serves_id=NEED2&roles="),
    );
    assert!((400..500).contains(&status), "{status}");
    let page = Html::parse_document(&body);
    assert_eq!(select(&page, "#raise-error").len(), 1, "{body}");
    assert_eq!(
        text(&select(&page, "textarea#fp-description")[0]),
        "Kept text"
    );
}

/// The English interface strings without arguments (from the catalogue the server ships).
pub(super) fn english_strings() -> Vec<String> {
    let catalogue = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/src/web/en.ftl"),
    )
    .expect("the English catalogue");
    catalogue
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('#'))
        .filter_map(|l| l.split_once(" = ").map(|(_, text)| text.trim().to_string()))
        .filter(|text| !text.contains('{') && text.chars().count() >= 5 && text != "valuetree")
        .collect()
}

#[test]
fn the_chinese_pages_have_no_english_interface_string_left() {
    let (db, server) = chloe_server();
    db.ok(&["user", "add", "hana", "--person", "P09"]);
    db.ok_with_input(&["user", "passwd", "hana"], "hana's long password\n");
    let english = english_strings();
    assert!(english.len() > 50, "{}", english.len());
    db.ok(&[
        "user", "add", "kofi", "--person", "P11", "--role", "hr", "--role", "admin",
    ]);
    db.ok_with_input(&["user", "passwd", "kofi"], "kofi's long password\n");
    for (user, password) in [
        ("chloe", "chloe's long password"),
        ("hana", "hana's long password"),
        ("kofi", "kofi's long password"),
    ] {
        let session = sign_in(&server, user, password);
        let cookie = format!("{session}; vt_lang=zh-CN");
        for path in [
            "/",
            "/nodes/INI3",
            "/people/P03",
            "/org?from=2024-06-01&to=2024-08-01",
            "/org",
            "/flagpoles",
            "/settings",
            "/cycles",
            "/cycles/2024/calibration",
            "/reviews/2024",
            "/reviews/2024/people/P04",
            "/tree?q=checkout",
            "/admin",
            "/admin/accounts/chloe",
        ] {
            if (path.starts_with("/cycles/") || path.starts_with("/admin")) && user != "kofi"
                || path.ends_with("/P04") && user != "chloe"
            {
                continue;
            }
            let (status, _, body) = server.request("GET", path, &[("Cookie", &cookie)], None);
            assert_eq!(status, 200, "{path}: {body}");
            let page = Html::parse_document(&body);
            assert_eq!(select(&page, "html[lang=zh-CN]").len(), 1, "{path}");
            // The interface's words, not the data (names and titles are shown as recorded,
            // and a title may hold an English word): a text node that is an English message,
            // or holds an English phrase of three words or more.
            for shown in page
                .root_element()
                .text()
                .map(str::trim)
                .filter(|t| !t.is_empty())
            {
                for text in &english {
                    let phrase = text.split_whitespace().count() >= 3;
                    assert!(
                        shown != text && !(phrase && shown.contains(text.as_str())),
                        "{path} as {user} shows the English {text:?} in Chinese: {shown:?}"
                    );
                }
            }
        }
    }
}

/// A multipart form body with a `kind` field and a `file` field.
fn upload(kind: &str, csv: &str) -> (String, String) {
    let boundary = "----valuetree-test-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n{kind}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{kind}.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n\
         --{boundary}--\r\n"
    );
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[test]
fn an_administrator_uploads_a_csv_and_a_bad_row_imports_nothing() {
    let (db, server) = chloe_server();
    db.ok(&["user", "add", "root", "--person", "P01", "--role", "admin"]);
    db.ok_with_input(&["user", "passwd", "root"], "root's long password\n");
    let origin = server.url.clone();
    let chloe = sign_in(&server, "chloe", "chloe's long password");
    let (status, _, body) = server.request("GET", "/admin", &[("Cookie", &chloe)], None);
    assert_eq!(status, 403, "{body}");
    let (_, _, home) = server.request("GET", "/", &[("Cookie", &chloe)], None);
    assert!(select(&Html::parse_document(&home), "a[href='/admin']").is_empty());

    let root = sign_in(&server, "root", "root's long password");
    let (status, _, body) = server.request("GET", "/admin", &[("Cookie", &root)], None);
    assert_eq!(status, 200, "{body}");
    let page = Html::parse_document(&body);
    assert_eq!(select(&page, "a[href='/admin']").len(), 1);
    let accounts = select(&page, "ul.accounts li")
        .iter()
        .map(text)
        .collect::<Vec<_>>();
    assert!(accounts.iter().any(|a| a.contains("chloe")), "{accounts:?}");
    let head_before = db.ok(&["head"]);

    // Two new people, the second with a bad date: nothing is imported, the row is named.
    let bad = "person_id,name,email,joined_on,left_on\nP20,Lin Wei,lin@shop.example,2025-01-02,\nP21,Omar Haddad,omar@shop.example,2025-13-40,\n";
    let post = |csv: &str| {
        let (content_type, form) = upload("people", csv);
        server.request(
            "POST",
            "/admin/import",
            &[
                ("Cookie", &root),
                ("Content-Type", &content_type),
                ("Origin", &origin),
            ],
            Some(&form),
        )
    };
    let (status, _, body) = post(bad);
    assert_eq!(status, 422, "{body}");
    let page = Html::parse_document(&body);
    let rows = select(&page, "table.bad-rows tbody tr")
        .iter()
        .map(text)
        .collect::<Vec<_>>();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].contains('3') && rows[0].contains("joined_on"),
        "{rows:?}"
    );
    assert_eq!(db.ok(&["head"]), head_before, "nothing was imported");

    let good = "person_id,name,email,joined_on,left_on\nP20,Lin Wei,lin@shop.example,2025-01-02,\n";
    let (status, _, body) = post(good);
    assert_eq!(status, 200, "{body}");
    assert!(text(&select(&Html::parse_document(&body), "p.done")[0]).contains("1 new events"));
    assert!(db.ok(&["show", "person", "P20"]).contains("Lin Wei"));
}

#[test]
fn hr_calibrates_a_cycle_on_the_board_and_overrides_a_score_with_a_reason() {
    let (db, server) = chloe_server();
    db.ok(&["user", "add", "kofi", "--person", "P11", "--role", "hr"]);
    db.ok_with_input(&["user", "passwd", "kofi"], "kofi's long password\n");
    let origin = server.url.clone();
    let chloe = sign_in(&server, "chloe", "chloe's long password");
    let (status, _, _) = server.request(
        "GET",
        "/cycles/2024/calibration",
        &[("Cookie", &chloe)],
        None,
    );
    assert_eq!(status, 403, "the board is HR's and the committee's");
    let kofi = sign_in(&server, "kofi", "kofi's long password");
    let (_, _, body) = server.request("GET", "/cycles", &[("Cookie", &kofi)], None);
    assert_eq!(
        select(
            &Html::parse_document(&body),
            "a[href='/cycles/2024/calibration']"
        )
        .len(),
        1
    );
    let post = |path: &str, body: &str| {
        server.request(
            "POST",
            path,
            &[
                ("Cookie", &kofi),
                ("Content-Type", FORM),
                ("Origin", &origin),
            ],
            Some(body),
        )
    };
    // Before any calibration the board says so and offers it.
    let (status, _, body) = server.request(
        "GET",
        "/cycles/2024/calibration",
        &[("Cookie", &kofi)],
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("No calibrated scores yet"), "{body}");
    let (status, _, body) = post("/cycles/2024/calibrate", "");
    assert_eq!(status, 201, "{body}");
    let board = Html::parse_document(&body);
    let calibrated = select(&board, "table.calibrated tbody tr")
        .iter()
        .map(text)
        .collect::<Vec<_>>();
    assert!(
        calibrated.iter().any(|r| r.contains("Chloe Martin")),
        "{calibrated:?}"
    );
    assert!(!select(&board, "svg.bars[role=img] rect.bar").is_empty());
    let units: Vec<String> = select(&board, "table.distribution tbody th")
        .iter()
        .map(text)
        .collect();
    assert!(
        units.iter().any(|u| u == "Payments team"),
        "units by name: {units:?}"
    );
    // Overrides belong to the calibration phase: HR moves the cycle there first.
    let (status, _, _) = post("/cycles/2024/phase", "phase=calibration");
    assert_eq!(status, 303);
    let (status, headers, body) = post(
        "/cycles/2024/overrides",
        "person_id=P04&dimension=&score=4.5&reason=Carried+the+checkout+launch+alone",
    );
    assert_eq!(
        (status, header(&headers, "location")),
        (303, Some("/cycles/2024/calibration")),
        "{body}"
    );
    let (_, _, body) = server.request(
        "GET",
        "/cycles/2024/calibration",
        &[("Cookie", &kofi)],
        None,
    );
    let row = select(&Html::parse_document(&body), "table.proposed tbody tr")
        .into_iter()
        .map(|r| text(&r))
        .find(|r| r.contains("Chloe Martin"))
        .expect("Chloe is on the board");
    assert!(row.contains("4.5"), "{row}");
    // The board lists it with its reason, the score it replaced and who made it.
    let overrides: Vec<String> = select(&Html::parse_document(&body), "table.overrides tbody tr")
        .iter()
        .map(text)
        .collect();
    assert_eq!(overrides.len(), 1, "{overrides:?}");
    for shown in [
        "Chloe Martin",
        "4.5",
        "Carried the checkout launch alone",
        "Julia Santos",
    ] {
        assert!(overrides[0].contains(shown), "{shown} in {overrides:?}");
    }
    // The override is in the ledger with its reason and the score it replaced.
    let events = db.ok(&["export", "events"]);
    let line = events
        .lines()
        .find(|l| l.contains("score_overridden"))
        .expect("the override's event");
    assert!(
        line.contains("Carried the checkout launch alone") && line.contains("previous"),
        "{line}"
    );
}

#[test]
fn a_person_asks_to_join_a_node_from_its_page_and_a_member_leaves_it_there() {
    let (db, server) = chloe_server();
    db.ok(&["user", "add", "ben", "--person", "P03"]);
    db.ok_with_input(&["user", "passwd", "ben"], "ben's long password\n");
    let ben = sign_in(&server, "ben", "ben's long password");
    let form = |cookie: &str, path: &str, body: &str| post_form(&server, cookie, path, body);
    let (_, _, body) = server.request("GET", "/nodes/INI3", &[("Cookie", &ben)], None);
    let page = Html::parse_document(&body);
    assert_eq!(
        select(&page, "form#join").len(),
        1,
        "Ben is no member of INI3"
    );
    let action = select(&page, "form#join")[0]
        .value()
        .attr("action")
        .expect("an action")
        .to_string();
    let (status, headers, _) = form(&ben, &action, "role=tester&message=&back=node");
    assert_eq!(
        (status, header(&headers, "location")),
        (303, Some("/nodes/INI3"))
    );
    // The lead (Hana) accepts from her tasks; Ben is a member and may leave from the page.
    db.ok(&["user", "add", "hana", "--person", "P09"]);
    db.ok_with_input(&["user", "passwd", "hana"], "hana's long password\n");
    let hana = sign_in(&server, "hana", "hana's long password");
    let (status, _, _) = form(&hana, "/nodes/INI3/join-requests/P03", "status=accepted");
    assert_eq!(status, 303);
    let (_, _, body) = server.request("GET", "/nodes/INI3", &[("Cookie", &ben)], None);
    let page = Html::parse_document(&body);
    assert!(select(&page, "form#join").is_empty());
    assert_eq!(select(&page, "form#leave").len(), 1);
    let (status, _, _) = form(&ben, "/nodes/INI3/leave", "");
    assert_eq!(status, 303);
    let (_, _, body) = server.request("GET", "/nodes/INI3", &[("Cookie", &ben)], None);
    let page = Html::parse_document(&body);
    assert!(select(&page, "form#leave").is_empty(), "Ben left");
}

#[test]
fn a_person_writes_the_reviews_the_ledger_asks_of_them_and_fills_in_their_own() {
    let (db, server) = chloe_server();
    db.ok(&["user", "add", "hana", "--person", "P09"]);
    db.ok_with_input(&["user", "passwd", "hana"], "hana's long password\n");
    db.ok(&["user", "add", "grace", "--person", "P08"]);
    db.ok_with_input(&["user", "passwd", "grace"], "grace's long password\n");
    let chloe = sign_in(&server, "chloe", "chloe's long password");
    let get = |cookie: &str, path: &str| {
        let (status, _, body) = server.request("GET", path, &[("Cookie", cookie)], None);
        (status, Html::parse_document(&body))
    };
    let post = |cookie: &str, path: &str, body: &str| post_form(&server, cookie, path, body);

    // Her home lists the reviews asked of her; the reviews page opens on that cycle.
    let reviews_task = |cookie: &str| {
        let (_, home) = get(cookie, "/");
        select(&home, ".tasks a[href='/reviews/2024']")
            .iter()
            .map(text)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        reviews_task(&chloe),
        ["7 reviews to write in Annual review 2024"]
    );
    // The reviews page opens on the cycle taking ratings.
    let (status, headers, _) = server.request("GET", "/reviews", &[("Cookie", &chloe)], None);
    assert_eq!(
        (status, header(&headers, "location")),
        (303, Some("/reviews/2024"))
    );

    // Exactly the people whose suggested reviewers (the CLI's `review reviewers`) name Chloe,
    // each with the ledger's reason in her words.
    let (status, page) = get(&chloe, "/reviews/2024");
    assert_eq!(status, 200);
    let mut ratees: Vec<String> = select(&page, "article.review")
        .iter()
        .filter_map(|a| {
            a.value()
                .attr("id")
                .map(|id| id.trim_start_matches("ratee-").to_string())
        })
        .collect();
    ratees.sort();
    assert_eq!(ratees, ["P03", "P05", "P06", "P08", "P09", "P10", "P12"]);
    let hana = select(&page, "article#ratee-P09")[0];
    let reasons: Vec<String> = select(&page, "article#ratee-P09 ul.reasons li")
        .iter()
        .map(text)
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("you were both members of Accessible storefront")),
        "{reasons:?}"
    );
    assert!(
        text(&hana).contains("as the lead of their work") || text(&hana).contains("as a peer"),
        "{}",
        text(&hana)
    );
    // One select per dimension of the cycle, with the scale's labels.
    let options: Vec<String> = select(
        &page,
        "article#ratee-P09 select[name='score.results'] option",
    )
    .iter()
    .map(text)
    .collect();
    assert_eq!(options.len(), 6, "{options:?}");

    // A draft first; a submission missing a dimension is refused with the typing kept.
    let (status, headers, _) = post(
        &chloe,
        "/reviews/2024/ratings",
        "ratee_id=P09&score.results=4&comment.results=Led+the+audit+well&action=draft",
    );
    assert_eq!(
        (status, header(&headers, "location")),
        (303, Some("/reviews/2024#ratee-P09"))
    );
    let (_, page) = get(&chloe, "/reviews/2024");
    assert_eq!(
        text(&select(&page, "article#ratee-P09 fieldset legend .status")[0]),
        "draft"
    );
    assert_eq!(
        text(&select(&page, "textarea#comment-P09-results")[0]),
        "Led the audit well"
    );
    let (status, _, body) = post(
        &chloe,
        "/reviews/2024/ratings",
        "ratee_id=P09&score.results=4&comment.results=Kept+comment&action=submit",
    );
    assert_eq!(status, 422, "{body}");
    let page = Html::parse_document(&body);
    assert!(text(&select(&page, "article#ratee-P09 [role=alert]")[0]).contains("values"));
    assert_eq!(
        text(&select(&page, "textarea#comment-P09-results")[0]),
        "Kept comment"
    );
    let (status, _, _) = post(
        &chloe,
        "/reviews/2024/ratings",
        "ratee_id=P09&score.results=4&comment.results=Kept&score.values=5&action=submit",
    );
    assert_eq!(status, 303);
    let (_, page) = get(&chloe, "/reviews/2024");
    assert_eq!(
        select(&page, "article#ratee-P09 fieldset legend .status")
            .iter()
            .map(text)
            .collect::<Vec<_>>(),
        ["submitted", "submitted"]
    );
    assert_eq!(
        reviews_task(&chloe),
        ["6 reviews to write in Annual review 2024"]
    );
    // The API gives the same list to her, and nobody else's.
    let (status, _, body) = server.request(
        "GET",
        "/api/cycles/2024/to-write/P04",
        &[("Cookie", &chloe)],
        None,
    );
    assert_eq!(status, 200, "{body}");
    let listed: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(listed["reviews"].as_array().map(Vec::len), Some(7));
    let (status, _, _) = server.request(
        "GET",
        "/api/cycles/2024/to-write/P03",
        &[("Cookie", &chloe)],
        None,
    );
    assert_eq!(status, 403);
    // Someone who does not name her cannot be rated from here.
    let (status, _, _) = post(
        &chloe,
        "/reviews/2024/ratings",
        "ratee_id=P07&score.results=1&score.values=1&action=submit",
    );
    assert_eq!(status, 403);

    // Her own review: a goal with key results (a bad line is named, the text kept).
    let (status, page) = get(&chloe, "/reviews/2024/people/P04");
    assert_eq!(status, 200);
    assert_eq!(select(&page, "#self-rating").len(), 1);
    let (status, _, body) = post(
        &chloe,
        "/reviews/2024/people/P04/goals",
        "title=Ship+accessibility&node_id=INI3&key_results=audits+passed+%3D+3%0Ano+target",
    );
    assert_eq!(status, 422);
    let page = Html::parse_document(&body);
    assert!(text(&select(&page, "#goal-error")[0]).contains("metric = target"));
    assert_eq!(
        select(&page, "input#goal-title")[0].value().attr("value"),
        Some("Ship accessibility")
    );
    let (status, _, _) = post(
        &chloe,
        "/reviews/2024/people/P04/goals",
        "title=Ship+accessibility&node_id=INI3&key_results=audits+passed+%3D+3",
    );
    assert_eq!(status, 303);
    let (_, page) = get(&chloe, "/reviews/2024/people/P04");
    assert!(
        text(&select(&page, "article.goal h3")[0])
            .trim_start()
            .starts_with("Ship accessibility")
    );
    let goal_id = select(&page, "article.goal input[name=goal_id]")[0]
        .value()
        .attr("value")
        .expect("a value")
        .to_string();
    let (status, _, _) = post(
        &chloe,
        "/reviews/2024/people/P04/measurements",
        &format!("goal_id={goal_id}&metric=audits+passed&actual=2"),
    );
    assert_eq!(status, 303);
    let (_, page) = get(&chloe, "/reviews/2024/people/P04");
    assert!(text(&select(&page, "article.goal tbody tr")[0]).contains('2'));

    // The self review links one of her contributions in the first circle.
    let contribution = select(&page, "datalist#sr-contributions option")[0]
        .value()
        .attr("value")
        .expect("a value")
        .to_string();
    let (status, _, body) = post(
        &chloe,
        "/reviews/2024/people/P04/self-review",
        &format!(
            "circle=own_results&contribution_id={contribution}&text=Made+checkout+usable+by+keyboard"
        ),
    );
    assert_eq!(status, 303, "{body}");
    let (_, page) = get(&chloe, "/reviews/2024/people/P04");
    assert!(
        text(&select(&page, "section[aria-labelledby=self-review]")[0])
            .contains("Made checkout usable by keyboard")
    );

    // She adds a reviewer with a reason; the reason shows in her list.
    let (status, _, _) = post(
        &chloe,
        "/reviews/2024/people/P04/reviewers",
        "change=add&reviewer_id=P07&reason=We+paired+on+the+audit",
    );
    assert_eq!(status, 303);
    let (_, page) = get(&chloe, "/reviews/2024/people/P04");
    let listed: Vec<String> = select(&page, "ul.reviewers > li")
        .iter()
        .map(text)
        .collect();
    assert!(
        listed
            .iter()
            .any(|l| l.contains("added by Chloe Martin: We paired on the audit")),
        "{listed:?}"
    );
    // … and P07 now has Chloe's review to write.
    db.ok(&["user", "add", "p07", "--person", "P07"]);
    db.ok_with_input(&["user", "passwd", "p07"], "p07's long password\n");
    let p07 = sign_in(&server, "p07", "p07's long password");
    let (_, page) = get(&p07, "/reviews/2024");
    assert_eq!(select(&page, "article#ratee-P04").len(), 1);

    // Her manager in the cycle sees her review and may assess a value; a colleague may not.
    let grace = sign_in(&server, "grace", "grace's long password");
    let (status, page) = get(&grace, "/reviews/2024/people/P04");
    assert_eq!(status, 200);
    assert!(
        select(&page, "#self-rating").is_empty(),
        "only she rates herself"
    );
    let (status, _, body) = post(
        &grace,
        "/reviews/2024/people/P04/behaviours",
        "behaviour=ownership%7Chands+over+cleanly&met=true",
    );
    assert_eq!(status, 422, "shown needs evidence: {body}");
    let (status, _, _) = post(
        &grace,
        "/reviews/2024/people/P04/behaviours",
        "behaviour=ownership%7Chands+over+cleanly&met=true&evidence=Handed+INI2+over+with+notes",
    );
    assert_eq!(status, 303);
    let (_, page) = get(&chloe, "/reviews/2024/people/P04");
    assert!(
        text(&select(&page, "section[aria-labelledby=values]")[0])
            .contains("Handed INI2 over with notes")
    );
    let hana = sign_in(&server, "hana", "hana's long password");
    let (status, _) = get(&hana, "/reviews/2024/people/P04");
    assert_eq!(status, 403);
}

#[test]
fn the_value_tree_explorer_draws_the_tree_on_a_date_narrowed_by_a_search_or_a_unit() {
    let (_db, server) = chloe_server();
    let chloe = sign_in(&server, "chloe", "chloe's long password");
    let explore = |query: &str| {
        let (status, _, body) =
            server.request("GET", &format!("/tree{query}"), &[("Cookie", &chloe)], None);
        (status, Html::parse_document(&body))
    };
    let ids =
        |page: &Html, css: &str| -> Vec<String> { select(page, css).iter().map(text).collect() };
    let summary_of = |page: &Html, id: &str| -> Vec<String> {
        select(page, "div.node")
            .iter()
            .map(text)
            .filter(|t| t.contains(id))
            .collect()
    };

    // Today: from the needs down; INI3 serves both objectives and is drawn under each; the
    // value realised at INI1 and its contributors.
    let (status, page) = explore("");
    assert_eq!(status, 200);
    assert_eq!(
        ids(&page, "ul.explorer > li > div.node > .id"),
        ["NEED2", "NEED1"]
    );
    assert_eq!(
        ids(&page, ".id").iter().filter(|id| *id == "INI3").count(),
        2
    );
    let ini1 = summary_of(&page, "INI1");
    assert!(
        ini1[0].contains("value realised 1,000") && ini1[0].contains("3 contributors"),
        "{ini1:?}"
    );
    // The needs are open, showing their objectives; everything below folds.
    assert_eq!(select(&page, "ul.explorer > li > details[open]").len(), 2);
    assert!(
        select(
            &page,
            "ul.explorer > li > details > ul > li > details[open]"
        )
        .is_empty()
    );

    // Before the outcome and before DEL2 existed.
    let (_, page) = explore("?as_of=2024-04-01");
    let ini1 = summary_of(&page, "INI1");
    assert!(
        ini1[0].contains("value realised 0") && ini1[0].contains("1 contributor"),
        "{ini1:?}"
    );
    assert!(!ids(&page, ".id").contains(&"DEL2".to_string()));

    // A search keeps the matches and what they serve, opened, the matches marked.
    let (_, page) = explore("?q=checkout");
    assert_eq!(ids(&page, "a.matched + .id"), ["OBJ2", "INI2", "DEL2"]);
    assert!(!ids(&page, ".id").contains(&"NEED1".to_string()));
    assert_eq!(select(&page, "details:not([open])").len(), 0);

    // Mobile Lab's work on its last day: what Ivan, Ben and Chloe led or had worked on by then.
    let (_, page) = explore("?unit=U4&as_of=2024-06-30");
    let mut matched = ids(&page, "a.matched + .id");
    matched.sort();
    matched.dedup();
    assert_eq!(matched, ["INI2", "INI3"]);
    assert!(text(&select(&page, "main")[0]).contains("worked on by Mobile Lab"));

    // The API answers the same.
    let (status, _, body) =
        server.request("GET", "/api/tree?q=checkout", &[("Cookie", &chloe)], None);
    assert_eq!(status, 200, "{body}");
    let tree: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(tree["roots"][0]["node"]["node_id"], "NEED2");
    assert_eq!(tree["matched"], 3);

    // Nothing matches: says so; a bad date and an unknown unit are named beside the form.
    let (_, page) = explore("?q=no+such+thing");
    assert!(text(&select(&page, "p.empty")[0]).contains("No node matches"));
    let (status, page) = explore("?as_of=2024-13-01");
    assert_eq!(status, 400);
    assert!(text(&select(&page, "#explore-error")[0]).contains("2024-13-01"));
    assert_eq!(
        select(&page, "input#as_of")[0].value().attr("value"),
        Some("2024-13-01")
    );
    let (status, page) = explore("?unit=U99");
    assert_eq!(status, 404);
    assert!(text(&select(&page, "#explore-error")[0]).contains("U99"));
}

#[test]
fn an_administrator_makes_an_account_manages_its_roles_sessions_and_access_and_verifies_the_ledger()
{
    let (db, server) = chloe_server();
    db.ok(&["user", "add", "root", "--person", "P01", "--role", "admin"]);
    db.ok_with_input(&["user", "passwd", "root"], "root's long password\n");
    let root = sign_in(&server, "root", "root's long password");
    let get = |cookie: &str, path: &str| {
        let (status, _, body) = server.request("GET", path, &[("Cookie", cookie)], None);
        (status, Html::parse_document(&body))
    };

    // A bad username: refused beside the form, what was typed kept.
    let (status, _, body) = post_form(
        &server,
        &root,
        "/admin/accounts",
        "username=ben+okafor&person_id=P03&role=hr",
    );
    assert_eq!(status, 422, "{body}");
    let page = Html::parse_document(&body);
    assert!(text(&select(&page, "#account-error")[0]).contains("letters"));
    assert_eq!(
        select(&page, "input#new-person")[0].value().attr("value"),
        Some("P03")
    );

    // Ben's account, as HR, with a password shown once that signs him in.
    let (status, _, body) = post_form(
        &server,
        &root,
        "/admin/accounts",
        "username=ben&person_id=P03&role=hr",
    );
    assert_eq!(status, 200, "{body}");
    let page = Html::parse_document(&body);
    let password = text(&select(&page, "#new-password")[0]);
    assert_eq!(password.len(), 20);
    let ben = sign_in(&server, "ben", &password);
    let (status, page) = get(&root, "/admin/accounts/ben");
    assert_eq!(status, 200);
    let roles: Vec<String> = select(&page, "section[aria-labelledby=roles] li")
        .iter()
        .map(text)
        .collect();
    assert!(roles[0].starts_with("hr: held"), "{roles:?}");
    assert_eq!(
        select(&page, "section[aria-labelledby=sessions] li").len(),
        1,
        "his session"
    );

    // Nobody else administers accounts.
    let chloe = sign_in(&server, "chloe", "chloe's long password");
    let (status, _) = get(&chloe, "/admin/accounts/ben");
    assert_eq!(status, 403);
    let (status, _, _) = post_form(&server, &chloe, "/admin/accounts/ben/sessions", "");
    assert_eq!(status, 403);

    // HR revoked in the ledger; his sessions ended; then disabled, so he cannot sign in.
    let (status, _, body) = post_form(
        &server,
        &root,
        "/admin/accounts/ben/roles",
        "role=hr&grant=false",
    );
    assert_eq!(status, 200, "{body}");
    let page = Html::parse_document(&body);
    let roles: Vec<String> = select(&page, "section[aria-labelledby=roles] li")
        .iter()
        .map(text)
        .collect();
    assert!(roles[0].starts_with("hr: not held"), "{roles:?}");
    let (status, _, _) = post_form(&server, &root, "/admin/accounts/ben/sessions", "");
    assert_eq!(status, 200);
    let (status, headers, _) = server.request("GET", "/", &[("Cookie", &ben)], None);
    assert_eq!(
        (status, header(&headers, "location")),
        (303, Some("/login"))
    );
    let (status, _, _) = post_form(
        &server,
        &root,
        "/admin/accounts/ben/disabled",
        "disabled=true",
    );
    assert_eq!(status, 200);
    let (status, _, _) = server.request(
        "POST",
        "/login",
        &[("Content-Type", FORM), ("Origin", &server.url)],
        Some(&format!("username=ben&password={password}")),
    );
    assert_eq!(status, 401);

    // The ledger verifies from the page.
    let (status, _, body) = post_form(&server, &root, "/admin/verify", "");
    assert_eq!(status, 200, "{body}");
    let page = Html::parse_document(&body);
    assert!(
        text(&select(&page, "#verified")[0]).contains("The ledger holds"),
        "{body}"
    );
}

#[test]
fn hr_reads_the_diagnostics_and_previews_then_records_a_reorganisation_plan() {
    let (db, server) = chloe_server();
    db.ok(&["role", "grant", "P05", "hr"]);
    db.ok(&["user", "add", "dan", "--person", "P05"]);
    db.ok_with_input(&["user", "passwd", "dan"], "dan's long password\n");
    let chloe = sign_in(&server, "chloe", "chloe's long password");
    let (status, _, _) = server.request("GET", "/diagnostics", &[("Cookie", &chloe)], None);
    assert_eq!(status, 403, "the diagnostics are HR's");
    let (_, _, home) = server.request("GET", "/", &[("Cookie", &chloe)], None);
    assert!(select(&Html::parse_document(&home), "a[href='/diagnostics']").is_empty());
    let dan = sign_in(&server, "dan", "dan's long password");
    let get = |path: &str| {
        let (status, _, body) = server.request("GET", path, &[("Cookie", &dan)], None);
        assert_eq!(status, 200, "{path}: {body}");
        Html::parse_document(&body)
    };
    let kept = get("/diagnostics");
    assert_eq!(select(&kept, "header a[href='/diagnostics']").len(), 1);
    assert_eq!(select(&kept, "nav.tabs a[aria-current=page]").len(), 1);
    // Ana left before Smart search paid off: first among those who keep the most.
    let first = select(&kept, "table.data tbody tr")
        .into_iter()
        .find(|row| text(row).contains("Ana Souza"))
        .map(|row| text(&row))
        .unwrap_or_default();
    assert!(
        first.contains("left") && first.contains("844.19"),
        "{first}"
    );
    let chart = select(&kept, "svg.bars");
    assert!(
        chart
            .first()
            .and_then(|c| c.value().attr("aria-label"))
            .is_some_and(|l| l.contains("Hand-overs")),
        "the chart says what it shows"
    );
    let churn = get("/diagnostics/churn?as_of=2025-01-15");
    assert!(text(&select(&churn, "main")[0]).contains("Mobile Lab"));
    let collaboration = get("/diagnostics/collaboration?from=2024-01-01&to=2024-12-31");
    assert_eq!(select(&collaboration, "table.grid").len(), 1);
    let matrix = select(&collaboration, "svg.matrix[role=img]");
    assert_eq!(matrix.len(), 1, "the matrix is drawn");
    assert!(
        select(&collaboration, "svg.matrix rect.cell title")
            .iter()
            .any(|t| text(t).contains("Mobile Lab → Checkout squad: 24"))
    );
    assert!(text(&select(&collaboration, "table.grid")[0]).contains("Checkout squad"));
    let tree = get("/diagnostics/tree?from=2024-01-01&to=2024-12-31");
    assert!(text(&select(&tree, "main")[0]).contains("Shoppers find what they want fast"));
    let ratings = get("/diagnostics/ratings?cycle=2024");
    assert!(text(&select(&ratings, "main")[0]).contains("calibrate the cycle first"));
    // A plan previewed changes nothing; recorded, it changes the managers it said.
    let form = get("/diagnostics/whatif");
    assert_eq!(select(&form, "label[for=plan]").len(), 1);
    let plan =
        "plan=action%2Csubject_id%2Ctarget_id%2Cdate%0Achange_manager%2CP06%2CP07%2C2025-02-01%0A";
    let head = db.head();
    let (status, _, body) = post_form(
        &server,
        &dan,
        "/diagnostics/whatif",
        &format!("{plan}&preview=1"),
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("Frank Müller"),
        "the new manager is named: {body}"
    );
    assert_eq!(db.head(), head);
    let (status, _, _) = post_form(
        &server,
        &dan,
        "/diagnostics/whatif",
        &format!("{plan}&apply=1"),
    );
    assert_eq!(status, 201);
    assert_ne!(db.head(), head);
    let org = db.ok(&["org", "--as-of", "2025-02-01", "--format", "json"]);
    assert!(org.contains("\"P07\""), "{org}");
    // A plan that cannot hold names its bad rows.
    let bad = "plan=action%2Csubject_id%2Ctarget_id%2Cdate%0Amove_person%2CNOBODY%2CU2%2C2025-02-01%0A&preview=1";
    let (status, _, body) = post_form(&server, &dan, "/diagnostics/whatif", bad);
    assert_eq!(status, 422);
    let page = Html::parse_document(&body);
    assert!(
        text(&select(&page, "[role=alert]")[0])
            .contains("Line 2, subject_id: there is no person NOBODY")
    );
    // Without this server's origin, nothing is recorded.
    let (status, _, _) = server.request(
        "POST",
        "/diagnostics/whatif",
        &[("Cookie", &dan), ("Content-Type", FORM)],
        Some(&format!("{plan}&apply=1")),
    );
    assert_eq!(status, 403);
    let (_, _, chinese) = server.request(
        "GET",
        "/diagnostics/churn",
        &[("Cookie", &dan), ("Accept-Language", "zh-CN")],
        None,
    );
    assert!(chinese.contains("人员变动"), "{chinese}");
}
