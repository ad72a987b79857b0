// A small client of the tenant API, written the way a frontend would:
// typed query documents whose result and variable types graphql-codegen
// generates from the live schema, and functions using them. tsc --noEmit
// checks it against generated/graphql.ts.

import type {
  CreateToyotaMutation,
  CreateToyotaMutationVariables,
  ToyotaListQuery,
  ToyotaListQueryVariables,
} from '../generated/operations';

/** A GraphQL document that carries the types of its result and variables. */
export type TypedDocument<TResult, TVariables> = string & {
  readonly __types?: (variables: TVariables) => TResult;
};

/** typed gives a document's text the types codegen made for it. */
export function typed<TResult, TVariables>(text: string): TypedDocument<TResult, TVariables> {
  return text as TypedDocument<TResult, TVariables>;
}

// Written as typed<...>(/* GraphQL */ `...`): graphql-tag-pluck, which
// finds the documents for codegen, misses a template followed by "as".
export const ToyotaListDocument = typed<ToyotaListQuery, ToyotaListQueryVariables>(/* GraphQL */ `
  query ToyotaList($filter: ToyotaFilter, $limit: Int) {
    toyotaList(filter: $filter, limit: $limit, orderBy: [ID_ASC]) {
      totalCount
      items {
        id
        model
        created_at
      }
    }
  }
`);

export const CreateToyotaDocument = typed<CreateToyotaMutation, CreateToyotaMutationVariables>(/* GraphQL */ `
  mutation CreateToyota($input: ToyotaInput!) {
    createToyota(input: $input) {
      id
      model
    }
  }
`);

/** Sends a typed document to a GraphQL endpoint and returns its data. */
export async function request<TResult, TVariables>(
  url: string,
  token: string,
  document: TypedDocument<TResult, TVariables>,
  variables: TVariables,
): Promise<TResult> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/graphql-response+json',
      Authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ query: document, variables }),
  });
  const body = (await res.json()) as { data?: TResult; errors?: { message: string }[] };
  if (body.errors?.length || !body.data) {
    throw new Error(body.errors?.map((e) => e.message).join('; ') ?? `status ${res.status}`);
  }
  return body.data;
}

/** Adds a Toyota model and returns its id. */
export async function addToyota(url: string, token: string, model: string): Promise<string> {
  const data = await request(url, token, CreateToyotaDocument, { input: { model } });
  return data.createToyota.id;
}

/** Lists the Toyota models whose name contains text, oldest first. */
export async function toyotaModels(url: string, token: string, text: string): Promise<{ total: number; models: string[] }> {
  const data = await request(url, token, ToyotaListDocument, {
    filter: { model: { ilike: `%${text}%` } },
    limit: 100,
  });
  return {
    total: data.toyotaList.totalCount,
    models: data.toyotaList.items.map((t) => `${t.model} (added ${new Date(t.created_at).getFullYear()})`),
  };
}
