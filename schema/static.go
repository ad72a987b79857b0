package schema

import (
	"context"

	"github.com/graphql-go/graphql"

	"tenantgraph/tenancy"
)

// NewStatic wraps a schema that is not a tenant's (the admin API) so it
// runs like one: cached documents, the depth and variable checks, @hasRole
// and one transaction per request. Its resolvers reach the transaction
// with Tx. Tables must be referenced schema-qualified: the transaction's
// search_path is the server's default.
func NewStatic(s graphql.Schema, access *Access, opts *Options) *Built {
	if opts == nil {
		opts = &Options{}
	}
	warmEnums(&s)
	return &Built{shape: &shape{Schema: s, access: access}, opts: opts, Version: 1}
}

// Tx returns the transaction of the request ctx belongs to, or nil outside
// a request.
func Tx(ctx context.Context) tenancy.Querier {
	st, _ := ctx.Value(stateKey{}).(*execState)
	if st == nil {
		return nil
	}
	return st.tx
}

// Safe wraps a resolver so that panics become internal errors and every
// error is classified for the client; every resolver should be wrapped.
func Safe(fn graphql.FieldResolveFn) graphql.FieldResolveFn { return safe(fn) }

// Classify turns an error into the *Error a client sees.
func Classify(err error) *Error { return classify(err) }
