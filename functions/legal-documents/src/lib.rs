//! legal-documents: the HTTP routes of the legal documents a creditor signs (API Gateway HTTP
//! API, payload 2.0, JWT authorizer). The behaviour is `shared::services::legal::documents`;
//! routing, the request span and the error body are the shared edge's. The organization comes
//! from the JWT claim `org`, the acting user from `sub`; another organization's case or
//! document answers 404 like one that does not exist.
//!
//! Its own function, not the cases API's: drafting reads the invoice copy from Tripletex (the
//! employee token from Secrets Manager), writes the letters bucket and renders PDFs (the
//! renderer's fonts and code), none of which the cases API has or needs.
//!
//! | Route | |
//! |---|---|
//! | `POST /v1/cases/{id}/legal-documents` | draft: `{kind?, description?, policeDistrict?, forumReason?, municipality?, debtorIsSoleProprietorship?}` → 201 (200: the same draft existed) |
//! | `GET /v1/cases/{id}/legal-documents` | the case's documents |
//! | `GET /v1/cases/{id}/legal-documents/{docId}` | one document with every field |
//! | `GET /v1/cases/{id}/legal-documents/{docId}/pdf` | `part=document` (default), `attachments`, `signed`: the PDF |
//! | `POST /v1/cases/{id}/legal-documents/{docId}/approve` | `{name, sha256?}` → 200 (the first approval is kept) |

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

use shared::http::{json_response, ApiError, Reply, Req, Router};
use shared::services::legal::documents::{LegalDocError, LegalDocuments, Part};

/// The routes (template.yaml routes the same ones to this function).
pub static ROUTER: LazyLock<Router<LegalDocuments>> = LazyLock::new(|| {
    Router::new()
        .post("/v1/cases/{id}/legal-documents", draft)
        .get("/v1/cases/{id}/legal-documents", list)
        .get("/v1/cases/{id}/legal-documents/{docId}", get)
        .get("/v1/cases/{id}/legal-documents/{docId}/pdf", pdf)
        .post("/v1/cases/{id}/legal-documents/{docId}/approve", approve)
});

/// Handles one request. Never fails: every error is an answer. `now` comes from the caller.
pub async fn handle(
    svc: &LegalDocuments,
    req: Request,
    now: DateTime<Utc>,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(ROUTER.serve(svc, req, now).await)
}

async fn draft(svc: &LegalDocuments, req: &Req) -> Reply {
    let org = req.org()?;
    let user = req.user()?;
    let body = req.json_or_default()?;
    let (view, created) = svc
        .draft(&org, req.param("id")?, &user, &body, req.now())
        .await
        .map_err(to_api)?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, &view))
}

async fn list(svc: &LegalDocuments, req: &Req) -> Reply {
    let org = req.org()?;
    let list = svc.list(&org, req.param("id")?).await.map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &list))
}

async fn get(svc: &LegalDocuments, req: &Req) -> Reply {
    let org = req.org()?;
    let view = svc
        .get(&org, req.param("id")?, req.param("docId")?)
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &view))
}

async fn pdf(svc: &LegalDocuments, req: &Req) -> Reply {
    let org = req.org()?;
    let mut part = Part::Document;
    for (k, v) in req.query_pairs() {
        match k {
            "part" => {
                part = Part::parse(v).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_query",
                        "part is document, attachments or signed",
                    )
                    .with_field("part")
                })?
            }
            other => {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    format!("unknown query parameter {other:?}; known: part"),
                )
                .with_field("query"))
            }
        }
    }
    let pdf = svc
        .pdf(&org, req.param("id")?, req.param("docId")?, part)
        .await
        .map_err(to_api)?;
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/pdf")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", pdf.file_name),
        )
        .header("x-content-sha256", pdf.sha256)
        .body(Body::Binary(pdf.bytes))
        .map_err(|e| ApiError::internal().because(format!("building the response: {e}")))
}

async fn approve(svc: &LegalDocuments, req: &Req) -> Reply {
    let org = req.org()?;
    let user = req.user()?;
    let body = req.json()?;
    let (view, _) = svc
        .approve(
            &org,
            req.param("id")?,
            req.param("docId")?,
            &user,
            &body,
            req.now(),
        )
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &view))
}

/// Service errors → HTTP answers.
pub fn to_api(e: LegalDocError) -> ApiError {
    let code = e.code();
    match e {
        LegalDocError::CaseNotFound => ApiError::not_found(code, "no such case"),
        LegalDocError::DocumentNotFound => ApiError::not_found(code, "no such document"),
        LegalDocError::BadRequest { field, message } => {
            ApiError::unprocessable(code, message).with_field(field)
        }
        LegalDocError::NotReady(r) => ApiError::conflict(code, e_text(&r.message))
            .with("readiness", json!(r.code))
            .with("message", json!(r.message)),
        LegalDocError::HashMismatch { expected } => ApiError::conflict(
            code,
            "the sha256 given is not the SHA-256 of this draft: reload the PDF and check it again",
        )
        .with_field("sha256")
        .with("sha256", json!(expected)),
        e @ (LegalDocError::DisputedNotUtlegg
        | LegalDocError::ClaimMissing
        | LegalDocError::NoCreditor
        | LegalDocError::DebtorWithoutAddress
        | LegalDocError::Draft(_)
        | LegalDocError::AttachmentUnavailable { .. }
        | LegalDocError::Stale(_)
        | LegalDocError::NotSigned
        | LegalDocError::Contention) => ApiError::conflict(code, e.to_string()),
        e @ (LegalDocError::Render(_)
        | LegalDocError::PdfCorrupt(_)
        | LegalDocError::Store(_)
        | LegalDocError::Bucket(_)) => ApiError::internal().because(e.to_string()),
    }
}

fn e_text(message: &str) -> String {
    format!("legal steps may not be taken now: {message}")
}
