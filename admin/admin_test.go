package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/graphql-go/graphql"
	"github.com/jmoiron/sqlx"
	"golang.org/x/crypto/bcrypt"

	"tenantgraph/admin"
	"tenantgraph/identity"
	"tenantgraph/migrations"
	"tenantgraph/schema"
	"tenantgraph/tenancy"
	"tenantgraph/tenancy/tenancytest"
)

// api is the admin API over one database, and the admin who calls it.
type api struct {
	db      *sqlx.DB
	built   *schema.Built
	users   *identity.Store
	tenants *tenancy.Store
	admin   *identity.User
}

// result is a response as a client decodes it.
type result struct {
	Data   map[string]any `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// newAPI builds the admin API over the shared test database, called by a
// new admin.
func newAPI(t *testing.T) *api {
	t.Helper()
	return newAPIOn(t, tenancytest.DB(t), tenancytest.DSN(t))
}

// newLoneAPI builds the admin API over a database of its own, where the
// test's admin is the only one.
func newLoneAPI(t *testing.T) *api {
	t.Helper()
	dsn := tenancytest.NewDatabase(t)
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	t.Cleanup(func() { db.Close() })
	if _, err := migrations.MigrateAdmin(context.Background(), db.DB); err != nil {
		t.Fatal(err)
	}
	return newAPIOn(t, db, dsn)
}

func newAPIOn(t *testing.T, db *sqlx.DB, dsn string) *api {
	t.Helper()
	a := &api{db: db, users: identity.NewStore(db), tenants: tenancy.NewStore(db, dsn)}
	a.users.BcryptCost = bcrypt.MinCost
	built, _, err := (&admin.API{Tenants: a.tenants, Users: a.users}).Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	a.built = built
	a.admin = a.newUser(t, true)
	return a
}

func (a *api) newUser(t *testing.T, isAdmin bool) *identity.User {
	t.Helper()
	email := fmt.Sprintf("admin-api-%08x@example.com", rand.Uint32())
	u, err := a.users.CreateUser(context.Background(), email, "Admin API", "", isAdmin)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// do runs query as user u and decodes the response as a client would.
func (a *api) do(t *testing.T, u *identity.User, query string, vars map[string]any) result {
	t.Helper()
	p, err := a.users.Principal(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	ctx := identity.NewContext(context.Background(), p)
	resp := a.built.Execute(ctx, a.db, schema.Request{Query: query, Variables: vars}, true)
	b, err := resp.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var r result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return r
}

// wantError checks that r failed only at field with code and a message
// ending in msg.
func wantError(t *testing.T, r result, field, code, msg string) {
	t.Helper()
	if len(r.Errors) != 1 {
		t.Fatalf("errors %+v, want one at %s", r.Errors, field)
	}
	e := r.Errors[0]
	if fmt.Sprint(e.Path) != "["+field+"]" || e.Extensions["code"] != code || !strings.HasSuffix(e.Message, msg) {
		t.Errorf("error %+v, want %s at [%s] saying %q", e, code, field, msg)
	}
	if v, ok := r.Data[field]; !ok || v != nil {
		t.Errorf("data.%s = %v (present %v), want null", field, v, ok)
	}
}

func TestAPI_Mutation(t *testing.T) {
	t.Parallel()
	a := newAPI(t)

	t.Run("FieldsNullable", func(t *testing.T) {
		// One failed non-null root field would null the data of every field
		// that committed before it.
		for name, f := range a.built.Schema.MutationType().Fields() {
			if _, ok := f.Type.(*graphql.NonNull); ok {
				t.Errorf("Mutation.%s is %s; root mutation fields must be nullable", name, f.Type)
			}
		}
	})

	t.Run("KeepsWhatCommitted", func(t *testing.T) {
		// Each field commits on its own, in order: the token exists, so its
		// secret must reach the client although a later field failed.
		r := a.do(t, a.admin, `mutation {
			a: createApiToken(name: "kept") { secret token { id } }
			b: revokeApiToken(id: "1152921504606846976") { id }
			c: createApiToken(name: "after") { secret }
		}`, nil)
		wantError(t, r, "b", schema.CodeNotFound, "no token has id 1152921504606846976")
		for _, f := range []string{"a", "c"} {
			got, _ := r.Data[f].(map[string]any)
			if s, _ := got["secret"].(string); !strings.HasPrefix(s, identity.TokenPrefix) {
				t.Errorf("data.%s = %v, want the new token's secret", f, r.Data[f])
			}
		}
		tok, _ := r.Data["a"].(map[string]any)
		tok, _ = tok["token"].(map[string]any)
		id := tok["id"]
		ts, err := a.users.Tokens(context.Background(), a.admin.ID)
		if err != nil || len(ts) != 2 || fmt.Sprint(ts[1].ID) != fmt.Sprint(id) {
			t.Errorf("tokens %+v %v, want the two created, the first with id %v", ts, err, id)
		}
	})

	t.Run("DroppedCountryStaysVisible", func(t *testing.T) {
		tn := tenancytest.NewTenant(t, a.db)
		r := a.do(t, a.admin, `mutation($alias: String!) {
			a: deleteCountry(alias: $alias, confirm: $alias)
			b: createCountry(input: {name: "!!!", alias: "ZE"}) { id }
		}`, map[string]any{"alias": tn.Alias})
		if len(r.Errors) != 1 || fmt.Sprint(r.Errors[0].Path) != "[b]" || r.Errors[0].Extensions["code"] != schema.CodeBadUserInput {
			t.Errorf("errors %+v, want one BAD_USER_INPUT at [b]", r.Errors)
		}
		if r.Data["a"] != true {
			t.Errorf("data %v, want a: true: the country was dropped", r.Data)
		}
		if _, err := a.tenants.ByAlias(context.Background(), tn.Alias); !errors.Is(err, tenancy.ErrNotFound) {
			t.Errorf("country after deleteCountry: %v, want it gone", err)
		}
	})
}

func TestAPI_LastAdmin(t *testing.T) {
	t.Parallel()
	a := newLoneAPI(t)
	want := a.admin.Email + " is the only active admin; make another user admin first"

	for _, tc := range []struct{ name, query string }{
		{"setUserActive", `mutation($e: String!) { setUserActive(email: $e, active: false) { active } }`},
		{"revokeMembership", `mutation($e: String!) { revokeMembership(email: $e) }`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := a.do(t, a.admin, tc.query, map[string]any{"e": a.admin.Email})
			if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != schema.CodeConflict ||
				!strings.HasPrefix(r.Errors[0].Message, want) {
				t.Errorf("errors %+v, want one CONFLICT saying %q", r.Errors, want)
			}
			u, err := a.users.User(context.Background(), a.admin.ID)
			if err != nil || !u.Active || !u.Admin {
				t.Errorf("after the refusal: %+v %v, want an active admin", u, err)
			}
		})
	}
}

func TestAPI_NotFound(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	plain := a.newUser(t, false)
	const nobody = "nobody-at-all@example.com"
	const bigID = "1152921504606846976"

	for _, tc := range []struct {
		name, query string
		as          *identity.User
		want        string
	}{
		{"deleteCountry", `mutation { deleteCountry(alias: "zz", confirm: "zz") }`, a.admin, `no country has alias "zz"`},
		{"refreshCountry", `mutation { refreshCountry(alias: "zz") }`, a.admin, `no country has alias "zz"`},
		{"setUserActive", `mutation { setUserActive(email: "` + nobody + `", active: false) { id } }`, a.admin, `no user has email "` + nobody + `"`},
		{"grantMembershipEmail", `mutation { grantMembership(email: "` + nobody + `", role: ADMIN) { role } }`, a.admin, `no user has email "` + nobody + `"`},
		{"grantMembershipAlias", `mutation { grantMembership(email: "` + plain.Email + `", alias: "zz", role: VIEWER) { role } }`, a.admin, `no country has alias "zz"`},
		{"revokeMembershipEmail", `mutation { revokeMembership(email: "` + nobody + `") }`, a.admin, `no user has email "` + nobody + `"`},
		{"revokeMembershipAlias", `mutation { revokeMembership(email: "` + plain.Email + `", alias: "zz") }`, a.admin, `no country has alias "zz"`},
		{"revokeMembershipRole", `mutation { revokeMembership(email: "` + plain.Email + `") }`, a.admin, plain.Email + ` is not an admin`},
		{"revokeApiTokenAdmin", `mutation { revokeApiToken(id: "` + bigID + `") { id } }`, a.admin, `no token has id ` + bigID},
		{"revokeApiTokenOwn", `mutation { revokeApiToken(id: "` + bigID + `") { id } }`, plain, `you have no token with id ` + bigID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := a.do(t, tc.as, tc.query, nil)
			if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != schema.CodeNotFound || r.Errors[0].Message != tc.want {
				t.Errorf("errors %+v, want one NOT_FOUND saying %q", r.Errors, tc.want)
			}
		})
	}

	t.Run("ErrTokenID", func(t *testing.T) {
		r := a.do(t, a.admin, `mutation { revokeApiToken(id: "abc") { id } }`, nil)
		wantError(t, r, "revokeApiToken", schema.CodeBadUserInput, `id "abc" is not a token id`)
	})
}

func TestAPI_Conflict(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tn := tenancytest.NewTenant(t, a.db)

	t.Run("createUser", func(t *testing.T) {
		r := a.do(t, a.admin, `mutation($e: String!) { createUser(input: {email: $e, name: "Again"}) { id } }`,
			map[string]any{"e": strings.ToUpper(a.admin.Email)})
		wantError(t, r, "createUser", schema.CodeConflict, fmt.Sprintf("a user with email %q exists", a.admin.Email))
	})

	t.Run("createCountry", func(t *testing.T) {
		r := a.do(t, a.admin, `mutation($a: String!) { createCountry(input: {name: "Again", alias: $a}) { id } }`,
			map[string]any{"a": strings.ToLower(tn.Alias)})
		wantError(t, r, "createCountry", schema.CodeConflict, "(aliases are compared without regard to case)")
	})
}
