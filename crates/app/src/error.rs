//! The application layer's one error type. Its kinds are what a face needs to answer: a
//! command line prints the message and exits non-zero, a server maps each kind to a status
//! once (not found 404, forbidden 403, rejected 422, conflict 409, invalid 400,
//! unauthenticated 401, too many attempts 429, internal 500).

use serde::Serialize;
use valuetree_store::StoreError;

/// One refused field: which one, the value given, and why; for a row of an imported file,
/// the file and its line too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub value: Option<String>,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        match (self.line, self.field.is_empty()) {
            (Some(line), false) => write!(f, "line {line}, column {}: ", self.field)?,
            (Some(line), true) => write!(f, "line {line}: ")?,
            (None, false) => write!(f, "{}: ", self.field)?,
            (None, true) => {}
        }
        write!(f, "{}", self.reason)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The thing asked for does not exist (`what` names it, `hint` says where to look).
    #[error("{what} does not exist{}", hint_text(.hint))]
    NotFound { what: String, hint: String },
    /// The actor may not do this; `rule` names the rule that refused it (see
    /// docs/security.md).
    #[error("not allowed: {reason} (rule {rule})")]
    Forbidden { rule: &'static str, reason: String },
    /// The ledger's rules refused the change: nothing was recorded.
    #[error("refused, nothing was recorded: {}", fields_text(.0))]
    Rejected(Vec<FieldError>),
    /// The change was decided on a state that has changed since (decide again).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Nobody is signed in, or the credentials are wrong (the message never says which).
    #[error("{0}")]
    Unauthenticated(String),
    /// Too many failed sign-ins: wait before trying again.
    #[error("{0}")]
    TooManyAttempts(String),
    /// The request itself is malformed (a setting that does not parse, a bad combination).
    #[error("{0}")]
    Invalid(String),
    /// Something failed that the caller cannot fix (the database, a thread).
    #[error("{0}")]
    Internal(String),
}

fn hint_text(hint: &str) -> String {
    if hint.is_empty() {
        String::new()
    } else {
        format!("; {hint}")
    }
}

fn fields_text(errors: &[FieldError]) -> String {
    let listed: Vec<String> = errors
        .iter()
        .take(valuetree_store::MAX_LISTED_ERRORS)
        .map(ToString::to_string)
        .collect();
    let more = errors.len().saturating_sub(listed.len());
    if more > 0 {
        format!("{}; … and {more} more", listed.join("; "))
    } else {
        listed.join("; ")
    }
}

impl AppError {
    pub fn not_found(what: impl Into<String>, hint: impl Into<String>) -> AppError {
        AppError::NotFound {
            what: what.into(),
            hint: hint.into(),
        }
    }

    pub fn forbidden(rule: &'static str, reason: impl Into<String>) -> AppError {
        AppError::Forbidden {
            rule,
            reason: reason.into(),
        }
    }

    pub fn invalid(reason: impl Into<String>) -> AppError {
        AppError::Invalid(reason.into())
    }

    pub fn rejected(field: &str, value: Option<&str>, reason: impl Into<String>) -> AppError {
        AppError::Rejected(vec![FieldError {
            field: field.to_string(),
            value: value.map(str::to_string),
            reason: reason.into(),
            file: None,
            line: None,
        }])
    }

    /// A short name of the kind, for logs and JSON error bodies.
    pub fn kind(&self) -> &'static str {
        match self {
            AppError::NotFound { .. } => "not_found",
            AppError::Forbidden { .. } => "forbidden",
            AppError::Rejected(_) => "rejected",
            AppError::Conflict(_) => "conflict",
            AppError::Unauthenticated(_) => "unauthenticated",
            AppError::TooManyAttempts(_) => "too_many_attempts",
            AppError::Invalid(_) => "invalid",
            AppError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> AppError {
        match error {
            StoreError::Rejected(errors) => {
                // A stale override (the score moved since it was read) is a conflict, not a
                // bad request.
                if let [only] = errors.as_slice()
                    && only.error.column.as_deref() == Some("previous")
                {
                    return AppError::Conflict(only.error.reason.clone());
                }
                AppError::Rejected(
                    errors
                        .into_iter()
                        .map(|e| {
                            let from_file = e.file != "request";
                            FieldError {
                                field: e.error.column.unwrap_or_default(),
                                value: None,
                                reason: e.error.reason,
                                line: from_file.then_some(e.error.line),
                                file: from_file.then_some(e.file),
                            }
                        })
                        .collect(),
                )
            }
            StoreError::Missing { url } => AppError::not_found(
                format!("the database {url}"),
                "`valuetree import` or `valuetree demo` creates it; --db names another",
            ),
            StoreError::Changed(reason) => AppError::Conflict(reason),
            old @ StoreError::OldForm { .. } => AppError::Invalid(old.to_string()),
            other => AppError::Internal(other.to_string()),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
