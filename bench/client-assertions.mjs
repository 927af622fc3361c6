// private_key_jwt client assertions for bench/token-load.sh's AUTH=private_key_jwt mode, made
// with Node's own crypto (nothing to install). A jti is single-use, so a client that signed a
// fresh assertion per request would measure the client: the assertions are made before the run
// and wrk sends each once.
//
//   node bench/client-assertions.mjs key ALG KEY_FILE PUBLIC_PEM_FILE
//       a new key for ALG (ES256: P-256, RS256: RSA 2048), the private key as a JWK in
//       KEY_FILE, its public key as PEM (to register with `warrant app credentials add`)
//   node bench/client-assertions.mjs bodies ALG KEY_FILE ISSUER CLIENT_ID AUDIENCE LIFETIME COUNT OUT_FILE
//       COUNT token request bodies (JSON, one a line), each with its own assertion: iss = sub =
//       CLIENT_ID, aud = ISSUER, unique jti, iat now, exp LIFETIME seconds later
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';

const b64 = (data) => Buffer.from(data).toString('base64url');
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const [mode, alg, keyFile, ...args] = process.argv.slice(2);
if (alg !== 'ES256' && alg !== 'RS256') {
  console.error('ALG must be ES256 or RS256');
  process.exit(2);
}
if (mode === 'key') {
  const [publicFile] = args;
  const { privateKey, publicKey } = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(keyFile, JSON.stringify(privateKey.export({ format: 'jwk' })), { mode: 0o600 });
  writeFileSync(publicFile, publicKey.export({ format: 'pem', type: 'spki' }));
} else if (mode === 'bodies') {
  const [issuer, clientId, audience, lifetime, count, outFile] = args;
  const key = createPrivateKey({ key: JSON.parse(readFileSync(keyFile, 'utf8')), format: 'jwk' });
  // kid: the RFC 7638 thumbprint, as Warrant names the registered key (and warrant-client sends).
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  const members = alg === 'ES256'
    ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
    : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  const kid = b64(createHash('sha256').update(JSON.stringify(members)).digest());
  const header = b64(JSON.stringify({ alg, typ: 'JWT', kid }));
  const iat = Math.floor(Date.now() / 1000);
  const out = createWriteStream(outFile);
  for (let i = 0; i < Number(count); i++) {
    const claims = {
      iss: clientId, sub: clientId, aud: issuer, iat, exp: iat + Number(lifetime),
      jti: b64(randomBytes(16)),
    };
    const input = `${header}.${b64(JSON.stringify(claims))}`;
    const signature = alg === 'ES256'
      ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
      : sign('sha256', Buffer.from(input), key);
    const body = {
      grant_type: 'client_credentials', client_id: clientId, audience,
      client_assertion_type: JWT_BEARER, client_assertion: `${input}.${b64(signature)}`,
    };
    if (!out.write(`${JSON.stringify(body)}\n`)) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((r) => out.end(r));
} else {
  console.error('usage: client-assertions.mjs key|bodies ...');
  process.exit(2);
}
