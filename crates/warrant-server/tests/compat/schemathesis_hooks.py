"""Schemathesis hooks for the OpenAPI agreement test (python_compat.rs): the server rules that
JSON Schema cannot state, and that the document states in words, kept out of the generated
valid data. An API's scopes: at most 1000 distinct values (an entry repeated as it is counts
once; one value with two descriptions is a 400)."""

import schemathesis


@schemathesis.hook
def filter_body(context, body):
    scopes = body.get("scopes") if isinstance(body, dict) else None
    if isinstance(scopes, list):
        entries = {repr(sorted(s.items())) for s in scopes if isinstance(s, dict)}
        values = {repr(s.get("value")) for s in scopes if isinstance(s, dict)}
        return len(entries) == len(values) and len(values) <= 1000
    return True
