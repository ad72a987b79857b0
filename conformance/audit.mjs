// The GraphQL-over-HTTP audit suite of graphql-http, run against the
// tenant API (/country/{alias}/graphql) and the admin API
// (/admin/graphql) with the API token on every request.
//
// Prints a JSON report on stdout:
//   {"endpoint": [{"id", "name", "level", "status", "reason"}, ...], ...}
// status is "ok", or the audit's failure status: "error" (a MUST),
// "warn" (a SHOULD) or "notice" (a MAY). Exits 1 when a MUST audit fails.

import { serverAudits } from 'graphql-http';
import { adminURL, authFetch, tenantURL } from './lib.mjs';

const endpoints = { tenant: tenantURL, admin: adminURL };
const report = {};
let mustFailed = 0;

for (const [name, url] of Object.entries(endpoints)) {
  const results = [];
  for (const audit of serverAudits({ url, fetchFn: authFetch })) {
    const level = audit.name.split(' ')[0];
    let res;
    try {
      res = await audit.fn();
    } catch (err) {
      res = { status: 'error', reason: `the audit threw: ${err?.message ?? err}` };
    }
    const r = { id: audit.id, name: audit.name, level, status: res.status };
    if (res.status !== 'ok') {
      r.reason = res.reason;
      if (level === 'MUST') {
        mustFailed++;
      }
    }
    results.push(r);
  }
  report[name] = results;
  const counts = ['MUST', 'SHOULD', 'MAY'].map((level) => {
    const all = results.filter((r) => r.level === level);
    return `${level} ${all.filter((r) => r.status === 'ok').length}/${all.length}`;
  });
  console.error(`${name} (${url}): ${counts.join(', ')}`);
  for (const r of results.filter((r) => r.status !== 'ok')) {
    console.error(`  ${r.id} ${r.name}: ${r.reason}`);
  }
}

console.log(JSON.stringify(report, null, 2));
process.exit(mustFailed > 0 ? 1 : 0);
