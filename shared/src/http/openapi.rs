//! What every HTTP function's part of the OpenAPI document shares: the error body's schema, the
//! JWT bearer security scheme, and [`document`], which joins the functions' parts into the one
//! OpenAPI 3.1 document `GET /v1/openapi.json` serves.
//!
//! Each function describes its own routes where they are handled: `#[utoipa::path]` on the handler
//! (parameters with their limits, the request body's type, each answer's status and type, the
//! error codes), `ToSchema` on the request and response types themselves, so the document cannot
//! drift from the code that serializes the answers. The template test and the schemathesis run in
//! `make test` hold the document to the deployed routes and to the answers the functions give.

use utoipa::openapi::schema::OneOfBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ContactBuilder, ContentBuilder, InfoBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder,
    ServerBuilder,
};
use utoipa::{PartialSchema, ToSchema};

/// The name of the security scheme every route but the document's own requires.
pub const JWT: &str = "jwt";

/// The one error body of the API (see [`super::ApiError`]): `{"error": {...}}`.
#[derive(Debug, ToSchema)]
#[schema(example = json!({"error": {"code": "account_not_found", "message": "no such account", "field": null}}))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong. More members may follow the four named here (`details`, `fix`, `tripletex`,
/// `allowed`, `status`, …), as each error code documents.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Stable, machine-readable, snake_case (`validation_failed`, `account_not_found`, …).
    pub code: String,
    /// For people; English unless a member says otherwise.
    pub message: String,
    /// The JSON path of the input field to blame (a body member, a query or path parameter, a
    /// header), or null.
    pub field: Option<String>,
    /// With a 503: seconds to wait, also sent as `Retry-After`.
    #[schema(nullable = false)]
    pub retry_after_seconds: Option<u64>,
    /// With a 5xx: the id the log lines of the request carry.
    #[schema(nullable = false)]
    pub request_id: Option<String>,
}

/// What API Gateway itself answers when it refuses a request before any function sees it (no or
/// an invalid JWT: 401 `{"message": "Unauthorized"}`).
#[derive(Debug, ToSchema)]
#[schema(example = json!({"message": "Unauthorized"}))]
pub struct GatewayMessage {
    pub message: String,
}

/// The 401 of every route behind the JWT authorizer.
fn unauthorized() -> Response {
    ResponseBuilder::new()
        .description(
            "No valid JWT: API Gateway's authorizer answers `{\"message\": \"Unauthorized\"}`; a \
             valid token without the `org` or `sub` claim gets the error body with `unauthorized`.",
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(
                    OneOfBuilder::new()
                        .item(Ref::from_schema_name("GatewayMessage"))
                        .item(Ref::from_schema_name("ErrorBody")),
                ))
                .build(),
        )
        .build()
}

/// Joins the functions' parts into the one document: the info block, the JWT bearer scheme
/// required by default, and the paths and components of each part.
pub fn document(parts: impl IntoIterator<Item = OpenApi>) -> OpenApi {
    let mut doc = OpenApi::new(
        InfoBuilder::new()
            .title("Inndrive API")
            .version(env!("CARGO_PKG_VERSION"))
            .description(Some(
                "Follow-up of unpaid invoices for Tripletex customers: accounts and their \
                 Tripletex integration, the mirrored customer ledger, collection cases, dunning, \
                 legal steps and settlements. Every route but this document's own needs a JWT \
                 (`Authorization: Bearer …`) whose `org` claim names the organization and whose \
                 `sub` names the user; another organization's ids answer 404 like ids that do \
                 not exist. Every error is `{\"error\": {\"code\", \"message\", \"field\", …}}`. \
                 The narrative guide is docs/api.md.",
            ))
            .contact(Some(ContactBuilder::new().name(Some("Inndrive")).build()))
            .build(),
        utoipa::openapi::Paths::new(),
    );
    doc.servers = Some(vec![ServerBuilder::new()
        .url("/")
        .description(Some("the stage's invoke URL"))
        .build()]);
    for part in parts {
        doc.merge(part);
    }
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        JWT,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "A JWT of the configured issuer and audience (API Gateway's JWT authorizer); \
                     `org` = the organization, `sub` = the user.",
                ))
                .build(),
        ),
    );
    components
        .schemas
        .insert("ErrorBody".into(), ErrorBody::schema());
    components
        .schemas
        .insert("ErrorDetail".into(), ErrorDetail::schema());
    components
        .schemas
        .insert("GatewayMessage".into(), GatewayMessage::schema());
    doc.security = Some(vec![SecurityRequirement::new(JWT, Vec::<String>::new())]);
    // Every route that does not opt out of the JWT (`security(())`) may answer 401.
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            if op.security.is_none() {
                op.responses
                    .responses
                    .insert("401".into(), RefOr::T(unauthorized()));
            }
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::ApiError;

    #[test]
    fn the_error_schema_names_what_the_error_body_carries() {
        let body = ApiError::unavailable("temporarily_unavailable", "later", 5)
            .with_field("x")
            .body();
        let schema = serde_json::to_value(ErrorDetail::schema()).unwrap();
        let props = schema["properties"].as_object().unwrap();
        for key in body["error"].as_object().unwrap().keys() {
            assert!(props.contains_key(key), "{key} is not in the schema");
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_with_the_jwt_scheme() {
        let doc = serde_json::to_value(document([])).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        assert_eq!(
            doc["components"]["securitySchemes"][JWT]["scheme"],
            "bearer"
        );
        assert_eq!(doc["security"][0][JWT], serde_json::json!([]));
    }
}
