//! The local stack: moto (local AWS) provisioned from `template.yaml`, the Tripletex sandbox, and a
//! Lambda runner that runs the deployed function binaries through the Lambda Runtime API, fronted by
//! an API Gateway HTTP API emulation (with JWT authorizer) and SQS event sources.

pub mod moto;
pub mod provision;
pub mod runtime;
pub mod sqs_source;
pub mod template;
