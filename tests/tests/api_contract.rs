//! The HTTP API's published contract, held to the template and to the running functions.
//!
//! - Every route of `template.yaml` is in the OpenAPI document and the document names no route the
//!   template lacks; the routes without the JWT authorizer are exactly those the document marks
//!   public (`security: [{}]`).
//! - The document the api-docs function serves at `GET /v1/openapi.json`, without a token, is the
//!   one the code generates.
//! - schemathesis (the tools venv) fuzzes every operation of the served document against the local
//!   stack (moto, the Tripletex sandbox, the real function binaries) with a valid JWT of an
//!   organization whose Tripletex client is connected and synced: the examples, the coverage
//!   phase (each parameter's limits and their violations), bounded random fuzzing, and the
//!   stateful phase that follows the document's links from created and listed resources to the
//!   routes that take their ids. No answer may be a 5xx, and every answer must conform to the
//!   document (status code, content type, headers, body schema); input the document forbids
//!   must be refused with a 4xx. Fixed seed, bounded examples: the run stays well under 5 minutes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use e2e::{connected_world, fixture_company_id, start_stack, Api};
use inndrive_local::template::Template;
use serde_json::Value;

/// The routes of `template.yaml` (`GET /v1/accounts`) and whether API Gateway's JWT authorizer
/// guards them.
fn template_routes() -> BTreeMap<String, bool> {
    let path = inndrive_local::repo_root().join("template.yaml");
    let template = Template::from_path(&path).expect("template.yaml parses");
    let mut routes = BTreeMap::new();
    for r in template.resources.values() {
        if r.type_ != "AWS::Serverless::Function" {
            continue;
        }
        let Some(events) = r.properties.get("Events").and_then(Value::as_object) else {
            continue;
        };
        for e in events.values() {
            if e["Type"] != "HttpApi" {
                continue;
            }
            let p = &e["Properties"];
            let route = format!(
                "{} {}",
                p["Method"].as_str().expect("a method").to_uppercase(),
                p["Path"].as_str().expect("a path")
            );
            let public = p["Auth"]["Authorizer"] == "NONE";
            routes.insert(route, !public);
        }
    }
    routes
}

/// The document's operations (`GET /v1/accounts`) and whether they need the JWT.
fn document_routes(doc: &Value) -> BTreeMap<String, bool> {
    let mut routes = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            // `security: [{}]` is "no security"; without `security` the document's default holds.
            let public = op["security"].as_array().is_some_and(|s| {
                s.iter()
                    .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
            });
            routes.insert(format!("{} {path}", method.to_uppercase()), !public);
        }
    }
    routes
}

fn generated() -> Value {
    serde_json::to_value(api_docs::document()).expect("the document serializes")
}

#[test]
fn every_template_route_is_in_the_document_and_the_document_names_no_other() {
    let template = template_routes();
    let document = document_routes(&generated());
    let missing: Vec<_> = template
        .keys()
        .filter(|r| !document.contains_key(*r))
        .collect();
    let extra: Vec<_> = document
        .keys()
        .filter(|r| !template.contains_key(*r))
        .collect();
    assert!(
        missing.is_empty(),
        "routes of template.yaml the OpenAPI document lacks (add #[utoipa::path] to the handler \
         and list it in its function's ApiDoc): {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "routes of the OpenAPI document template.yaml lacks: {extra:?}"
    );
    assert_eq!(
        template, document,
        "the template's JWT authorizer and the document's security disagree"
    );
    assert!(template.len() >= 50, "{} routes", template.len());
}

#[test]
fn the_document_is_openapi_3_1_with_errors_limits_and_examples() {
    let doc = generated();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["jwt"]["bearerFormat"],
        "JWT"
    );
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path}: no success answer"
            );
            // Every route that needs the JWT may fail: its errors are documented with the error
            // body and their codes.
            if op.get("security").is_none() {
                let errors: Vec<_> = responses
                    .iter()
                    .filter(|(s, _)| s.starts_with('4') || s.starts_with('5'))
                    .filter(|(s, _)| *s != "401")
                    .collect();
                assert!(!errors.is_empty(), "{method} {path}: no error answer");
                assert!(responses.contains_key("401"), "{method} {path}: no 401");
                for (status, r) in errors {
                    assert_eq!(
                        r["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                    assert!(
                        r["description"].as_str().unwrap().contains('`'),
                        "{method} {path} {status}: the description names no error code"
                    );
                }
            }
            // Each path parameter has its limits (a pattern, a format or a length).
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "path" {
                    let s = &p["schema"];
                    assert!(
                        ["pattern", "format", "maxLength"]
                            .iter()
                            .any(|k| s.get(*k).is_some()),
                        "{method} {path}: parameter {} has no limits",
                        p["name"]
                    );
                }
            }
        }
    }
    assert!(operations >= 50);
    // Amounts are exact strings, with an example.
    let money =
        serde_json::to_value(<shared::domain::Money as utoipa::PartialSchema>::schema()).unwrap();
    assert_eq!(money["type"], "string");
    assert!(money["examples"].is_array());
}

