//! warrant-guard's verifier on arbitrary tokens: every input is an error or valid claims,
//! never a panic, with keys configured as a real deployment's are.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use warrant_guard::Verifier;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    verifier: Verifier,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = warrant_server::keys::SigningKey::generate().expect("a key");
        let verifier = Verifier::builder("https://auth.example.com/", "https://api.example.com")
            .manual_keys()
            .build()
            .expect("a verifier");
        verifier.set_keys(&warrant_proto::Jwks {
            keys: vec![key.jwk().clone()],
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        // The fixture is live: a well-formed token of this key verifies.
        let claims = br#"{"iss":"https://auth.example.com/","aud":"https://api.example.com","sub":"c@clients","iat":1800000000,"exp":1800000600}"#;
        let token = key.sign_jwt(claims);
        assert!(runtime.block_on(verifier.verify_at(&token, 1_800_000_000)).is_ok());
        Fixture { runtime, verifier }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let f = fixture();
    let _ = f
        .runtime
        .block_on(f.verifier.verify_at(token, 1_800_000_000));
    let _ = f.verifier.verify_cached(token);
});
