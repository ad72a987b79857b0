// Package admin is the global GraphQL API at /admin/graphql: countries,
// users, memberships, types and API tokens, each behind @hasRole.
package admin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/graphql-go/graphql"

	"tenantgraph/ddl"
	"tenantgraph/identity"
	"tenantgraph/schema"
	"tenantgraph/tenancy"
)

// API holds what the admin resolvers need.
type API struct {
	Tenants *tenancy.Store
	Users   *identity.Store
	// OnRoleChange, when set, is called after the caller's own roles
	// changed, so the HTTP layer can renew the session token.
	OnRoleChange func(ctx context.Context)
}

// Guard is the admin API's guard: ADMIN needs the global admin role;
// VIEWER (and EDITOR) only a signed-in user.
func Guard(ctx context.Context, need identity.Role) error {
	p := identity.FromContext(ctx)
	if p == nil {
		return &schema.Error{Code: schema.CodeUnauthenticated, Message: "sign in or send an API token"}
	}
	if need == identity.RoleAdmin && !p.Admin {
		return &schema.Error{Code: schema.CodeForbidden, Message: "this needs the admin role"}
	}
	return nil
}

// Build makes the admin schema, ready to execute.
func (a *API) Build(opts *schema.Options) (*schema.Built, *schema.Access, error) {
	access := schema.NewAccess(Guard, true)

	membership := graphql.NewObject(graphql.ObjectConfig{
		Name: "Membership", Description: "A role a user holds; country is null for the global admin role.",
		Fields: graphql.Fields{
			"country": &graphql.Field{Type: graphql.String, Resolve: field(func(m *identity.Membership) any { return nullable(m.CountryAlias) })},
			"role":    &graphql.Field{Type: graphql.NewNonNull(graphql.String), Resolve: field(func(m *identity.Membership) any { return string(m.Role) })},
			"email":   &graphql.Field{Type: graphql.NewNonNull(graphql.String), Resolve: field(func(m *identity.Membership) any { return m.Email })},
		},
	})
	user := graphql.NewObject(graphql.ObjectConfig{
		Name: "User",
		Fields: graphql.Fields{
			"id":        &graphql.Field{Type: graphql.NewNonNull(graphql.ID), Resolve: field(func(u *identity.User) any { return u.ID })},
			"email":     &graphql.Field{Type: graphql.NewNonNull(graphql.String), Resolve: field(func(u *identity.User) any { return u.Email })},
			"name":      &graphql.Field{Type: graphql.NewNonNull(graphql.String), Resolve: field(func(u *identity.User) any { return u.Name })},
			"active":    &graphql.Field{Type: graphql.NewNonNull(graphql.Boolean), Resolve: field(func(u *identity.User) any { return u.Active })},
			"admin":     &graphql.Field{Type: graphql.NewNonNull(graphql.Boolean), Resolve: field(func(u *identity.User) any { return u.Admin })},
			"createdAt": &graphql.Field{Type: graphql.NewNonNull(schema.DateTime), Resolve: field(func(u *identity.User) any { return u.CreatedAt })},
			"memberships": &graphql.Field{
				Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(membership))),
				Resolve: schema.Safe(func(p graphql.ResolveParams) (any, error) {
					u := p.Source.(*identity.User)
					ms, err := a.Users.Memberships(p.Context, u.ID)
					if err != nil {
						return nil, err
					}
					out := make([]any, len(ms))
					for i := range ms {
						out[i] = &ms[i]
					}
					return out, nil
				}),
			},
		},
	})
	country := graphql.NewObject(graphql.ObjectConfig{
		Name: "Country", Description: "A tenant: a country and the PostgreSQL schema that holds its data.",
		Fields: graphql.Fields{
			"id":            &graphql.Field{Type: graphql.NewNonNull(graphql.ID), Resolve: field(func(t *tenancy.Tenant) any { return t.ID })},
			"name":          &graphql.Field{Type: graphql.NewNonNull(graphql.String), Resolve: field(func(t *tenancy.Tenant) any { return t.Name })},
			"officialName":  &graphql.Field{Type: graphql.NewNonNull(graphql.String), Resolve: field(func(t *tenancy.Tenant) any { return t.OfficialName })},
			"alias":         &graphql.Field{Type: graphql.NewNonNull(graphql.String), Resolve: field(func(t *tenancy.Tenant) any { return t.Alias })},
			"areaCode":      &graphql.Field{Type: graphql.NewNonNull(graphql.String), Resolve: field(func(t *tenancy.Tenant) any { return t.AreaCode })},
			"schemaName":    &graphql.Field{Type: graphql.NewNonNull(graphql.String), Resolve: field(func(t *tenancy.Tenant) any { return t.Namespace })},
			"schemaVersion": &graphql.Field{Type: graphql.NewNonNull(schema.BigInt), Resolve: field(func(t *tenancy.Tenant) any { return t.SchemaVersion })},
		},
	})
	token := graphql.NewObject(graphql.ObjectConfig{
		Name: "ApiToken", Description: "An API token; its secret is shown once, when it is created.",
		Fields: graphql.Fields{
			"id":         &graphql.Field{Type: graphql.NewNonNull(graphql.ID), Resolve: field(func(t *identity.Token) any { return t.ID })},
			"name":       &graphql.Field{Type: graphql.NewNonNull(graphql.String), Resolve: field(func(t *identity.Token) any { return t.Name })},
			"createdAt":  &graphql.Field{Type: graphql.NewNonNull(schema.DateTime), Resolve: field(func(t *identity.Token) any { return t.CreatedAt })},
			"expiresAt":  &graphql.Field{Type: schema.DateTime, Resolve: field(func(t *identity.Token) any { return timeOrNil(t.ExpiresAt) })},
			"revokedAt":  &graphql.Field{Type: schema.DateTime, Resolve: field(func(t *identity.Token) any { return timeOrNil(t.RevokedAt) })},
			"lastUsedAt": &graphql.Field{Type: schema.DateTime, Resolve: field(func(t *identity.Token) any { return timeOrNil(t.LastUsedAt) })},
		},
	})
	tokenSecret := graphql.NewObject(graphql.ObjectConfig{
		Name: "ApiTokenSecret",
		Fields: graphql.Fields{
			"token": &graphql.Field{Type: graphql.NewNonNull(token)},
			"secret": &graphql.Field{Type: graphql.NewNonNull(graphql.String),
				Description: "Send it as `Authorization: Bearer <secret>`. It is shown only now; only its hash is kept."},
		},
	})
	extraType := graphql.NewObject(graphql.ObjectConfig{
		Name: "ExtraTypeInfo", Description: "A type an extra may have.",
		Fields: graphql.Fields{
			"name":        &graphql.Field{Type: graphql.NewNonNull(graphql.String), Resolve: field(func(t *ddl.Type) any { return t.Name })},
			"sqlType":     &graphql.Field{Type: graphql.NewNonNull(graphql.String), Resolve: field(func(t *ddl.Type) any { return t.SQL })},
			"graphqlType": &graphql.Field{Type: graphql.NewNonNull(graphql.String), Resolve: field(func(t *ddl.Type) any { return t.GraphQL })},
		},
	})

	str := func() *graphql.ArgumentConfig {
		return &graphql.ArgumentConfig{Type: graphql.NewNonNull(graphql.String)}
	}
	signedIn := graphql.Fields{
		"me": &graphql.Field{Type: user, Description: "The signed-in user.",
			Resolve: schema.Safe(func(p graphql.ResolveParams) (any, error) {
				return a.Users.User(p.Context, identity.FromContext(p.Context).UserID)
			})},
		"types": &graphql.Field{Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(extraType))),
			Description: "The types an extra may have.",
			Resolve: schema.Safe(func(p graphql.ResolveParams) (any, error) {
				out := make([]any, len(ddl.Types))
				for i := range ddl.Types {
					out[i] = &ddl.Types[i]
				}
				return out, nil
			})},
		"apiTokens": &graphql.Field{Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(token))),
			Description: "The signed-in user's API tokens.",
			Resolve: schema.Safe(func(p graphql.ResolveParams) (any, error) {
				ts, err := a.Users.Tokens(p.Context, identity.FromContext(p.Context).UserID)
				return ptrs(ts), err
			})},
	}
	adminQueries := graphql.Fields{
		"countries": &graphql.Field{Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(country))),
			Resolve: schema.Safe(func(p graphql.ResolveParams) (any, error) {
				ts, err := a.Tenants.List(p.Context)
				return ptrs(ts), err
			})},
		"country": &graphql.Field{Type: country, Args: graphql.FieldConfigArgument{"alias": str()},
			Resolve: schema.Safe(func(p graphql.ResolveParams) (any, error) {
				t, err := a.Tenants.ByAlias(p.Context, p.Args["alias"].(string))
				if errors.Is(err, tenancy.ErrNotFound) {
					return nil, nil
				}
				return t, err
			})},
		"users": &graphql.Field{Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(user))),
			Resolve: schema.Safe(func(p graphql.ResolveParams) (any, error) {
				us, err := a.Users.Users(p.Context)
				return ptrs(us), err
			})},
	}

	countryInput := graphql.NewInputObject(graphql.InputObjectConfig{
		Name: "CreateCountryInput",
		Fields: graphql.InputObjectConfigFieldMap{
			"name":         {Type: graphql.NewNonNull(graphql.String), Description: "e.g. Mexico; with the alias it names the schema."},
			"officialName": {Type: graphql.String},
			"alias":        {Type: graphql.NewNonNull(graphql.String), Description: "2 to 10 letters or digits, unique regardless of case."},
			"areaCode":     {Type: graphql.String},
		},
	})
	userInput := graphql.NewInputObject(graphql.InputObjectConfig{
		Name: "CreateUserInput",
		Fields: graphql.InputObjectConfigFieldMap{
			"email":    {Type: graphql.NewNonNull(graphql.String)},
			"name":     {Type: graphql.NewNonNull(graphql.String)},
			"password": {Type: graphql.String, Description: fmt.Sprintf("At least %d characters; leave out for sign-in through OpenID Connect only.", identity.MinPasswordLength)},
			"admin":    {Type: graphql.Boolean, DefaultValue: false},
		},
	})
	// Mutation fields run one after another, each committing on its own
	// (schema.NewStatic), so none is non-null: a failed non-null root field
	// would null the whole data, and the client would lose what the fields
	// before it did, such as a new token's only copy of its secret. A
	// failed field is null beside its error; the others keep their data.
	adminMutations := graphql.Fields{
		"createCountry": &graphql.Field{Type: country,
			Description: "Creates a country: its schema, tables and seed rows, all or nothing.",
			Args:        graphql.FieldConfigArgument{"input": {Type: graphql.NewNonNull(countryInput)}},
			Resolve: schema.Safe(func(p graphql.ResolveParams) (any, error) {
				in := p.Args["input"].(map[string]any)
				nt := tenancy.NewTenant{}
				nt.Name, _ = in["name"].(string)
				nt.OfficialName, _ = in["officialName"].(string)
				nt.Alias, _ = in["alias"].(string)
				nt.AreaCode, _ = in["areaCode"].(string)
				return a.Tenants.Create(p.Context, nt)
			})},
		"deleteCountry": &graphql.Field{Type: graphql.Boolean,
			Description: "Drops a country and all its data. confirm must repeat the alias.",
			Args:        graphql.FieldConfigArgument{"alias": str(), "confirm": str()},
			Resolve: schema.Safe(func(p graphql.ResolveParams) (any, error) {
				alias := p.Args["alias"].(string)
				err := a.Tenants.Drop(p.Context, alias, p.Args["confirm"].(string))
				return err == nil, countryError(alias, err)
			})},
		"refreshCountry": &graphql.Field{Type: schema.BigInt,
			Description: "Rebuilds a country's API on every replica after a change made outside it (psql); returns the new schema version.",
			Args:        graphql.FieldConfigArgument{"alias": str()},
			Resolve: schema.Safe(func(p graphql.ResolveParams) (any, error) {
				alias := p.Args["alias"].(string)
				v, err := a.Tenants.Refresh(p.Context, alias)
				return v, countryError(alias, err)
			})},
		"createUser": &graphql.Field{Type: user,
			Args: graphql.FieldConfigArgument{"input": {Type: graphql.NewNonNull(userInput)}},
			Resolve: schema.Safe(func(p graphql.ResolveParams) (any, error) {
				in := p.Args["input"].(map[string]any)
				email, _ := in["email"].(string)
				name, _ := in["name"].(string)
				pw, _ := in["password"].(string)
				adm, _ := in["admin"].(bool)
				return a.Users.CreateUser(p.Context, email, name, pw, adm)
			})},
		"setUserActive": &graphql.Field{Type: user,
			Description: "Deactivating a user ends their sessions and tokens at their next request. The last active admin cannot be deactivated (CONFLICT).",
			Args:        graphql.FieldConfigArgument{"email": str(), "active": {Type: graphql.NewNonNull(graphql.Boolean)}},
			Resolve: schema.Safe(func(p graphql.ResolveParams) (any, error) {
				u, err := a.Users.UserByEmail(p.Context, p.Args["email"].(string))
				if err != nil {
					return nil, err
				}
				return a.Users.SetActive(p.Context, u.ID, p.Args["active"].(bool))
			})},
		"grantMembership": &graphql.Field{Type: membership,
			Description: "Gives a user a role: editor or viewer in a country, or admin (leave alias empty).",
			Args:        graphql.FieldConfigArgument{"email": str(), "alias": {Type: graphql.String}, "role": {Type: graphql.NewNonNull(access.RoleEnum())}},
			Resolve: schema.Safe(func(p graphql.ResolveParams) (any, error) {
				alias, _ := p.Args["alias"].(string)
				m, err := a.Users.Grant(p.Context, p.Args["email"].(string), alias, identity.Role(p.Args["role"].(string)))
				if err == nil {
					a.roleChanged(p.Context, m.UserID)
				}
				return m, err
			})},
		"revokeMembership": &graphql.Field{Type: graphql.Boolean,
			Description: "Takes away the role a user holds in a country, or the admin role (leave alias empty). The last active admin keeps theirs (CONFLICT).",
			Args:        graphql.FieldConfigArgument{"email": str(), "alias": {Type: graphql.String}},
			Resolve: schema.Safe(func(p graphql.ResolveParams) (any, error) {
				alias, _ := p.Args["alias"].(string)
				email := p.Args["email"].(string)
				if err := a.Users.Revoke(p.Context, email, alias); err != nil {
					return nil, err
				}
				if u, err := a.Users.UserByEmail(p.Context, email); err == nil {
					a.roleChanged(p.Context, u.ID)
				}
				return true, nil
			})},
	}
	selfMutations := graphql.Fields{
		"createApiToken": &graphql.Field{Type: tokenSecret,
			Description: "Makes an API token for the signed-in user; it acts with the user's roles.",
			Args: graphql.FieldConfigArgument{"name": str(),
				"expiresAt": {Type: schema.DateTime, Description: "Leave out for a token that does not expire."}},
			Resolve: schema.Safe(func(p graphql.ResolveParams) (any, error) {
				var exp *time.Time
				if t, ok := p.Args["expiresAt"].(time.Time); ok {
					exp = &t
				}
				secret, t, err := a.Users.CreateToken(p.Context, identity.FromContext(p.Context).UserID, p.Args["name"].(string), exp)
				if err != nil {
					return nil, err
				}
				return map[string]any{"token": t, "secret": secret}, nil
			})},
		"revokeApiToken": &graphql.Field{Type: token,
			Description: "Revokes one of your tokens (admins: anyone's); it stops working at its next request.",
			Args:        graphql.FieldConfigArgument{"id": {Type: graphql.NewNonNull(graphql.ID)}},
			Resolve: schema.Safe(func(p graphql.ResolveParams) (any, error) {
				id, err := strconv.ParseInt(fmt.Sprint(p.Args["id"]), 10, 64)
				if err != nil {
					return nil, schema.UserError("id %q is not a token id", fmt.Sprint(p.Args["id"]))
				}
				me := identity.FromContext(p.Context)
				return a.Users.RevokeToken(p.Context, id, me.UserID, me.Admin)
			})},
	}

	access.Require("Query", signedIn, identity.RoleViewer)
	access.Require("Query", adminQueries, identity.RoleAdmin)
	access.Require("Mutation", adminMutations, identity.RoleAdmin)
	access.Require("Mutation", selfMutations, identity.RoleViewer)
	query, mutation := merge(signedIn, adminQueries), merge(adminMutations, selfMutations)
	for _, fs := range []graphql.Fields{query, mutation} {
		for _, f := range fs {
			f.Resolve = mapErrors(f.Resolve)
		}
	}
	s, err := graphql.NewSchema(access.SchemaConfig(graphql.SchemaConfig{
		Query:    graphql.NewObject(graphql.ObjectConfig{Name: "Query", Fields: query}),
		Mutation: graphql.NewObject(graphql.ObjectConfig{Name: "Mutation", Fields: mutation}),
	}))
	if err != nil {
		return nil, nil, fmt.Errorf("build admin schema: %w", err)
	}
	return schema.NewStatic(s, access, opts), access, nil
}

