// GraphiQL for one tenantgraph endpoint. The page (web/graphiql.html) says
// which endpoint in data attributes of #graphiql; everything the page loads
// comes from this server: the bundle, its CSS (fonts inlined) and Monaco's
// workers.
import { useEffect } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { useGraphiQLActions } from '@graphiql/react';
import 'graphiql/style.css';
import './page.css';

const root = document.getElementById('graphiql');
const endpoint = root.dataset.endpoint;

// Monaco runs its language services in workers, built next to this bundle.
globalThis.MonacoEnvironment = {
  getWorker(_id, label) {
    switch (label) {
      case 'json':
        return new Worker(root.dataset.jsonWorker);
      case 'graphql':
        return new Worker(root.dataset.graphqlWorker);
    }
    return new Worker(root.dataset.editorWorker);
  },
};

// GraphiQL keeps tabs, history and headers in localStorage. Each endpoint
// gets keys of its own, so one country's queries don't show in another's.
const prefix = `tenantgraph:${endpoint}:`;
const storage = {
  getItem: (key) => localStorage.getItem(prefix + key),
  setItem: (key, value) => localStorage.setItem(prefix + key, value),
  removeItem: (key) => localStorage.removeItem(prefix + key),
  get length() {
    return ownKeys().length;
  },
  clear() {
    for (const key of ownKeys()) localStorage.removeItem(key);
  },
};

function ownKeys() {
  const keys = [];
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i);
    if (key.startsWith(prefix)) keys.push(key);
  }
  return keys;
}

// Every response carries extensions.schemaVersion. When it differs from the
// version of the schema GraphiQL holds, the shape changed (this user's
// mutation or someone else's): introspect again, so the docs and
// autocompletion show the new fields without a reload. The editors keep
// what the user typed.
const introspectionName = 'IntrospectionQuery';
let heldVersion = null;
let introspect = null;

async function fetcher(params, opts) {
  const res = await fetch(endpoint, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      Accept: 'application/graphql-response+json, application/json',
      ...(opts?.headers ?? {}),
      'Content-Type': 'application/json',
    },
    body: JSON.stringify(params),
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return `${res.status} ${res.statusText}: ${text}`;
  }
  const version = body?.extensions?.schemaVersion;
  if (version != null) {
    if (params.operationName === introspectionName) {
      heldVersion = version;
    } else if (heldVersion != null && version !== heldVersion) {
      heldVersion = version;
      introspect?.();
    }
  }
  return body;
}

// SchemaWatcher renders nothing; it hands the fetcher GraphiQL's own
// introspect action, which swaps the schema in place. GraphiQL renders
// children it does not know inside its provider, where the hook works.
function SchemaWatcher() {
  const actions = useGraphiQLActions();
  useEffect(() => {
    introspect = actions.introspect;
    return () => {
      introspect = null;
    };
  }, [actions]);
  return null;
}

createRoot(root).render(
  <GraphiQL
    fetcher={fetcher}
    storage={storage}
    introspectionQueryName={introspectionName}
  >
    <GraphiQL.Logo>{root.dataset.title}</GraphiQL.Logo>
    <SchemaWatcher />
  </GraphiQL>,
);
