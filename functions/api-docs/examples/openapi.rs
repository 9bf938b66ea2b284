//! Prints the OpenAPI document (`./dev openapi > openapi.json`), the same one the function serves.

fn main() {
    match serde_json::to_string_pretty(&api_docs::document()) {
        Ok(text) => println!("{text}"),
        Err(e) => {
            eprintln!("openapi: {e}");
            std::process::exit(1);
        }
    }
}
