#!/usr/bin/env python3
"""Instructions per token by component, from a callgrind dump of `warrant serve` that covers
N token requests (bench/callgrind-tokens.sh makes one).

    python3 bench/callgrind-account.py callgrind.out.1 N

Reads the dump's call graph: each function's own instructions, and each call's inclusive
cost. Release builds inline most of the request path into the token handler's future
(`<F as axum::handler::Handler<…>>::call::{{closure}}`), so the components are what that
future calls that is not inlined (signing, SHA-256, serde_json, the audit queue, metrics...)
and the rest is the handler's own work (strings, headers, the body). Everything outside the
handler is the HTTP stack and runtime (hyper, axum's router and middleware, tokio), except the
background tasks: the audit writer (whose cost per token depends on how many events share a
commit, that is on the request rate) and the catalog watcher (a poll every 250 ms, not per
token). Allocation (malloc and free) and copies (memcpy) are counted again apart, across all
components. The kernel (system calls, fsync, context switches) is not in a callgrind profile.
"""
import collections
import re
import sys


def parse(path):
    names = {"fn": {}, "fl": {}, "ob": {}}
    own = collections.Counter()
    edges = collections.Counter()  # (caller, callee) -> inclusive instructions
    calls = collections.Counter()  # (caller, callee) -> number of calls
    fn = cfn = None
    pending = None

    def name(kind, text):
        m = re.match(r"\((\d+)\)(?: (.*))?$", text)
        if not m:
            return text
        if m.group(2) is not None:
            names[kind][m.group(1)] = m.group(2)
            return m.group(2)
        return names[kind][m.group(1)]

    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line[0].isdigit() or line[0] in "+-*":
                parts = line.split()
                ir = int(parts[1]) if len(parts) > 1 else 0
                if pending is not None:
                    edges[(fn, pending[0])] += ir
                    calls[(fn, pending[0])] += pending[1]
                    pending = None
                else:
                    own[fn] += ir
                continue
            key, _, val = line.partition("=")
            if key == "fn":
                fn = name("fn", val)
            elif key == "cfn":
                cfn = name("fn", val)
            elif key in ("fl", "fi", "fe", "cfi", "cfl"):
                name("fl", val)
            elif key in ("ob", "cob"):
                name("ob", val)
            elif key == "calls":
                pending = (cfn, int(val.split()[0]))
    return own, edges, calls


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    own, edges, calls = parse(path)
    total = sum(own.values())

    def match(pattern):
        return [f for f in own if f and re.search(pattern, f)]

    def inclusive(pattern):
        fs = set(match(pattern))
        return sum(own[f] for f in fs) + sum(
            c for (a, b), c in edges.items() if a in fs and b not in fs
        )

    def called(callers, callee):
        """Inclusive cost of calls from functions matching `callers` to ones matching `callee`."""
        return sum(
            c
            for (a, b), c in edges.items()
            if a and b and re.search(callers, a) and re.search(callee, b) and not re.search(callee, a)
        )

    handler = r"^<F as axum::handler::Handler<.*>>::call::\{\{closure\}\}$"
    issue_path = handler + r"|^warrant_server::issuance::|^warrant_server::http::token::(?!token_response_body$)"
    writer = r"^warrant_server::audit::AuditWriter::"
    background = r"^warrant_server::catalog::watcher::|^warrant_server::limits::quota::QuotaTracker::flush"

    handler_total = inclusive(handler)
    signing = inclusive(r"^warrant_server::keys::signing::SigningKey::sign_jwt$")
    sha_secret = called(issue_path, r"^aws_lc_0_\d+_\d+_SHA256$")
    jti = called(issue_path + r"|^warrant_server::domain::random::", r"^aws_lc_0_\d+_\d+_RAND_bytes$")
    parse_request = inclusive(r"^warrant_server::http::token::wire::ParsedRequest::parse$")
    response = r"^warrant_server::http::error::no_store_json$|^warrant_server::http::token::token_response_body$"
    serde = r"^serde|^serde_json::|^serde_core::"
    # The claims' and the response's serialization: serde_json called on the request path, and
    # the response body's own function when it is not inlined.
    json_out = called(issue_path, serde) + inclusive(response)
    lookup = inclusive(r"^warrant_server::catalog::Catalog::client")
    audit_record = inclusive(r"^warrant_server::audit::AuditLog::record$")
    metrics = inclusive(r"^warrant_server::metrics::Metrics::token_request$")
    handler_rest = handler_total - (
        signing + sha_secret + jti + parse_request + json_out + lookup + audit_record + metrics
    )
    audit_writer = inclusive(writer)
    bg = inclusive(background)
    http_stack = total - handler_total - audit_writer - bg
    # axum boxes the handler's future: a large future is copied there, once a token.
    future_moves = called(r"^<tower::util::map_future::MapFuture<.*>::call$", r"^__memcpy")
    alloc = sum(
        own[f]
        for f in match(
            r"^(malloc|free|realloc|calloc|cfree|_int_malloc|_int_free|_int_realloc|"
            r"malloc_consolidate|unlink_chunk.*|tcache.*|__libc_malloc|__libc_free|"
            r"__libc_realloc|alloc_perturb|_int_free_merge_chunk|_int_free_create_chunk|"
            r"_int_free_maybe_consolidate)$"
        )
    )
    copies = sum(own[f] for f in match(r"^__mem(cpy|move)"))
    # SQLite syncs its WAL once per commit (synchronous=FULL): the number of commits.
    commits = sum(k for (a, b), k in calls.items() if b and re.search(r"^unixSync$", b))

    rows = [
        ("token handler (everything the request path calls)", handler_total),
        ("  signing (signature, SHA-256 of the signing input, base64 of the JWS)", signing),
        ("  SHA-256 of the client secret", sha_secret),
        ("  jti (16 random bytes)", jti),
        ("  JSON: parsing the request (wire.rs)", parse_request),
        ("  JSON: claims and token response (serde_json)", json_out),
        ("  client lookup (catalog cache)", lookup),
        ("  audit queue (record)", audit_record),
        ("  metrics", metrics),
        ("  the handler's own work (strings, headers, body, scopes, grant)", handler_rest),
        ("HTTP stack and runtime (hyper, axum, tokio)", http_stack),
        ("  of which copying the handler's future into its box", future_moves),
        (f"audit writer ({commits} SQLite commits in all for {n} tokens)", audit_writer),
        ("catalog watcher and quota flush (per interval, not per token)", bg),
        ("total", total),
        ("across all of the above: allocation (malloc, free)", alloc),
        ("across all of the above: copies (memcpy, memmove)", copies),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'component':<{width}}  {'instructions/token':>18}  {'share':>6}")
    for label, value in rows:
        print(f"{label:<{width}}  {value / n:>18,.0f}  {100 * value / total:>5.1f}%")


if __name__ == "__main__":
    main()
