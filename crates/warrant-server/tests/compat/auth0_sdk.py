"""Auth0's own Python SDK (auth0-python) against Warrant, over TLS, changing only the domain:
the management client creates an API, an application and a grant with its automatic
client-credentials token, then the authentication client gets a token for the new application.

Environment: DOMAIN (host:port), ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET, and SSL_CERT_FILE /
REQUESTS_CA_BUNDLE naming the CA to trust.
"""

import os

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
print("AUTH0_SDK_OK")
