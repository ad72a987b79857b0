// A GraphQL client library against the tenant API, as a Node.js app would
// use it: @urql/core (no React) with the API token, a mutation
// (createToyota) and then a query (toyotaList) that must see its row.
// Queries go as GET (urql's default for short ones), mutations as POST.

import { Client, cacheExchange, fetchExchange, gql } from '@urql/core';
import { fail, tenantURL, token } from './lib.mjs';

const client = new Client({
  url: tenantURL,
  exchanges: [cacheExchange, fetchExchange],
  fetchOptions: () => ({ headers: { Authorization: `Bearer ${token}` } }),
  requestPolicy: 'network-only',
});

const CreateToyota = gql`
  mutation CreateToyota($input: ToyotaInput!) {
    createToyota(input: $input) {
      id
      model
    }
  }
`;

const ToyotaList = gql`
  query ToyotaList($filter: ToyotaFilter) {
    toyotaList(filter: $filter, orderBy: [ID_ASC]) {
      totalCount
      items {
        id
        model
        created_at
      }
    }
  }
`;

const model = `Corolla urql ${Date.now()}`;
const created = await client.mutation(CreateToyota, { input: { model } }).toPromise();
if (created.error) {
  fail(`createToyota: ${created.error.message}`);
}
const row = created.data?.createToyota;
if (!row?.id || row.model !== model) {
  fail(`createToyota returned ${JSON.stringify(created.data)}`);
}

const listed = await client.query(ToyotaList, { filter: { model: { eq: model } } }).toPromise();
if (listed.error) {
  fail(`toyotaList: ${listed.error.message}`);
}
const list = listed.data?.toyotaList;
if (list?.totalCount !== 1 || list.items[0]?.id !== row.id || !list.items[0].created_at) {
  fail(`toyotaList did not return the new row ${row.id}: ${JSON.stringify(listed.data)}`);
}

// A field error comes back as a CombinedError with the server's code.
const bad = await client.query(gql`query { toyota(id: "not-a-number") { id } }`, {}).toPromise();
const code = bad.error?.graphQLErrors?.[0]?.extensions?.code;
if (!code) {
  fail(`a bad id gave no GraphQL error with extensions.code: ${JSON.stringify(bad)}`);
}

console.log(JSON.stringify({ created: row, listed: list.totalCount, badIdCode: code }));
