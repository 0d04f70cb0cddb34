// A real OpenID Connect provider for the test run (the `oidc-provider` package, certified by the OpenID
// Foundation), started by tests/identity_provider.py on the loopback. Tests name its users and their groups over
// a small admin route, sign in through its login page, and point the playground at one of its issuers:
//
//   /idp             an honest provider
//   /wrong-issuer    its ID tokens name another issuer than the one the playground was configured with
//   /wrong-audience  its ID tokens are addressed to another client
//   /expired         its ID tokens expired an hour ago
//
// Everything but the three faults is oidc-provider's own: discovery, the authorization code flow with PKCE,
// client authentication, signed ID tokens, userinfo, RP-initiated logout.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

export const CLIENT = {
  client_id: 'playground',
  client_secret: 'playground-test-secret',
  // A native client may come back to any port of the loopback (RFC 8252): the playground's test servers
  // listen on ports chosen at run time.
  application_type: 'native',
  redirect_uris: ['http://127.0.0.1/accounts/oidc/sso/login/callback/'],
  post_logout_redirect_uris: ['http://127.0.0.1/gallery/'],
  grant_types: ['authorization_code'],
  response_types: ['code'],
};

const users = new Map();
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwks = { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' }] };
const server = createServer();

function provider(mount, issuer, tokenFault) {
  const oidc = new Provider(issuer, {
    clients: [CLIENT],
    jwks,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups'],
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
    pkce: { required: () => true },
    cookies: { keys: ['test-only-cookie-key'] },
    interactions: { url: (ctx, interaction) => `${mount}/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      const user = users.get(id);
      if (!user) return undefined;
      return { accountId: id, claims: () => ({ sub: id, ...users.get(id) }) };
    },
  });
  if (tokenFault) {
    const { issue } = oidc.IdToken.prototype;
    oidc.IdToken.prototype.issue = function issueWithFault(options = {}) {
      return options.use === 'idtoken' ? tokenFault.call(this, issue, options) : issue.call(this, options);
    };
  }
  return { mount, oidc, handle: oidc.callback() };
}

function anotherAudience(issue, options) {
  this.client = Object.create(this.client, { clientId: { value: 'another-application' } });
  return issue.call(this, options);
}

function expiredAnHourAgo(issue, options) {
  return issue.call(this, { ...options, expiresAt: Math.floor(Date.now() / 1000) - 3600 });
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// The login page: a person (or a test) names the user to sign in as.
async function interaction(instance, req, res, rest) {
  const { oidc, mount } = instance;
  const [uid, action] = rest.split('/');
  const details = await oidc.interactionDetails(req, res);
  if (details.prompt.name === 'consent') {
    // The playground is this provider's first-party client: consent is given without asking.
    const grant = details.grantId
      ? await oidc.Grant.find(details.grantId)
      : new oidc.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    await oidc.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
    return;
  }
  if (req.method === 'POST' && action === 'login') {
    const login = new URLSearchParams(await readBody(req)).get('login') || '';
    if (!users.has(login)) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`no such test user: ${login}`);
      return;
    }
    await oidc.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Test identity provider</title></head>
<body><main><h1>Test identity provider</h1>
<p>Signing in to ${escapeHtml(details.params.client_id)}</p>
<form method="post" action="${mount}/interaction/${escapeHtml(uid)}/login">
<label for="login">User</label> <input id="login" name="login" autofocus>
<button type="submit">Continue</button></form></main></body></html>`);
}

async function admin(req, res, rest) {
  // PUT /_users/<id> with the user's claims (email, email_verified, groups, name, preferred_username).
  const id = decodeURIComponent(rest);
  if (req.method !== 'PUT' || !id) {
    res.writeHead(405).end();
    return;
  }
  users.set(id, JSON.parse(await readBody(req)));
  res.writeHead(204).end();
}

const instances = [];
server.on('request', async (req, res) => {
  try {
    const url = new URL(req.url, 'http://loopback');
    if (url.pathname.startsWith('/_users/')) {
      await admin(req, res, url.pathname.slice('/_users/'.length));
      return;
    }
    const instance = instances.find(({ mount }) => url.pathname.startsWith(`${mount}/`));
    if (!instance) {
      res.writeHead(404).end();
      return;
    }
    const rest = req.url.slice(instance.mount.length);
    if (rest.startsWith('/interaction/')) {
      await interaction(instance, req, res, rest.slice('/interaction/'.length).split('?')[0]);
      return;
    }
    // Mounted as Express mounts it: the provider sees its own paths and works out its mount from originalUrl.
    req.originalUrl = req.url;
    req.url = rest;
    instance.handle(req, res);
  } catch (error) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
  }
});

server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  const base = `http://127.0.0.1:${server.address().port}`;
  instances.push(
    provider('/idp', `${base}/idp`),
    provider('/wrong-issuer', `${base}/somewhere-else`),
    provider('/wrong-audience', `${base}/wrong-audience`, anotherAudience),
    provider('/expired', `${base}/expired`, expiredAnHourAgo),
  );
  process.stdout.write(`listening ${base}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
