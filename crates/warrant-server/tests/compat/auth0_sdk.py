"""Auth0's own Python SDK (auth0-python) against Warrant, over TLS, changing only the domain:
the management client creates an API, an application and a grant with its automatic
client-credentials token, then the authentication client gets a token for the new application;
it lists and gets the signing keys, whose certificates are those of the keys in the JWKS.

Environment: DOMAIN (host:port), ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET, and SSL_CERT_FILE /
REQUESTS_CA_BUNDLE naming the CA to trust.
"""

import base64
import hashlib
import os

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from auth0.authentication import GetToken
from auth0.management import ManagementClient

domain = os.environ["DOMAIN"]
audience = "https://sdk.example.com"

mgmt = ManagementClient(
    domain=domain,
    client_id=os.environ["ADMIN_CLIENT_ID"],
    client_secret=os.environ["ADMIN_CLIENT_SECRET"],
)
api = mgmt.resource_servers.create(
    identifier=audience,
    name="SDK API",
    scopes=[{"value": "read:data", "description": "Read data"}],
    token_lifetime=3600,
)
assert api.identifier == audience, api
client = mgmt.clients.create(
    name="sdk-worker",
    app_type="non_interactive",
    grant_types=["client_credentials"],
)
assert client.client_secret, "the secret is returned at creation"
grant = mgmt.client_grants.create(client_id=client.client_id, audience=audience, scope=["read:data"])
assert list(grant.scope) == ["read:data"], grant

fetched = mgmt.resource_servers.get(api.id)
assert fetched.name == "SDK API", fetched

token = GetToken(domain, client.client_id, client_secret=client.client_secret).client_credentials(audience)
assert token["token_type"] == "Bearer", token
assert token["scope"] == "read:data", token
assert token["expires_in"] == 3600, token
keys = mgmt.keys.signing.list()
assert len(keys) == 2, keys
assert sum(1 for k in keys if k.current) == 1 and sum(1 for k in keys if k.next) == 1, keys
jwks = {k["kid"]: k for k in httpx.get(f"https://{domain}/.well-known/jwks.json").json()["keys"]}
for listed in keys:
    key = mgmt.keys.signing.get(listed.kid)
    assert key.cert == listed.cert and key.fingerprint == listed.fingerprint, key
    cert = x509.load_pem_x509_certificate(key.cert.encode())
    der = cert.public_bytes(Encoding.DER)
    sha1 = hashlib.sha1(der).hexdigest().upper()
    assert key.thumbprint == sha1, key
    assert key.fingerprint == ":".join(sha1[i : i + 2] for i in range(0, 40, 2)), key
    assert pkcs7.load_pem_pkcs7_certificates(key.pkcs_7.encode()) == [cert], key
    # The certificate is the JWKS key's: same public numbers, same x5c and x5t.
    jwk = jwks[key.kid]
    numbers = cert.public_key().public_numbers()
    as_int = lambda b64: int.from_bytes(base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)), "big")
    assert (numbers.n, numbers.e) == (as_int(jwk["n"]), as_int(jwk["e"])), key.kid
    assert base64.b64decode(jwk["x5c"][0]) == der, key.kid
    assert jwk["x5t"] == base64.urlsafe_b64encode(hashlib.sha1(der).digest()).rstrip(b"=").decode()

print("AUTH0_SDK_OK")
