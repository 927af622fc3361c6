// oidc-provider (panva/node-oidc-provider) set up as Warrant's benchmark counterpart: one
// confidential client with the client credentials grant, one API named by a resource indicator
// (RFC 8707) whose access tokens are JWTs signed with ALG, a day long, like Warrant's. Run by
// bench/compare-oidc-provider.sh from the temporary directory it installs oidc-provider into.
//
//   PORT=18090 ALG=ES256 WORKERS=2 CLIENT_ID=bench CLIENT_SECRET=… API=https://api.example.com \
//       node oidc-provider-server.mjs
//
// WORKERS > 1 runs that many processes with Node's cluster module, sharing the port and one
// signing key (made by the primary process).
import cluster from 'node:cluster';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

const { PORT, ALG, CLIENT_ID, CLIENT_SECRET, API } = process.env;
const WORKERS = Number(process.env.WORKERS || 1);

function signingKey(alg) {
  const pair = {
    RS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
    PS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
    ES256: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    EdDSA: () => generateKeyPairSync('ed25519'),
  }[alg];
  if (!pair) throw new Error(`ALG must be RS256, PS256, ES256 or EdDSA, not ${alg}`);
  return { ...pair().privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: randomUUID() };
}

function serve(jwk) {
  const provider = new Provider(`http://127.0.0.1:${PORT}`, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
      // The only key is of ALG: what the client's ID tokens would be signed with too.
      id_token_signed_response_alg: jwk.alg,
      scope: 'read:data',
    }],
    scopes: ['read:data'],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomUUID()] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, resource) {
          if (resource !== API) throw new errors.InvalidTarget();
          return {
            scope: 'read:data',
            audience: API,
            accessTokenTTL: 86400,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: jwk.alg } },
          };
        },
      },
    },
  });
  provider.listen(Number(PORT));
}

if (WORKERS > 1 && cluster.isPrimary) {
  const jwk = JSON.stringify(signingKey(ALG));
  for (let i = 0; i < WORKERS; i += 1) cluster.fork({ SIGNING_JWK: jwk });
} else {
  serve(process.env.SIGNING_JWK ? JSON.parse(process.env.SIGNING_JWK) : signingKey(ALG));
}
