// Introspection as graphql-js tools run it: getIntrospectionQuery with
// every option on and with none, buildClientSchema, validateSchema, and
// printSchema compared with the server's own SDL
// (GET /country/{alias}/schema.graphql).
//
// The comparison ignores where directives are applied: the SDL shows
// @hasRole on fields, which introspection cannot carry. With the options
// off it also ignores descriptions and @specifiedBy, which were not asked
// for.
//
// Usage: node introspection.mjs [Type.field ...]
// Each Type.field argument must be in the schema (both forms).

import {
  Kind,
  buildClientSchema,
  getIntrospectionQuery,
  isScalarType,
  isSpecifiedScalarType,
  parse,
  print,
  printSchema,
  validateSchema,
  visit,
} from 'graphql';
import { adminURL, authFetch, fail, post, sdlURL, tenantURL } from './lib.mjs';

const allOn = {
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
};
const allOff = {
  descriptions: false,
  specifiedByUrl: false,
  directiveIsRepeatable: false,
  schemaDescription: false,
  inputValueDeprecation: false,
};

const expectFields = process.argv.slice(2);

const res = await authFetch(sdlURL);
if (res.status !== 200) {
  fail(`GET ${sdlURL}: status ${res.status}: ${await res.text()}`);
}
const sdl = await res.text();
checkFields('SDL', parse(sdl), expectFields);

let problems = 0;
for (const [label, url, opts] of [
  ['tenant, every option on', tenantURL, allOn],
  ['tenant, every option off', tenantURL, allOff],
  ['admin, every option on', adminURL, allOn],
  ['admin, every option off', adminURL, allOff],
]) {
  const result = await post(url, getIntrospectionQuery(opts));
  if (result.errors?.length) {
    fail(`${label}: introspection failed: ${JSON.stringify(result.errors)}`);
  }
  let schema;
  try {
    schema = buildClientSchema(result.data);
  } catch (err) {
    fail(`${label}: buildClientSchema: ${err.message}`);
  }
  const errs = validateSchema(schema);
  if (errs.length) {
    fail(`${label}: validateSchema:\n${errs.map((e) => '  ' + e.message).join('\n')}`);
  }
  if (opts === allOn) {
    for (const t of Object.values(schema.getTypeMap())) {
      if (isScalarType(t) && !isSpecifiedScalarType(t) && !t.specifiedByURL && !t.description) {
        console.log(`${label}: scalar ${t.name} says neither how it serializes (description) nor its specifiedByURL`);
        problems++;
      }
    }
  }
  if (url !== tenantURL) {
    console.log(`${label}: ok, ${Object.keys(schema.getTypeMap()).length} types`);
    continue;
  }
  const keep = opts.specifiedByUrl ? ['deprecated', 'specifiedBy'] : ['deprecated'];
  const want = normalize(parse(sdl), keep, opts.descriptions);
  const got = normalize(parse(printSchema(schema)), keep, opts.descriptions);
  if (want !== got) {
    console.log(`${label}: printSchema(buildClientSchema(introspection)) differs from ${sdlURL}:\n${diff(want, got)}`);
    problems++;
    continue;
  }
  checkFields(label, parse(printSchema(schema)), expectFields);
  console.log(`${label}: ok, ${Object.keys(schema.getTypeMap()).length} types, printSchema matches the SDL`);
}
if (problems > 0) {
  process.exit(1);
}

// normalize prints doc with definitions, fields, arguments and enum values
// sorted by name, applied directives other than keep removed, descriptions
// printed as quoted strings and, unless descriptions is true, dropped.
function normalize(doc, keep, descriptions) {
  const byName = (a, b) => key(a).localeCompare(key(b));
  const sortList = (node, field) => (node[field] ? { ...node, [field]: [...node[field]].sort(byName) } : node);
  const out = visit(doc, {
    enter(node) {
      let n = node;
      if (n.directives && n.kind !== Kind.DIRECTIVE_DEFINITION) {
        n = { ...n, directives: n.directives.filter((d) => keep.includes(d.name.value)) };
      }
      if (n.description) {
        // Block or quoted is a matter of printing, not of content.
        n = { ...n, description: descriptions ? { ...n.description, block: false } : undefined };
      }
      for (const f of ['fields', 'arguments', 'values']) {
        if (n.kind !== Kind.OBJECT && n.kind !== Kind.LIST && Array.isArray(n[f]) && n[f][0]?.name) {
          n = sortList(n, f);
        }
      }
      return n === node ? undefined : n;
    },
  });
  return print({ ...out, definitions: [...out.definitions].sort(byName) });
}

function key(node) {
  return `${node.name?.value ?? ''}\u0000${node.kind}`;
}

// checkFields fails unless every Type.field of want is defined in doc.
function checkFields(label, doc, want) {
  for (const tf of want) {
    const [type, field] = tf.split('.');
    const def = doc.definitions.find((d) => d.name?.value === type);
    if (!def?.fields?.some((f) => f.name.value === field)) {
      fail(`${label}: ${tf} is missing`);
    }
  }
}

// diff shows the lines of a and b that differ, with a line of context.
function diff(a, b) {
  const al = a.split('\n');
  const bl = b.split('\n');
  const out = [];
  let shown = 0;
  for (let i = 0, j = 0; (i < al.length || j < bl.length) && shown < 40; ) {
    if (al[i] === bl[j]) {
      i++;
      j++;
      continue;
    }
    const jj = bl.indexOf(al[i], j);
    const ii = al.indexOf(bl[j], i);
    if (ii !== -1 && (jj === -1 || ii - i <= jj - j)) {
      for (; i < ii; i++, shown++) out.push(`  - SDL:          ${al[i]}`);
    } else if (jj !== -1) {
      for (; j < jj; j++, shown++) out.push(`  + introspected: ${bl[j]}`);
    } else {
      if (i < al.length) out.push(`  - SDL:          ${al[i++]}`);
      if (j < bl.length) out.push(`  + introspected: ${bl[j++]}`);
      shown++;
    }
  }
  return out.join('\n');
}
