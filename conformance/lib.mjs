// Shared by the conformance scripts: where the server is and how to reach
// it. conformance_test.go sets URL (the server's base URL), TOKEN (an
// admin's API token) and ALIAS (a tenant's alias).

export const base = need('URL').replace(/\/$/, '');
export const token = need('TOKEN');
export const alias = need('ALIAS');
export const tenantURL = `${base}/country/${alias}/graphql`;
export const adminURL = `${base}/admin/graphql`;
export const sdlURL = `${base}/country/${alias}/schema.graphql`;

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is not set: run these scripts through conformance_test.go (go test -run Conformance)`);
    process.exit(2);
  }
  return v;
}

// authFetch is fetch with the API token added.
export function authFetch(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('Authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

// post sends a GraphQL request as JSON and returns the parsed response,
// throwing when the HTTP status is not 200.
export async function post(url, query, variables) {
  const res = await authFetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  if (res.status !== 200) {
    throw new Error(`POST ${url}: status ${res.status}: ${text}`);
  }
  return JSON.parse(text);
}

// fail prints a message and exits non-zero.
export function fail(msg) {
  console.error(msg);
  process.exit(1);
}
