package schema

import (
	"github.com/graphql-go/graphql"
)

// NewStatic wraps a schema that is not a tenant's (the admin API) so it
// runs like one: cached documents, the depth and variable checks and
// @hasRole. Its resolvers bring their own transactions: its mutation
// fields run one after another, as GraphQL says, each committing on its
// own, and a response keeps the data of every field that succeeded beside
// the errors of those that failed.
func NewStatic(s graphql.Schema, access *Access, opts *Options) *Built {
	if opts == nil {
		opts = &Options{}
	}
	warmEnums(&s)
	return &Built{shape: &shape{Schema: s, access: access}, opts: opts, Version: 1, fieldCommits: true}
}

// Safe wraps a resolver so that panics become internal errors and every
// error is classified for the client; every resolver should be wrapped.
func Safe(fn graphql.FieldResolveFn) graphql.FieldResolveFn { return safe(fn) }

// Classify turns an error into the *Error a client sees.
func Classify(err error) *Error { return classify(err) }
