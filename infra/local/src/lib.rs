//! The local stack: moto (local AWS) provisioned from `template.yaml`, the Tripletex sandbox, and a
//! Lambda runner that runs the deployed function binaries through the Lambda Runtime API, fronted by
//! an API Gateway HTTP API emulation (with JWT authorizer) and SQS event sources. See docs/local.md.

pub mod apigw;
pub mod client;
pub mod demo;
pub mod jwt;
pub mod moto;
pub mod provision;
mod rng;
pub mod runtime;
pub mod sqs_source;
pub mod stack;
pub mod startup;
pub mod template;

use std::time::Duration;

pub use runtime::InvokeError;
pub use stack::{repo_root, start, LocalStack, StackOptions};
pub use template::{ResolvedResource, ResolvedResources};

/// A JWT the local API accepts: HS256 with the local dev key, the local issuer and audience, and the
/// custom claim `org` = `org`.
pub fn dev_jwt(org: &str, sub: &str, ttl: Duration) -> String {
    jwt::sign(jwt::DEV_ISSUER, jwt::DEV_AUDIENCE, org, sub, ttl)
}
