// A real OpenID provider (npm `oidc-provider`) for Portico's sign-in tests.
//
//   node provider.mjs '<json config>'      (the config is the first argument, or `{}`)
//
// Config: { port?: number (0 = any), clients: [{client_id, client_secret, redirect_uris,
// token_endpoint_auth_method?}], accounts: [{sub?, email, email_verified?, name?}],
// ttl?: {AccessToken, AuthorizationCode, IdToken, Interaction, Session, Grant} (seconds) }.
//
// Listens on 127.0.0.1, prints ONE line `{"issuer":"http://127.0.0.1:PORT","port":PORT}` on
// stdout once ready, and exits when its stdin closes (so a killed test never leaves it
// running). Nothing else goes to stdout; oidc-provider's notices are dropped unless
// TEST_LOG is set (then they go to stderr).
//
// Sign-in: the provider's own login page (`/interaction/:uid`) asks for an email (no
// password) and has one button; consent is granted automatically for every client and
// the requested OpenID scopes. PKCE with S256 is required for every client.
//
// Test-control endpoints (this tool only):
//   POST /__test/accounts            {sub?, email, email_verified?, name?} adds or updates
//   POST /__test/rotate-keys         a new signing key (new kid); JWKS then publishes ONLY
//                                    the new key, and every later token is signed with it
//   POST /__test/tamper              {mode}: the NEXT token response's id_token is re-signed
//                                    with altered claims (see TAMPER_MODES)
//   GET  /__test/last-authorization  the last authorization request's parameters
import http from 'node:http';
import { randomUUID } from 'node:crypto';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const quiet = !process.env.TEST_LOG;
console.log = quiet ? () => {} : (...args) => console.error(...args);
console.info = console.log;
if (quiet) console.warn = () => {};

const TAMPER_MODES = new Set([
  'none', 'wrong-audience', 'unknown-key', 'expired', 'wrong-issuer', 'bad-nonce',
]);

function fail(message) {
  process.stderr.write(`provider.mjs: ${message}\n`);
  process.exit(2);
}

let config;
try {
  config = JSON.parse(process.argv[2] ?? '{}');
} catch (err) {
  fail(`the config (first argument) is not JSON: ${err.message}`);
}
if (typeof config !== 'object' || config === null || Array.isArray(config)) {
  fail('the config must be a JSON object');
}

// --- accounts -------------------------------------------------------------------------

/** sub → {sub, email, email_verified, name}; emails are matched case-insensitively. */
const accounts = new Map();

function upsertAccount(input) {
  if (typeof input !== 'object' || input === null) {
    throw new Error('an account must be an object');
  }
  const { email } = input;
  if (typeof email !== 'string' || !email.includes('@')) {
    throw new Error('an account needs an email');
  }
  const existing = findByEmail(email);
  const sub = typeof input.sub === 'string' && input.sub
    ? input.sub
    : existing?.sub ?? randomUUID();
  if (existing && existing.sub !== sub) accounts.delete(existing.sub);
  const account = {
    sub,
    email,
    email_verified: input.email_verified ?? true,
    name: input.name ?? email.split('@')[0],
  };
  if (typeof account.email_verified !== 'boolean') {
    throw new Error('email_verified must be a boolean');
  }
  if (typeof account.name !== 'string') throw new Error('name must be a string');
  accounts.set(sub, account);
  return account;
}

function findByEmail(email) {
  const wanted = email.trim().toLowerCase();
  for (const account of accounts.values()) {
    if (account.email.toLowerCase() === wanted) return account;
  }
  return undefined;
}

for (const account of config.accounts ?? []) {
  try {
    upsertAccount(account);
  } catch (err) {
    fail(`bad account ${JSON.stringify(account)}: ${err.message}`);
  }
}

// --- keys -----------------------------------------------------------------------------

async function newSigningKey() {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  const kid = randomUUID();
  return {
    kid, privateKey, jwk: { ...jwk, kid, alg: 'RS256', use: 'sig' },
  };
}

