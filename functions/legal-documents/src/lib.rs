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

use shared::http::openapi::ErrorBody;
use shared::http::{json_response, ApiError, Reply, Req, Router};
use shared::services::legal::documents::{
    ApproveRequest, DocumentList, DocumentView, DraftRequest, LegalDocError, LegalDocuments, Part,
};

/// The routes (template.yaml routes the same ones to this function).
pub static ROUTER: LazyLock<Router<LegalDocuments>> = LazyLock::new(|| {
    Router::new()
        .post("/v1/cases/{id}/legal-documents", draft)
        .get("/v1/cases/{id}/legal-documents", list)
        .get("/v1/cases/{id}/legal-documents/{docId}", get)
        .get("/v1/cases/{id}/legal-documents/{docId}/pdf", pdf)
        .post("/v1/cases/{id}/legal-documents/{docId}/approve", approve)
});

/// This function's part of the OpenAPI document: its routes, as the handlers below declare them.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(draft, list, get, pdf, approve),
    tags((name = "legal-documents", description = "The documents a creditor signs to take legal steps: begjæring om utlegg, forliksklage"))
)]
pub struct ApiDoc;

/// Handles one request. Never fails: every error is an answer. `now` comes from the caller.
pub async fn handle(
    svc: &LegalDocuments,
    req: Request,
    now: DateTime<Utc>,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(ROUTER.serve(svc, req, now).await)
}

#[utoipa::path(
    post,
    path = "/v1/cases/{id}/legal-documents",
    operation_id = "draftLegalDocument",
    tag = "legal-documents",
    summary = "Drafts the case's legal document (begjæring om utlegg, or forliksklage for a disputed claim) with its attachments; a repeat answers the same draft while nothing changed",
    request_body = DraftRequest,
    params(("id" = String, Path, description = "The case id: `{accountId}.case_{claim}`.", pattern = "^acc_[0-9a-z]{26,40}\\.case_[A-Za-z0-9_-]{1,80}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001")),
    responses((status = 201, description = "Drafted", body = DocumentView, links(("GetDocument" = (operation_id = "getLegalDocument", parameters(("id" = "$request.path.id"), ("docId" = "$response.body#/id")))), ("DocumentPdf" = (operation_id = "getLegalDocumentPdf", parameters(("id" = "$request.path.id"), ("docId" = "$response.body#/id")))))), (status = 200, description = "The same draft exists", body = DocumentView), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field` (the body does not fit; `field` names it)", body = ErrorBody), (status = 404, description = "`case_not_found`: no such case in the organization (another organization's case answers the same)", body = ErrorBody), (status = 409, description = "Legal steps may not be taken now (`not_ready` with `readiness`), the claim is disputed (`disputed_not_utlegg`), no creditor details, the debtor has no address, an attachment is unavailable, …", body = ErrorBody), (status = 422, description = "A field breaks a rule (`field` names it)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
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

#[utoipa::path(
    get,
    path = "/v1/cases/{id}/legal-documents",
    operation_id = "listLegalDocuments",
    tag = "legal-documents",
    summary = "The case's legal documents, newest first",
    params(("id" = String, Path, description = "The case id: `{accountId}.case_{claim}`.", pattern = "^acc_[0-9a-z]{26,40}\\.case_[A-Za-z0-9_-]{1,80}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001")),
    responses((status = 200, description = "The documents", body = DocumentList, links(("GetDocument" = (operation_id = "getLegalDocument", parameters(("id" = "$request.path.id"), ("docId" = "$response.body#/documents/0/id")))))), (status = 404, description = "`case_not_found`: no such case in the organization (another organization's case answers the same)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn list(svc: &LegalDocuments, req: &Req) -> Reply {
    let org = req.org()?;
    let list = svc.list(&org, req.param("id")?).await.map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &list))
}

#[utoipa::path(
    get,
    path = "/v1/cases/{id}/legal-documents/{docId}",
    operation_id = "getLegalDocument",
    tag = "legal-documents",
    summary = "One legal document: its fields, status, approval",
    params(("id" = String, Path, description = "The case id: `{accountId}.case_{claim}`.", pattern = "^acc_[0-9a-z]{26,40}\\.case_[A-Za-z0-9_-]{1,80}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001"), ("docId" = String, Path, description = "The document id", pattern = "^doc_[0-9a-f]{32}$", example = "doc_0123456789abcdef0123456789abcdef")),
    responses((status = 200, description = "The document", body = DocumentView), (status = 404, description = "`case_not_found`, `document_not_found`", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn get(svc: &LegalDocuments, req: &Req) -> Reply {
    let org = req.org()?;
    let view = svc
        .get(&org, req.param("id")?, req.param("docId")?)
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &view))
}

#[utoipa::path(
    get,
    path = "/v1/cases/{id}/legal-documents/{docId}/pdf",
    operation_id = "getLegalDocumentPdf",
    tag = "legal-documents",
    summary = "The document as PDF: the draft, its attachments bundle, or the signed copy",
    params(("id" = String, Path, description = "The case id: `{accountId}.case_{claim}`.", pattern = "^acc_[0-9a-z]{26,40}\\.case_[A-Za-z0-9_-]{1,80}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001"), ("docId" = String, Path, description = "The document id", pattern = "^doc_[0-9a-f]{32}$", example = "doc_0123456789abcdef0123456789abcdef"), ("part" = Option<String>, Query, description = "document (default), attachments or signed", pattern = "^(document|attachments|signed)$")),
    responses((status = 200, description = "The PDF; `x-content-sha256` is its SHA-256 (what an approval names)", content_type = "application/pdf", body = Vec<u8>, headers(("Content-Disposition" = String), ("x-content-sha256" = String))), (status = 400, description = "`invalid_query`: `part` is not one of the three", body = ErrorBody), (status = 404, description = "`case_not_found`, `document_not_found`", body = ErrorBody), (status = 409, description = "`not_signed`: no signed copy yet", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
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

#[utoipa::path(
    post,
    path = "/v1/cases/{id}/legal-documents/{docId}/approve",
    operation_id = "approveLegalDocument",
    tag = "legal-documents",
    summary = "Approves the draft: records who, when and the SHA-256 of the PDF approved, and stores the signed copy (approving twice keeps the first)",
    request_body = ApproveRequest,
    params(("id" = String, Path, description = "The case id: `{accountId}.case_{claim}`.", pattern = "^acc_[0-9a-z]{26,40}\\.case_[A-Za-z0-9_-]{1,80}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001"), ("docId" = String, Path, description = "The document id", pattern = "^doc_[0-9a-f]{32}$", example = "doc_0123456789abcdef0123456789abcdef")),
    responses((status = 200, description = "The document, approved", body = DocumentView), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field` (the body does not fit; `field` names it)", body = ErrorBody), (status = 404, description = "`case_not_found`, `document_not_found`", body = ErrorBody), (status = 409, description = "`hash_mismatch` (the PDF changed: reload it), `stale` (the case changed since the draft), `contention`", body = ErrorBody), (status = 422, description = "A field breaks a rule (`field` names it)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
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