/// The schemathesis of the tools venv (`./dev test` installs it).
fn schemathesis() -> Option<std::path::PathBuf> {
    let venv = std::env::var("INNDRIVE_MOTO_VENV").ok()?;
    let bin = Path::new(&venv).join("bin").join("schemathesis");
    bin.exists().then_some(bin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_every_answer_conforms_to_the_served_document() {
    let Some(schemathesis) = schemathesis() else {
        panic!(
            "schemathesis is not installed: run the tests with ./dev test (it installs the tools \
             venv), or set INNDRIVE_MOTO_VENV to a venv that has it"
        );
    };
    let stack = start_stack().await.expect("stack");
    let org = "org_contract";
    let a = Api::new(&stack, org);
    let world = connected_world(&stack, &a, fixture_company_id("Fjordkraft Rørlegger AS")).await;

    // Served without a token, and the same document the code generates.
    let public = Api::with_token(&stack.api_url, None);
    let served = public.get("/v1/openapi.json").await.unwrap();
    assert_eq!(served.status, 200, "{}", served.raw);
    assert_eq!(
        served.body,
        generated(),
        "the served document is not the generated one"
    );
    let page = public.get("/v1/docs").await.unwrap();
    assert_eq!(page.status, 200);
    assert!(page.raw.contains("openapi.json"), "{}", page.raw);

    let report = std::env::temp_dir().join(format!("inndrive-schemathesis-{}", std::process::id()));
    let jwt = stack.dev_jwt(org);
    let started = Instant::now();
    // The served document, from a file: loaded from its own URL, schemathesis would leave that
    // route out.
    std::fs::create_dir_all(&report).unwrap();
    let document = report.join("openapi.json");
    std::fs::write(&document, &served.raw).unwrap();
    let out = tokio::task::spawn_blocking({
        let base = stack.api_url.trim_end_matches('/').to_string();
        let report = report.clone();
        move || {
            Command::new(schemathesis)
                .arg("--config-file")
                .arg(inndrive_local::repo_root().join("tests/schemathesis.toml"))
                .arg("run")
                .arg(&document)
                .args(["--url", &base])
                .args(["--header", &format!("Authorization: Bearer {jwt}")])
                .args([
                    "--checks",
                    "not_a_server_error,status_code_conformance,content_type_conformance,\
                     response_headers_conformance,response_schema_conformance,\
                     negative_data_rejection",
                ])
                .args(["--phases", "examples,coverage,fuzzing,stateful"])
                .args(["--max-examples", "25", "--seed", "1313", "--workers", "2"])
                .args(["--request-timeout", "30", "--max-failures", "25"])
                .args(["--suppress-health-check", "all", "--no-color"])
                .args(["--report", "junit", "--report-dir"])
                .arg(&report)
                .output()
                .expect("schemathesis runs")
        }
    })
    .await
    .unwrap();
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}\n{stderr}");
    eprintln!(
        "schemathesis: {:.0} s against the local stack ({} operations in the document; account \
         {} with case {})",
        elapsed.as_secs_f64(),
        document_routes(&generated()).len(),
        world.account,
        world.case
    );
    assert!(
        out.status.success(),
        "schemathesis found failures (see above); the function logs:\n{}",
        stack
            .logs()
            .iter()
            .filter(|l| l.contains("ERROR") || l.contains("\"level\":\"ERROR\""))
            .take(50)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        elapsed < Duration::from_secs(300),
        "the run took {elapsed:?}; keep it under 5 minutes"
    );
    let _ = std::fs::remove_dir_all(&report);
}
