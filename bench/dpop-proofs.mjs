// DPoP proofs for bench/guard-load.sh's DPoP mode, made with Node's own crypto (nothing to
// install): a client that signed a fresh proof per request would measure the client, so the
// proofs are made before the run and each is sent once.
//
//   node bench/dpop-proofs.mjs token ISSUER CLIENT_ID CLIENT_SECRET AUDIENCE KEY_FILE
//       gets a DPoP-bound token with a new P-256 key (saved as a JWK in KEY_FILE); prints it
//   node bench/dpop-proofs.mjs proofs KEY_FILE TOKEN URL COUNT OUT_FILE
//       writes COUNT proofs for GET URL (unique jti, iat now, ath of TOKEN), one a line
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

const b64 = (data) => Buffer.from(data).toString('base64url');

function proof(key, publicJwk, htm, htu, token) {
  const header = b64(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: publicJwk }));
  const claims = { htm, htu, iat: Math.floor(Date.now() / 1000), jti: b64(randomBytes(16)) };
  if (token) claims.ath = b64(createHash('sha256').update(token).digest());
  const input = `${header}.${b64(JSON.stringify(claims))}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64(signature)}`;
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'token') {
  const [issuer, clientId, clientSecret, audience, keyFile] = args;
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(keyFile, JSON.stringify(privateKey.export({ format: 'jwk' })), { mode: 0o600 });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
  const endpoint = `${issuer}oauth/token`;
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      dpop: proof(privateKey, { kty, crv, x, y }, 'POST', endpoint),
    },
    body: JSON.stringify({
      grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, audience,
    }),
  });
  const body = await response.json();
  if (body.token_type !== 'DPoP') throw new Error(`no DPoP-bound token: ${JSON.stringify(body)}`);
  console.log(body.access_token);
} else if (mode === 'proofs') {
  const [keyFile, token, url, count, out] = args;
  const jwk = JSON.parse(readFileSync(keyFile, 'utf8'));
  const key = createPrivateKey({ key: jwk, format: 'jwk' });
  const { kty, crv, x, y } = jwk;
  const lines = [];
  for (let i = 0; i < Number(count); i++) lines.push(proof(key, { kty, crv, x, y }, 'GET', url, token));
  writeFileSync(out, lines.join('\n') + '\n');
} else {
  throw new Error('usage: dpop-proofs.mjs token|proofs ...');
}