func (a *API) roleChanged(ctx context.Context, userID int64) {
	if me := identity.FromContext(ctx); me != nil && me.UserID == userID && a.OnRoleChange != nil {
		a.OnRoleChange(ctx)
	}
}

// countryError words tenancy's ErrNotFound, whose message is the bare
// alias, for the client; other errors pass through.
func countryError(alias string, err error) error {
	if errors.Is(err, tenancy.ErrNotFound) {
		return &schema.Error{Code: schema.CodeNotFound, Message: fmt.Sprintf("no country has alias %q", alias), Err: err}
	}
	return err
}

// mapErrors gives the stores' sentinel errors their client codes: a taken
// email or alias, and removing the last active admin, conflict with what
// is stored (CONFLICT); other refused input is BAD_USER_INPUT.
func mapErrors(next graphql.FieldResolveFn) graphql.FieldResolveFn {
	return func(p graphql.ResolveParams) (any, error) {
		out, err := next(p)
		if err == nil {
			return out, nil
		}
		var e *schema.Error
		if errors.As(err, &e) && e.Code != schema.CodeInternal {
			return nil, e
		}
		cause := err
		if e != nil && e.Err != nil {
			cause = e.Err
		}
		msg := cause.Error()
		for _, prefix := range []string{"invalid: ", "not found: ", "conflict: ", "last active admin: ",
			"tenant not found: ", "invalid tenant: ", "tenant already exists: "} {
			msg = strings.TrimPrefix(msg, prefix)
		}
		switch {
		case errors.Is(cause, identity.ErrNotFound), errors.Is(cause, tenancy.ErrNotFound):
			return nil, &schema.Error{Code: schema.CodeNotFound, Message: msg, Err: cause}
		case errors.Is(cause, identity.ErrConflict), errors.Is(cause, tenancy.ErrConflict),
			errors.Is(cause, identity.ErrLastAdmin):
			return nil, &schema.Error{Code: schema.CodeConflict, Message: msg, Err: cause}
		case errors.Is(cause, identity.ErrInvalid), errors.Is(cause, tenancy.ErrInvalid):
			return nil, &schema.Error{Code: schema.CodeBadUserInput, Message: msg, Err: cause}
		}
		return nil, schema.Classify(cause)
	}
}

// field makes a resolver reading one value of a typed source.
func field[T any](get func(T) any) graphql.FieldResolveFn {
	return func(p graphql.ResolveParams) (any, error) {
		src, ok := p.Source.(T)
		if !ok {
			return nil, nil
		}
		return get(src), nil
	}
}

func ptrs[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i := range xs {
		out[i] = &xs[i]
	}
	return out
}

func merge(fs ...graphql.Fields) graphql.Fields {
	out := graphql.Fields{}
	for _, f := range fs {
		for k, v := range f {
			out[k] = v
		}
	}
	return out
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func timeOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return *t
}
