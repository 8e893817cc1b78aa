//! Flagpoles: the open initiatives looking for people; raise one, ask to join one.

use super::i18n::Lang;
use super::{Viewer, error_page, page, redirect, refused_origin, status_label};
use crate::auth::same_origin;
use crate::{ServerState, blocking};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use valuetree_app::commands::work::NewFlagpole;
use valuetree_app::queries::{FlagpoleView, NodeRef};
use valuetree_core::domain::NodeKind;

/// What was typed into the raise form, kept when it is refused.
#[derive(Deserialize, Default, Clone)]
pub struct RaiseForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    serves_id: String,
    #[serde(default)]
    roles: String,
}

#[derive(Deserialize, Default)]
pub struct AskForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    message: String,
    /// `node` when asked from the node's page (which is shown again), else the flagpoles.
    #[serde(default)]
    back: String,
}

fn flagpoles_markup(
    lang: Lang,
    nav: super::Nav,
    viewer_id: Option<&str>,
    open: &[FlagpoleView],
    serves: &[NodeRef],
    typed: &RaiseForm,
    problem: Option<&str>,
) -> Markup {
    page(
        lang,
        &lang.t("flagpoles-title"),
        nav,
        html! {
            h1 { (lang.t("flagpoles-title")) }
            p class="help" { (lang.t("flagpoles-help")) }
            @if open.is_empty() {
                p class="empty" { (lang.t("flagpoles-none")) }
            }
            @for f in open {
                article class="flagpole" aria-labelledby={ "fp-" (f.node.node_id) } {
                    h2 id={ "fp-" (f.node.node_id) } { a href={ "/nodes/" (f.node.node_id) } { (f.node.title) } " " span class="status" { (status_label(lang, f.status)) } }
                    p class="help" {
                        @if let Some(lead) = &f.lead { (lang.t_with("flagpoles-raised-by", &[("name", lead.name.clone().into()), ("date", lang.date(f.created_on).into())])) }
                        @if let Some(serves) = &f.serves { " · " (lang.t_with("flagpoles-serves", &[("node", serves.title.clone().into())])) }
                        @if let Some(sponsor) = &f.sponsor { " · " (lang.t_with("flagpoles-sponsor", &[("name", sponsor.name.clone().into())])) }
                        " · " (lang.t(if f.linked { "flagpoles-linked" } else { "flagpoles-unlinked" }))
                        " · " (lang.t_with("flagpoles-members", &[("count", f.members.into())]))
                    }
                    @if !f.description.is_empty() { p { (f.description) } }
                    @if !f.roles_wanted.is_empty() {
                        p { strong { (lang.t("flagpoles-wanted")) ": " } (f.roles_wanted.join(", ")) }
                    }
                    @if let (Some(serves), Some(sponsor)) = (&f.serves, &f.sponsor)
                        && !f.linked
                        && Some(sponsor.person_id.as_str()) == viewer_id
                    {
                        form method="post" action={ "/flagpoles/" (f.node.node_id) "/link" } class="row link" {
                            input type="hidden" name="parent_id" value=(serves.node_id);
                            span { (lang.t_with("flagpoles-link", &[("node", serves.title.clone().into())])) }
                            label for={ "weight-" (f.node.node_id) } { (lang.t_with("flagpoles-weight", &[("node", serves.title.clone().into())])) }
                            input id={ "weight-" (f.node.node_id) } name="weight" type="text" inputmode="decimal" value="0.2" required;
                            button type="submit" { (lang.t("flagpoles-link-submit")) }
                        }
                    }
                    form method="post" action={ "/flagpoles/" (f.node.node_id) "/ask" } class="row" {
                        label for={ "role-" (f.node.node_id) } { (lang.t("flagpoles-role")) }
                        @if f.roles_wanted.is_empty() {
                            input id={ "role-" (f.node.node_id) } name="role" type="text" required;
                        } @else {
                            select id={ "role-" (f.node.node_id) } name="role" {
                                @for role in &f.roles_wanted { option value=(role) { (role) } }
                            }
                        }
                        label for={ "message-" (f.node.node_id) } { (lang.t("flagpoles-message")) }
                        input id={ "message-" (f.node.node_id) } name="message" type="text";
                        button type="submit" { (lang.t("flagpoles-ask")) }
                    }
                }
            }
            h2 id="raise" { (lang.t("flagpoles-raise")) }
            form method="post" action="/flagpoles" class="stack" {
                @if let Some(problem) = problem { p class="error" role="alert" id="raise-error" { (problem) } }
                label for="fp-title" { (lang.t("flagpoles-title-field")) }
                input id="fp-title" name="title" type="text" value=(typed.title) required;
                label for="fp-description" { (lang.t("flagpoles-description")) }
                textarea id="fp-description" name="description" rows="3" { (typed.description) }
                label for="fp-serves" { (lang.t("flagpoles-serves-field")) }
                select id="fp-serves" name="serves_id" {
                    @for node in serves {
                        option value=(node.node_id) selected[typed.serves_id == node.node_id] { (node.title) }
                    }
                }
                label for="fp-roles" { (lang.t("flagpoles-roles")) }
                input id="fp-roles" name="roles" type="text" value=(typed.roles);
                button type="submit" { (lang.t("flagpoles-raise-submit")) }
            }
        },
    )
}

