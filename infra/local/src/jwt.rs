//! Local dev JWTs: HS256 with a fixed, non-secret dev key (AWS verifies RS256 against the issuer's
//! JWKS instead; the claims the handlers see are the same).

use std::collections::BTreeMap;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Map, Value as Json};

/// The local signing key. Not a secret: it only exists on developer machines.
pub const DEV_JWT_KEY: &[u8] = b"inndrive-local-dev-jwt-key-not-a-secret";
/// The issuer the local stack passes as the template's `JwtIssuer` parameter.
pub const DEV_ISSUER: &str = "https://auth.inndrive.local/";
/// The audience the local stack passes as the template's `JwtAudience` parameter.
pub const DEV_AUDIENCE: &str = "inndrive-local";

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Signs a token with the dev key: `iss`, `aud`, `sub`, `org` (the organization), `iat`, `exp`.
pub fn sign(issuer: &str, audience: &str, org: &str, sub: &str, ttl: Duration) -> String {
    let now = now_secs();
    let claims = json!({
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "org": org,
        "iat": now,
        "exp": now + ttl.as_secs(),
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(DEV_JWT_KEY),
    )
    // HS256 over a JSON object cannot fail.
    .unwrap_or_default()
}

#[derive(Debug, thiserror::Error)]
#[error("invalid token: {0}")]
pub struct InvalidToken(String);

/// Verifies signature (HS256, dev key), `iss`, `aud` (any of `audiences`) and `exp`; returns the claims.
pub fn verify(
    token: &str,
    issuer: &str,
    audiences: &[String],
) -> Result<Map<String, Json>, InvalidToken> {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_issuer(&[issuer]);
    v.set_audience(audiences);
    v.leeway = 0;
    let data = jsonwebtoken::decode::<Map<String, Json>>(
        token,
        &DecodingKey::from_secret(DEV_JWT_KEY),
        &v,
    )
    .map_err(|e| InvalidToken(e.to_string()))?;
    Ok(data.claims)
}

/// Claims as API Gateway hands them to the function: every value a string (numbers and booleans
/// stringified, arrays as `[a b]`, objects as JSON).
pub fn claims_as_strings(claims: &Map<String, Json>) -> BTreeMap<String, String> {
    claims
        .iter()
        .map(|(k, v)| {
            let s = match v {
                Json::String(s) => s.clone(),
                Json::Array(a) => format!(
                    "[{}]",
                    a.iter()
                        .map(|x| match x {
                            Json::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                other => other.to_string(),
            };
            (k.clone(), s)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_token_verifies_and_carries_org() {
        let t = sign(
            DEV_ISSUER,
            DEV_AUDIENCE,
            "org_acme",
            "user-1",
            Duration::from_secs(60),
        );
        let c = verify(&t, DEV_ISSUER, &[DEV_AUDIENCE.to_string()]).unwrap();
        assert_eq!(c["org"], "org_acme");
        assert_eq!(c["sub"], "user-1");
        let s = claims_as_strings(&c);
        assert_eq!(s["org"], "org_acme");
        assert!(s["exp"].parse::<u64>().is_ok());
    }

    #[test]
    fn wrong_issuer_audience_key_or_expired_is_rejected() {
        let aud = [DEV_AUDIENCE.to_string()];
        let t = sign(
            "https://other/",
            DEV_AUDIENCE,
            "o",
            "s",
            Duration::from_secs(60),
        );
        assert!(verify(&t, DEV_ISSUER, &aud).is_err());
        let t = sign(DEV_ISSUER, "other-aud", "o", "s", Duration::from_secs(60));
        assert!(verify(&t, DEV_ISSUER, &aud).is_err());
        let t = sign(DEV_ISSUER, DEV_AUDIENCE, "o", "s", Duration::from_secs(0));
        std::thread::sleep(Duration::from_millis(1100));
        assert!(verify(&t, DEV_ISSUER, &aud).is_err(), "expired");
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "org": "o", "exp": now_secs() + 60}),
            &EncodingKey::from_secret(b"another key"),
        )
        .unwrap();
        assert!(verify(&forged, DEV_ISSUER, &aud).is_err());
        assert!(verify("not.a.jwt", DEV_ISSUER, &aud).is_err());
    }

    #[test]
    fn claim_values_are_stringified_like_api_gateway() {
        let c: Map<String, Json> = serde_json::from_value(json!({
            "n": 5, "b": true, "l": ["a", "b"], "o": {"x": 1}, "s": "t"
        }))
        .unwrap();
        let s = claims_as_strings(&c);
        assert_eq!(s["n"], "5");
        assert_eq!(s["b"], "true");
        assert_eq!(s["l"], "[a b]");
        assert_eq!(s["o"], r#"{"x":1}"#);
        assert_eq!(s["s"], "t");
    }
}
