//! The API's errors: `{"error": {"code", "message", "details"}}` with a status and a stable
//! code for each kind the application layer names. A bad request is always a 4xx naming what
//! was wrong; a 500 says only that something failed (the log has the rest).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use valuetree_app::AppError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", message)
    }

    pub fn unauthenticated() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign in first (POST /api/login), or send an API token as `Authorization: Bearer …`",
        )
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        let message = message.into();
        tracing::error!(error = %message, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something failed on the server; the log has the details (see the request id)",
        )
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> ApiError {
        match error {
            AppError::NotFound { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", error.to_string())
            }
            AppError::Forbidden { rule, ref reason } => ApiError {
                status: StatusCode::FORBIDDEN,
                code: "forbidden",
                message: reason.clone(),
                details: json!({ "rule": rule }),
            },
            AppError::Rejected(ref fields) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "rejected",
                message: error.to_string(),
                details: json!({ "fields": fields }),
            },
            AppError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            AppError::Invalid(message) => ApiError::bad_request(message),
            AppError::Unauthenticated(message) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
            }
            AppError::TooManyAttempts(message) => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", message)
            }
            AppError::Internal(message) => ApiError::internal(message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": { "code": self.code, "message": self.message, "details": self.details }
        });
        (self.status, Json(body)).into_response()
    }
}