let signingKey = await newSigningKey();

// --- the provider ---------------------------------------------------------------------

const clients = (config.clients ?? []).map((c) => {
  if (typeof c?.client_id !== 'string' || !Array.isArray(c.redirect_uris)) {
    fail(`bad client ${JSON.stringify(c)}: needs client_id and redirect_uris`);
  }
  return {
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: c.token_endpoint_auth_method
      ?? (c.client_secret ? 'client_secret_basic' : 'none'),
  };
});

const cookieKeys = [randomUUID(), randomUUID()];

async function loadExistingGrant(ctx) {
  const { oidc } = ctx;
  const accountId = oidc.account.accountId;
  const clientId = oidc.client.clientId;
  const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(clientId);
  let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (!grant || grant.accountId !== accountId) {
    grant = new oidc.provider.Grant({ accountId, clientId });
  }
  // Consent is automatic: whatever OpenID scopes are asked for are granted.
  grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' ') || 'openid');
  await grant.save();
  return grant;
}

function buildProvider(issuer) {
  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: [signingKey.jwk] },
    cookies: { keys: cookieKeys },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    scopes: ['openid', 'email', 'profile'],
    features: {
      devInteractions: { enabled: false },
    },
    pkce: { required: () => true },
    conformIdTokenClaims: false,
    ttl: { ...(config.ttl ?? {}) },
    findAccount(_ctx, sub) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          const current = accounts.get(sub) ?? account;
          return { ...current };
        },
      };
    },
    loadExistingGrant,
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Sign-in error', `<h1>Sign-in error</h1><p id="error">${escape(out.error)}: ${escape(out.error_description ?? '')}</p>`);
    },
  });
  provider.use(tamperMiddleware);
  return provider;
}

// --- tampering with the next id_token --------------------------------------------------

let tamperMode = 'none';

async function tamperMiddleware(ctx, next) {
  await next();
  if (tamperMode === 'none' || ctx.method !== 'POST' || ctx.status !== 200) return;
  if (ctx.path !== '/token' || typeof ctx.body?.id_token !== 'string') return;
  const mode = tamperMode;
  tamperMode = 'none';
  ctx.body = { ...ctx.body, id_token: await tamper(ctx.body.id_token, mode) };
}

async function tamper(idToken, mode) {
  const header = jose.decodeProtectedHeader(idToken);
  const claims = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  let key = signingKey;
  switch (mode) {
    case 'wrong-audience': claims.aud = 'someone-else'; break;
    case 'expired': claims.iat = now - 7200; claims.exp = now - 3600; break;
    case 'wrong-issuer': claims.iss = 'http://127.0.0.1:9/not-the-issuer'; break;
    case 'bad-nonce': claims.nonce = `not-${claims.nonce ?? 'the-nonce'}`; break;
    case 'unknown-key': key = await newSigningKey(); break;
    default: throw new Error(`unknown tamper mode ${mode}`);
  }
  return new jose.SignJWT(claims)
    .setProtectedHeader({ ...header, alg: 'RS256', kid: key.kid })
    .sign(key.privateKey);
}

// --- pages ----------------------------------------------------------------------------

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head><body>${body}</body></html>`;
}

function loginPage(uid, email = '', problem = '') {
  return page('Test IdP sign-in', `<h1>Test IdP sign-in</h1>
${problem ? `<p id="problem">${escape(problem)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login" id="login">
<label for="email">Email</label>
<input type="email" name="email" id="email" value="${escape(email)}" autofocus>
<button type="submit" id="sign-in">Sign in</button>
</form>`);
}

// --- the HTTP server ------------------------------------------------------------------

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function sendJson(res, status, value) {
  send(res, status, 'application/json', JSON.stringify(value));
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 1_000_000) throw new Error('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(req) {
  const text = await readBody(req);
  if (!text.trim()) return {};
  return JSON.parse(text);
}

let provider;
let providerCallback;
let issuer;
let lastAuthorization = null;

