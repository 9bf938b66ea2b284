//! The function serves exactly the routes template.yaml sends it, and serves them without a token.

use chrono::Utc;
use lambda_http::http::StatusCode;
use test_support::http::gateway_request;

#[test]
fn the_router_serves_the_template_s_routes() {
    let mut served = api_docs::ROUTER.route_keys();
    served.sort();
    assert_eq!(served, test_support::http_routes("api-docs"));
}

#[tokio::test]
async fn the_document_and_its_page_are_served_without_a_token() {
    let contract = api_docs::Contract::new();
    let r = api_docs::handle(
        &contract,
        gateway_request("GET", "/v1/openapi.json", &[], None),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    let doc: serde_json::Value = serde_json::from_slice(r.body().as_ref()).unwrap();
    assert_eq!(doc, serde_json::to_value(api_docs::document()).unwrap());
    assert_eq!(doc["openapi"], "3.1.0");

    let r = api_docs::handle(
        &contract,
        gateway_request("GET", "/v1/docs", &[], None),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = String::from_utf8_lossy(r.body().as_ref()).to_string();
    assert!(page.contains(r#"spec-url="openapi.json""#), "{page}");

    // Any other method or path is the shared edge's 405 / 404 with the error body.
    let r = api_docs::handle(
        &contract,
        gateway_request("POST", "/v1/openapi.json", &[], Some("{}")),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
}