async fn render(
    state: &ServerState,
    viewer: &Viewer,
    status: StatusCode,
    typed: &RaiseForm,
    problem: Option<&str>,
) -> Response {
    let actor = viewer.actor.clone();
    let found = blocking(state, move |app| {
        Ok((
            app.flagpoles(&actor)?,
            app.nodes_of_kinds(&actor, &[NodeKind::Need, NodeKind::Objective])?,
        ))
    })
    .await;
    match found {
        Ok((open, serves)) => (
            status,
            flagpoles_markup(
                viewer.lang,
                viewer.nav(),
                viewer.identity.person_id.as_deref(),
                &open,
                &serves,
                typed,
                problem,
            ),
        )
            .into_response(),
        Err(e) => error_page(viewer.lang, e),
    }
}

/// `GET /flagpoles`.
pub async fn flagpoles_page(State(state): State<ServerState>, viewer: Viewer) -> Response {
    render(&state, &viewer, StatusCode::OK, &RaiseForm::default(), None).await
}

/// `POST /flagpoles`: raises one, led by the viewer, and shows its page.
pub async fn raise(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    axum::Form(form): axum::Form<RaiseForm>,
) -> Response {
    if !same_origin(&headers, &state) {
        return refused_origin(viewer.lang);
    }
    let actor = viewer.actor.clone();
    let new = NewFlagpole {
        node_id: String::new(),
        title: form.title.trim().to_string(),
        description: form.description.trim().to_string(),
        serves_id: form.serves_id.clone(),
        roles_wanted: form
            .roles
            .split([',', '，'])
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect(),
    };
    let raised = blocking(&state, move |app| {
        let receipt = app.raise_flagpole(&actor, new)?;
        Ok(receipt)
    })
    .await;
    match raised {
        Ok(_) => redirect("/flagpoles"),
        Err(e) => render(&state, &viewer, e.status, &form, Some(&e.message)).await,
    }
}

/// `POST /flagpoles/{node_id}/ask`: asks to join in a role.
pub async fn ask(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(node_id): Path<String>,
    axum::Form(form): axum::Form<AskForm>,
) -> Response {
    if !same_origin(&headers, &state) {
        return refused_origin(viewer.lang);
    }
    let actor = viewer.actor.clone();
    let back = if form.back == "node" {
        format!("/nodes/{node_id}")
    } else {
        "/flagpoles".to_string()
    };
    let asked = blocking(&state, move |app| {
        app.ask_to_join(
            &actor,
            &node_id,
            None,
            form.role.trim(),
            form.message.trim(),
        )
    })
    .await;
    match asked {
        Ok(_) => redirect(&back),
        Err(e) => error_page(viewer.lang, e),
    }
}

#[derive(Deserialize, Default)]
pub struct LinkForm {
    #[serde(default)]
    parent_id: String,
    #[serde(default)]
    weight: String,
}

/// `POST /flagpoles/{node_id}/link`: the sponsor (the lead of the node it serves) links the
/// flagpole under that node with a weight, from today.
pub async fn link(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(node_id): Path<String>,
    axum::Form(form): axum::Form<LinkForm>,
) -> Response {
    if !same_origin(&headers, &state) {
        return refused_origin(viewer.lang);
    }
    let weight = match valuetree_core::Amount::parse(form.weight.trim()) {
        Ok(weight) => weight,
        Err(e) => {
            return error_page(
                viewer.lang,
                crate::error::ApiError::bad_request(format!("weight: {e}")),
            );
        }
    };
    let actor = viewer.actor.clone();
    let linked = blocking(&state, move |app| {
        let edge = valuetree_core::domain::EdgeRecord {
            child_id: node_id,
            parent_id: form.parent_id,
            valid_from: Some(app.today()),
            valid_to: None,
            weight,
        };
        app.link(&actor, edge)
    })
    .await;
    match linked {
        Ok(_) => redirect("/flagpoles"),
        Err(e) => error_page(viewer.lang, e),
    }
}