function setProvider(next) {
  provider = next;
  providerCallback = next.callback();
}

async function testControl(req, res, path) {
  if (req.method === 'POST' && path === '/__test/accounts') {
    try {
      return sendJson(res, 200, upsertAccount(await readJson(req)));
    } catch (err) {
      return sendJson(res, 400, { error: err.message });
    }
  }
  if (req.method === 'POST' && path === '/__test/rotate-keys') {
    signingKey = await newSigningKey();
    setProvider(buildProvider(issuer));
    return sendJson(res, 200, { kid: signingKey.kid });
  }
  if (req.method === 'POST' && path === '/__test/tamper') {
    let input;
    try {
      input = await readJson(req);
    } catch (err) {
      return sendJson(res, 400, { error: `not JSON: ${err.message}` });
    }
    if (!TAMPER_MODES.has(input?.mode)) {
      return sendJson(res, 400, { error: `mode must be one of ${[...TAMPER_MODES].join(', ')}` });
    }
    tamperMode = input.mode;
    return sendJson(res, 200, { mode: tamperMode });
  }
  if (req.method === 'GET' && path === '/__test/last-authorization') {
    return sendJson(res, 200, lastAuthorization);
  }
  return sendJson(res, 404, { error: `no test endpoint ${req.method} ${path}` });
}

async function interaction(req, res, path) {
  const parts = path.split('/').filter(Boolean); // ['interaction', uid, ('login')?]
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    return send(res, 400, 'text/html', page('Sign-in error', `<h1>Sign-in error</h1><p id="error">${escape(err.message)}</p>`));
  }
  if (details.uid !== parts[1]) {
    return send(res, 400, 'text/html', page('Sign-in error', '<h1>Sign-in error</h1><p id="error">This sign-in has expired; start again.</p>'));
  }
  if (details.prompt.name === 'consent') {
    // A consent prompt only comes when loadExistingGrant could not cover the request:
    // grant what was asked for and carry on.
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    const scopes = details.prompt.details.missingOIDCScope ?? [];
    if (scopes.length) grant.addOIDCScope(scopes.join(' '));
    const claims = details.prompt.details.missingOIDCClaims ?? [];
    if (claims.length) grant.addOIDCClaims(claims);
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  if (req.method === 'GET' && parts.length === 2) {
    return send(res, 200, 'text/html; charset=utf-8', loginPage(details.uid, details.params.login_hint ?? ''));
  }
  if (req.method === 'POST' && parts[2] === 'login') {
    const form = new URLSearchParams(await readBody(req));
    const email = form.get('email') ?? '';
    const account = findByEmail(email);
    if (!account) {
      return send(res, 200, 'text/html; charset=utf-8', loginPage(details.uid, email, `No account for ${email || 'an empty email'}.`));
    }
    return provider.interactionFinished(req, res, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
  }
  return send(res, 404, 'text/plain', 'not found');
}

async function handle(req, res) {
  const url = new URL(req.url, issuer);
  const path = url.pathname;
  if (path.startsWith('/__test/')) return testControl(req, res, path);
  if (path === '/interaction' || path.startsWith('/interaction/')) return interaction(req, res, path);
  if (path === '/auth' && req.method === 'GET') {
    lastAuthorization = Object.fromEntries(url.searchParams);
  }
  return providerCallback(req, res);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    process.stderr.write(`provider.mjs: ${err.stack ?? err}\n`);
    if (!res.headersSent) sendJson(res, 500, { error: String(err.message ?? err) });
    else res.end();
  });
});

server.listen(Number(config.port ?? 0), '127.0.0.1', () => {
  const { port } = server.address();
  issuer = `http://127.0.0.1:${port}`;
  try {
    setProvider(buildProvider(issuer));
  } catch (err) {
    fail(`the provider does not start: ${err.message}`);
  }
  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
});
server.on('error', (err) => fail(`cannot listen: ${err.message}`));

// Stop when whoever started us goes away.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
