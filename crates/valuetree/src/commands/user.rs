//! `valuetree user add|passwd|list|disable|enable` and `valuetree user token …`: the
//! accounts people sign in to the server with. Credentials never enter the ledger.

use super::render::{self, Format};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use valuetree_app::accounts::{NewAccount, TokenScope};
use valuetree_app::{Actor, App};
use valuetree_core::domain::Role;

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add an account that signs in as a person of the ledger (--person), or a service
    /// account for an integration (no --person). `--role hr|admin` grants that role in the
    /// ledger to the person (a service account keeps it on the account). Then set its
    /// password with `user passwd`.
    #[command(after_help = "\
The first administrator of a fresh database:
  valuetree user add alice --person P01 --role admin
  valuetree user passwd alice          # asks for the password (or reads one line from stdin)")]
    Add {
        /// The name to sign in with.
        username: String,
        /// The person of the ledger the account signs in as.
        #[arg(long)]
        person: Option<String>,
        /// A role to hold (repeat for more): hr, admin.
        #[arg(long = "role")]
        roles: Vec<Role>,
    },
    /// Set an account's password: asked on the terminal, or read as one line from standard
    /// input (never a flag, which would stay in the shell's history). Ends the account's
    /// sessions.
    Passwd {
        /// Whose password to set.
        username: String,
    },
    /// Every account, with its person and roles.
    List {
        /// How to print the list.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Disable an account: its sessions end and its tokens stop working.
    Disable {
        /// The account to disable (its sessions end).
        username: String,
    },
    /// Enable a disabled account again.
    Enable {
        /// The account to enable again.
        username: String,
    },
    /// Make an API token for an account (shown once): `--scope read` or `write`.
    Token {
        /// The account the token acts as.
        username: String,
        /// What the token is for (shown in `user tokens`).
        #[arg(long)]
        name: String,
        /// What the token may do: read or write.
        #[arg(long, value_parser = ["read", "write"], default_value = "read")]
        scope: String,
        /// The token stops working after this many days.
        #[arg(long)]
        days: Option<u32>,
    },
    /// An account's API tokens (never their secrets).
    Tokens {
        /// Whose tokens to list.
        username: String,
    },
    /// Revoke an API token.
    Revoke {
        /// Whose token to revoke.
        username: String,
        /// The token's id (as `user tokens` lists it).
        token_id: String,
    },
}

fn read_password(username: &str) -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let first = rpassword::prompt_password(format!("new password for {username}: "))?;
        let again = rpassword::prompt_password("again: ")?;
        if first != again {
            bail!("the two passwords differ; nothing was changed");
        }
        return Ok(first);
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        bail!("no password on standard input (give one line)");
    }
    Ok(password)
}

pub fn run(app: &App, actor: &Actor, command: UserCommand) -> Result<ExitCode> {
    match command {
        UserCommand::Add {
            username,
            person,
            roles,
        } => {
            let view = app.add_account(
                actor,
                NewAccount {
                    username,
                    person_id: person,
                    roles,
                    demo: false,
                },
            )?;
            say!(
                "added account {}{}; set its password with `valuetree user passwd {}`",
                view.username,
                view.person
                    .as_ref()
                    .map_or(" (a service account)".to_string(), |p| format!(
                        " signing in as {}",
                        render::person(p)
                    )),
                view.username
            );
        }
        UserCommand::Passwd { username } => {
            let password = read_password(&username)?;
            app.set_password(actor, &username, &password, None)?;
            say!("the password of {username} is set; its other sessions have ended");
        }
        UserCommand::List { format } => {
            let accounts = app.accounts(actor)?;
            match format {
                Format::Json => return render::json(&accounts),
                Format::Csv => {
                    render::csv_line(&["username", "person_id", "name", "roles", "disabled"]);
                    for a in &accounts {
                        render::csv_line(&[
                            a.username.clone(),
                            a.person
                                .as_ref()
                                .map_or(String::new(), |p| p.person_id.clone()),
                            a.person.as_ref().map_or(String::new(), |p| p.name.clone()),
                            roles_text(&a.roles),
                            a.disabled.to_string(),
                        ]);
                    }
                }
                Format::Table => {
                    if accounts.is_empty() {
                        say!("no accounts yet; add one with `valuetree user add`");
                    }
                    for a in &accounts {
                        say!(
                            "{:<20} {:<32} {:<16}{}{}",
                            a.username,
                            a.person
                                .as_ref()
                                .map_or("(service account)".to_string(), render::person),
                            roles_text(&a.roles),
                            if a.disabled { " disabled" } else { "" },
                            if a.has_password { "" } else { " (no password)" }
                        );
                    }
                }
            }
        }
        UserCommand::Disable { username } => {
            app.set_account_disabled(actor, &username, true)?;
            say!("{username} is disabled; its sessions have ended");
        }
        UserCommand::Enable { username } => {
            app.set_account_disabled(actor, &username, false)?;
            say!("{username} is enabled");
        }
        UserCommand::Token {
            username,
            name,
            scope,
            days,
        } => {
            let scope = if scope == "write" {
                TokenScope::Write
            } else {
                TokenScope::Read
            };
            let expires = days.map(|d| app.clock().now() + chrono::Duration::days(i64::from(d)));
            let (secret, view) = app.create_token(actor, &username, &name, scope, expires)?;
            eprintln!(
                "token {} for {username} ({}, {}): shown once, keep it now",
                view.token_id,
                view.name,
                view.scope.as_str()
            );
            say!("{}", secret.0);
        }
        UserCommand::Tokens { username } => {
            for t in app.tokens(actor, &username)? {
                say!(
                    "{}  {:<5} {:<30} created {}{}{}",
                    t.token_id,
                    t.scope.as_str(),
                    t.name,
                    t.created_at,
                    t.expires_at
                        .map_or(String::new(), |e| format!(", expires {e}")),
                    match (t.revoked_at, t.last_used) {
                        (Some(r), _) => format!(", revoked {r}"),
                        (None, Some(u)) => format!(", last used {u}"),
                        (None, None) => ", never used".to_string(),
                    }
                );
            }
        }
        UserCommand::Revoke { username, token_id } => {
            app.revoke_token(actor, &username, &token_id)?;
            say!("token {token_id} of {username} is revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}
