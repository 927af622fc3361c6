"""Schemathesis hooks for the OpenAPI agreement test (python_compat.rs): the server rules that
JSON Schema cannot state, and that the document states in words, kept out of the generated
valid data. An API's scopes: at most 1000 distinct values (an entry repeated as it is counts
once; one value with two descriptions is a 400). Custom claims: a reference
({{client_metadata.<key>}}) names a key the application has, and a token's claims take at most
4096 bytes of JSON."""

import json

import schemathesis

MAX_CLAIMS_BYTES = 4096


def claims_fit(claims):
    """Whether generated custom claims are ones the server accepts whatever the application:
    no reference (the fuzzed application has no metadata), within the size limit."""
    if not isinstance(claims, dict):
        return True
    for value in claims.values():
        if isinstance(value, str) and value.startswith("{{"):
            return False
    size = sum(
        len(json.dumps(name, ensure_ascii=False).encode()) + 2
        + len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
        for name, value in claims.items()
    )
    # A margin for the two encoders' differences (float notation, escapes).
    return size <= MAX_CLAIMS_BYTES - 256


@schemathesis.hook
def filter_body(context, body):
    if isinstance(body, dict) and not claims_fit(body.get("custom_claims")):
        return False
    scopes = body.get("scopes") if isinstance(body, dict) else None
    if isinstance(scopes, list):
        entries = {repr(sorted(s.items())) for s in scopes if isinstance(s, dict)}
        values = {repr(s.get("value")) for s in scopes if isinstance(s, dict)}
        return len(entries) == len(values) and len(values) <= 1000
    return True
