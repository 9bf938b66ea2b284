//! The HTTP edge of the API functions (API Gateway HTTP API, payload 2.0, JWT authorizer).
//!
//! - [`Router`] (router.rs): routes → handlers, the request span, 404/405, the error body for every
//!   error; each HTTP function declares its routes with it and does nothing else at the edge.
//! - [`ApiError`] (error.rs): `{"error": {"code", "message", "field", ...}}`, the one error body.
//! - request.rs: what handlers read: the organization (`org`) and user (`sub`) from the JWT claims,
//!   never from the path, query or body; the JSON body, with errors naming the field.
//! - openapi.rs: the error body's schema, the JWT scheme, and the join of the functions' parts of
//!   the OpenAPI document.

mod error;
pub mod openapi;
mod request;
mod router;

pub use error::{empty_response, json_response, with_location, ApiError};
pub use request::{
    no_body, org_id, parse_json, parse_json_bytes, parse_json_or_default, query_param, user_id,
    ORG_CLAIM, USER_CLAIM,
};
pub use router::{Handler, Reply, ReplyFuture, Req, Router};
