package main

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/graphql-go/graphql"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"tenantgraph/admin"
	"tenantgraph/identity"
	"tenantgraph/schema"
	"tenantgraph/tenancy"
	"tenantgraph/tenancy/tenancytest"
)

// The role matrix is generated from the built schemas: every root field
// that exists is tried by every kind of caller, so a field added later is
// covered without touching this file.

// caller is one kind of client in the role matrix.
type caller struct {
	name string
	b    *browser
	// role is what the caller holds in country A; "" for none.
	role     identity.Role
	signedIn bool
	admin    bool
}

// outcome is what a caller should get from a field.
type outcome int

const (
	unauthenticated outcome = iota
	forbidden
	allowed
)

func (o outcome) String() string {
	return [...]string{"UNAUTHENTICATED", "FORBIDDEN", "allowed"}[o]
}

func rank(r identity.Role) int {
	return map[identity.Role]int{identity.RoleViewer: 1, identity.RoleEditor: 2, identity.RoleAdmin: 3}[r]
}

// tenantOutcome is what c gets from a tenant field of country A needing need.
func (c caller) tenantOutcome(need identity.Role) outcome {
	switch {
	case !c.signedIn:
		return unauthenticated
	case c.admin || (c.role != "" && rank(c.role) >= rank(need)):
		return allowed
	}
	return forbidden
}

// adminOutcome is what c gets from an admin API field needing need: VIEWER
// there means any signed-in user.
func (c caller) adminOutcome(need identity.Role) outcome {
	switch {
	case !c.signedIn:
		return unauthenticated
	case need == identity.RoleAdmin && !c.admin:
		return forbidden
	}
	return allowed
}

// roleFixture is two countries, a caller of each kind, and things in
// country A that a forbidden mutation would change if it were let through.
type roleFixture struct {
	app     *testApp
	db      *sqlx.DB
	a, b    *tenancy.Tenant
	callers []caller
	emails  []string

	// seedRows maps a brand table of A to the id of a row in it.
	seedRows map[string]string
	// activeExtra and archivedExtra are extras of A's toyota table.
	activeExtra, archivedExtra       string
	activeExtraName, archivedExtName string
	// tokenID is an API token of A's viewer.
	tokenID string
	// probeAlias and probeEmail name a country and a user that must never
	// come to exist.
	probeAlias, probeEmail string
}

func newRoleFixture(t *testing.T) *roleFixture {
	t.Helper()
	app := newTestApp(t, nil)
	db := tenancytest.DB(t)
	fx := &roleFixture{app: app, db: db, seedRows: map[string]string{}}
	fx.a = tenancytest.NewTenant(t, db)
	fx.b = tenancytest.NewTenant(t, db)

	viewerA := app.newUser(t, "viewer-a", identity.RoleViewer, fx.a.Alias)
	editorA := app.newUser(t, "editor-a", identity.RoleEditor, fx.a.Alias)
	adm := app.newUser(t, "admin", identity.RoleAdmin, "")
	viewerB := app.newUser(t, "viewer-b", identity.RoleViewer, fx.b.Alias)
	fx.emails = []string{viewerA.Email, editorA.Email, adm.Email, viewerB.Email}
	fx.callers = []caller{
		{name: "anonymous", b: app.browser(t)},
		{name: "viewerA", b: app.signedIn(t, viewerA.Email), role: identity.RoleViewer, signedIn: true},
		{name: "editorA", b: app.signedIn(t, editorA.Email), role: identity.RoleEditor, signedIn: true},
		{name: "admin", b: app.signedIn(t, adm.Email), role: identity.RoleAdmin, signedIn: true, admin: true},
		{name: "viewerB", b: app.signedIn(t, viewerB.Email), signedIn: true},
	}

	ctx := context.Background()
	for _, table := range []string{"toyota", "ford", "chevrolet"} {
		var id string
		err := tenancy.InTx(ctx, db, fx.a.Namespace, tenancy.TxOptions{}, func(tx *sqlx.Tx) error {
			return tx.GetContext(ctx, &id, `INSERT INTO `+pq.QuoteIdentifier(table)+` (model) VALUES ('seed') RETURNING id::text`)
		})
		if err != nil {
			t.Fatalf("seed %s: %v", table, err)
		}
		fx.seedRows[table] = id
	}

	// Extras are made through the API, as an administrator would.
	admin := fx.callers[3].b
	path := tenantPath(fx.a.Alias)
	mk := func(name string) string {
		d := admin.gql(path, `mutation($in: CreateExtraInput!) { createExtra(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"brand": "toyota", "name": name, "displayName": name, "type": "TEXT"}}).mustOK(t)
		return d["createExtra"].(map[string]any)["id"].(string)
	}
	fx.activeExtraName, fx.archivedExtName = "seed_active", "seed_archived"
	fx.activeExtra, fx.archivedExtra = mk(fx.activeExtraName), mk(fx.archivedExtName)
	admin.gql(path, `mutation($id: ID!, $c: String!) { deleteExtra(id: $id, confirm: $c) { id } }`,
		map[string]any{"id": fx.archivedExtra, "c": fx.archivedExtName}).mustOK(t)

	_, tok, err := app.Store.CreateToken(ctx, viewerA.ID, "matrix", nil)
	if err != nil {
		t.Fatal(err)
	}
	fx.tokenID = fmt.Sprint(tok.ID)
	fx.probeAlias = "P" + strings.ToUpper(uniqueEmail("x")[2:10])
	fx.probeEmail = uniqueEmail("probe")
	return fx
}

// snapshot describes everything a forbidden call might change: both
// countries' tables, columns, rows and versions, the matrix users, their
// roles and tokens, and whether the probe country or user exists. It is one
// statement: query_to_xml runs the per-table queries inside it.
func (fx *roleFixture) snapshot(t *testing.T) string {
	t.Helper()
	var s string
	err := fx.db.Get(&s, snapshotSQL,
		pq.Array([]int64{fx.a.ID, fx.b.ID}),
		pq.Array([]string{fx.a.Namespace, fx.b.Namespace}),
		pq.Array(append(append([]string{}, fx.emails...), fx.probeEmail)),
		fx.probeAlias)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return s
}

const snapshotSQL = `
SELECT concat_ws(E'\n',
	(SELECT string_agg(format('%s version %s', alias, schema_version), ', ' ORDER BY id)
	 FROM administration.countries WHERE id = ANY($1)),
	(SELECT string_agg(format('%s.%s.%s %s', table_schema, table_name, column_name, data_type), ', '
	                   ORDER BY table_schema, table_name, column_name)
	 FROM information_schema.columns WHERE table_schema = ANY($2)),
	(SELECT string_agg(format('%s.%s: %s', table_schema, table_name, query_to_xml(format(
	            'SELECT count(*) AS n, md5(string_agg(r::text, ''|'' ORDER BY r::text)) AS h FROM %I.%I r',
	            table_schema, table_name), false, true, '')), E'\n' ORDER BY table_schema, table_name)
	 FROM information_schema.tables WHERE table_schema = ANY($2)),
	(SELECT string_agg(format('user %s|%s|%s|%s', id, email, name, active), ', ' ORDER BY id)
	 FROM administration.users WHERE email = ANY($3)),
	(SELECT string_agg(format('member %s|%s|%s', m.user_id, m.country_id, m.role), ', ' ORDER BY m.id)
	 FROM administration.memberships m JOIN administration.users u ON u.id = m.user_id WHERE u.email = ANY($3)),
	(SELECT string_agg(format('token %s|%s|%s|%s', t.id, t.user_id, t.expires_at, t.revoked_at), ', ' ORDER BY t.id)
	 FROM administration.api_tokens t JOIN administration.users u ON u.id = t.user_id WHERE u.email = ANY($3)),
	(SELECT format('probe countries %s', count(*)) FROM administration.countries WHERE lower(alias) = lower($4)))`

// literal is a plausible GraphQL literal of type typ: values that pass
// validation and that no resolver will find or accept as a name, so an
// allowed call changes nothing it should not.
func literal(t *testing.T, typ graphql.Input) string {
	switch typ := typ.(type) {
	case *graphql.NonNull:
		return literal(t, typ.OfType)
	case *graphql.List:
		return "[]"
	case *graphql.Enum:
		vals := typ.Values()
		names := make([]string, len(vals))
		for i, v := range vals {
			names[i] = v.Name
		}
		sort.Strings(names)
		return names[0]
	case *graphql.InputObject:
		fields := typ.Fields()
		var parts []string
		for _, name := range sortedNames(fields) {
			f := fields[name]
			if _, ok := f.Type.(*graphql.NonNull); ok && f.DefaultValue == nil {
				parts = append(parts, name+": "+literal(t, f.Type))
			}
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case *graphql.Scalar:
		switch typ.Name() {
		case "String":
			return `"zz-nonexistent"`
		case "ID":
			return `"999999999"`
		case "Int":
			return "1"
		case "Float":
			return "1.5"
		case "Boolean":
			return "false"
		case "BigInt":
			return `"1"`
		case "Date":
			return `"2000-01-01"`
		case "DateTime":
			return `"2000-01-01T00:00:00Z"`
		case "Time":
			return `"00:00:00"`
		}
	}
	t.Fatalf("no literal for type %v; teach literal() about it", typ)
	return ""
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// requiredArgs is the argument list of f with every required argument.
func requiredArgs(t *testing.T, f *graphql.FieldDefinition) string {
	var parts []string
	args := append([]*graphql.Argument(nil), f.Args...)
	sort.Slice(args, func(i, j int) bool { return args[i].Name() < args[j].Name() })
	for _, a := range args {
		if _, ok := a.Type.(*graphql.NonNull); ok && a.DefaultValue == nil {
			parts = append(parts, a.Name()+": "+literal(t, a.Type))
		}
	}
	return strings.Join(parts, ", ")
}

// operation is a document running field f of the root type typeName with
// args, selecting __typename when f returns an object.
func operation(typeName string, f *graphql.FieldDefinition, args string) string {
	kind := "query"
	if typeName == "Mutation" {
		kind = "mutation"
	}
	if args != "" {
		args = "(" + args + ")"
	}
	sel := ""
	if _, ok := graphql.GetNamed(f.Type).(*graphql.Object); ok {
		sel = " { __typename }"
	}
	return fmt.Sprintf("%s { %s%s%s }", kind, f.Name, args, sel)
}

// rootFields returns every root field of s by "Type.field".
func rootFields(s graphql.Schema) map[string]*graphql.FieldDefinition {
	out := map[string]*graphql.FieldDefinition{}
	for _, obj := range []*graphql.Object{s.QueryType(), s.MutationType()} {
		if obj == nil {
			continue
		}
		for name, f := range obj.Fields() {
			out[obj.Name()+"."+name] = f
		}
	}
	return out
}

// checkCoverage fails when a root field carries no @hasRole or the role
// differs from rule's.
func checkCoverage(t *testing.T, s graphql.Schema, roles []schema.FieldRole, rule func(typ, field string) identity.Role) {
	t.Helper()
	byKey := map[string]identity.Role{}
	for _, fr := range roles {
		byKey[fr.Type+"."+fr.Field] = fr.Role
	}
	for key := range rootFields(s) {
		got, ok := byKey[key]
		if !ok {
			t.Errorf("%s carries no @hasRole: every root field needs a role", key)
			continue
		}
		typ, field, _ := strings.Cut(key, ".")
		if want := rule(typ, field); got != want {
			t.Errorf("%s needs %q, want %q", key, got, want)
		}
	}
	if len(byKey) != len(rootFields(s)) {
		t.Errorf("Roles() lists %d fields, the schema has %d root fields", len(byKey), len(rootFields(s)))
	}
}

// tenantChanges are the tenant mutations that change its shape: admins only.
var tenantChanges = map[string]bool{
	"createExtra": true, "updateExtra": true, "deleteExtra": true, "restoreExtra": true,
	"purgeExtra": true, "createBrand": true, "refreshSchema": true,
}

// adminSelf are the admin API fields any signed-in user may use.
var adminSelf = map[string]bool{
	"me": true, "types": true, "apiTokens": true, "createApiToken": true, "revokeApiToken": true,
}

var rowMutation = regexp.MustCompile(`^(create|update|delete)([A-Z]\w*)$`)

// brandTables maps the type name of each brand table of s to the table:
// a table has a by-id field and a List field.
func brandTables(s graphql.Schema) map[string]string {
	out := map[string]string{}
	q := s.QueryType().Fields()
	for name, f := range q {
		if _, ok := q[name+"List"]; ok {
			out[graphql.GetNamed(f.Type).String()] = name
		}
	}
	return out
}

// tenantProbes are arguments that would change country A if the call were
// let through; forbidden callers send them, so "nothing changed" means
// something.
func (fx *roleFixture) tenantProbes(s graphql.Schema) map[string]string {
	p := map[string]string{
		"createExtra":  `input: {brand: "toyota", name: "probe_extra", displayName: "Probe", type: TEXT}`,
		"updateExtra":  fmt.Sprintf(`id: %q, input: {displayName: "Probed", name: "probed"}`, fx.activeExtra),
		"deleteExtra":  fmt.Sprintf(`id: %q, confirm: %q`, fx.activeExtra, fx.activeExtraName),
		"restoreExtra": fmt.Sprintf(`id: %q`, fx.archivedExtra),
		"purgeExtra":   fmt.Sprintf(`id: %q, confirm: %q`, fx.archivedExtra, fx.archivedExtName),
		"createBrand":  `input: {name: "probebrand", displayName: "Probe"}`,
	}
	for typ, table := range brandTables(s) {
		if id, ok := fx.seedRows[table]; ok {
			p["update"+typ] = fmt.Sprintf(`id: %q, patch: {model: "probed"}`, id)
			p["delete"+typ] = fmt.Sprintf(`id: %q`, id)
		}
	}
	return p
}

// adminProbes are arguments that would change something if the call were
// let through.
func (fx *roleFixture) adminProbes() map[string]string {
	viewerA, viewerB := fx.emails[0], fx.emails[3]
	return map[string]string{
		"createCountry":    fmt.Sprintf(`input: {name: "Probe", alias: %q}`, fx.probeAlias),
		"deleteCountry":    fmt.Sprintf(`alias: %q, confirm: %q`, fx.a.Alias, fx.a.Alias),
		"refreshCountry":   fmt.Sprintf(`alias: %q`, fx.a.Alias),
		"createUser":       fmt.Sprintf(`input: {email: %q, name: "Probe", password: "probe-password-1", admin: true}`, fx.probeEmail),
		"setUserActive":    fmt.Sprintf(`email: %q, active: false`, viewerB),
		"grantMembership":  fmt.Sprintf(`email: %q, role: ADMIN`, viewerA),
		"revokeMembership": fmt.Sprintf(`email: %q, alias: %q`, viewerA, fx.a.Alias),
		"revokeApiToken":   fmt.Sprintf(`id: %q`, fx.tokenID),
		"createApiToken":   `name: "probe"`,
	}
}

// runMatrix sends every field of roles to every caller and checks the
// outcome.
func (fx *roleFixture) runMatrix(t *testing.T, path string, s graphql.Schema, roles []schema.FieldRole,
	probes map[string]string, expect func(caller, identity.Role) outcome) {
	fields := rootFields(s)
	for _, fr := range roles {
		f := fields[fr.Type+"."+fr.Field]
		if f == nil {
			t.Errorf("Roles() lists %s.%s, which the schema lacks", fr.Type, fr.Field)
			continue
		}
		for _, c := range fx.callers {
			want := expect(c, fr.Role)
			t.Run(fmt.Sprintf("%s.%s/%s", fr.Type, fr.Field, c.name), func(t *testing.T) {
				args := requiredArgs(t, f)
				if p, ok := probes[fr.Field]; ok && want != allowed {
					args = p
				}
				doc := operation(fr.Type, f, args)
				var before string
				if want != allowed {
					before = fx.snapshot(t)
				}
				r := c.b.gql(path, doc, nil)
				switch want {
				case unauthenticated:
					if r.Status != http.StatusUnauthorized || !r.hasCode(schema.CodeUnauthenticated) {
						t.Errorf("%s: want 401 UNAUTHENTICATED, got %d %v", doc, r.Status, r.Codes())
					}
				case forbidden:
					checkForbidden(t, doc, r, fr.Field)
				case allowed:
					checkAllowed(t, doc, r, fr.Type == "Mutation")
				}
				if want != allowed {
					if after := fx.snapshot(t); after != before {
						t.Errorf("%s by %s changed state:\nbefore:\n%s\nafter:\n%s", doc, c.name, before, after)
					}
				}
			})
		}
	}
}

func checkForbidden(t *testing.T, doc string, r *gqlResult, field string) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Errorf("%s: want 200 with FORBIDDEN, got status %d %v", doc, r.Status, r.Codes())
	}
	found := false
	for _, e := range r.Errors {
		switch {
		case e.code() == schema.CodeForbidden && len(e.Path) == 1 && e.Path[0] == field:
			found = true
		case e.code() != schema.CodeForbidden:
			t.Errorf("%s: unexpected error %s besides FORBIDDEN", doc, e.code())
		}
	}
	if !found {
		t.Errorf("%s: want FORBIDDEN at path [%s], got %v", doc, field, r.Codes())
	}
	if v := r.Data[field]; v != nil {
		t.Errorf("%s: forbidden field returned data %v", doc, v)
	}
}

func checkAllowed(t *testing.T, doc string, r *gqlResult, mutation bool) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Errorf("%s: want 200, got %d %v", doc, r.Status, r.Codes())
	}
	for _, e := range r.Errors {
		switch e.code() {
		case schema.CodeBadUserInput, schema.CodeNotFound, schema.CodeConflict:
			if mutation {
				continue // got past authorization; the values were made up
			}
		}
		t.Errorf("%s: unexpected error %s: %s", doc, e.code(), e.Message)
	}
}

func TestRoles_Matrix(t *testing.T) {
	t.Parallel()
	fx := newRoleFixture(t)
	ctx := context.Background()

	t.Run("Tenant", func(t *testing.T) {
		cur, err := fx.app.Tenants.ByAlias(ctx, fx.a.Alias)
		if err != nil {
			t.Fatal(err)
		}
		built, err := fx.app.Registry.Get(ctx, cur)
		if err != nil {
			t.Fatal(err)
		}
		tables := brandTables(built.Schema)
		if len(tables) < 3 {
			t.Fatalf("found brand tables %v, want at least toyota, ford and chevrolet", tables)
		}
		checkCoverage(t, built.Schema, built.Roles(), func(typ, field string) identity.Role {
			if typ == "Query" {
				return identity.RoleViewer
			}
			if tenantChanges[field] {
				return identity.RoleAdmin
			}
			if m := rowMutation.FindStringSubmatch(field); m != nil && tables[m[2]] != "" {
				return identity.RoleEditor
			}
			t.Errorf("Mutation.%s: no rule says who may use it; extend the rules", field)
			return ""
		})
		fx.runMatrix(t, tenantPath(fx.a.Alias), built.Schema, built.Roles(), fx.tenantProbes(built.Schema),
			caller.tenantOutcome)
	})

	t.Run("Admin", func(t *testing.T) {
		built, _, err := (&admin.API{Tenants: fx.app.Tenants, Users: fx.app.Users}).Build(nil)
		if err != nil {
			t.Fatal(err)
		}
		checkCoverage(t, built.Schema, built.Roles(), func(typ, field string) identity.Role {
			if adminSelf[field] {
				return identity.RoleViewer
			}
			return identity.RoleAdmin
		})
		fx.runMatrix(t, "/admin/graphql", built.Schema, built.Roles(), fx.adminProbes(), caller.adminOutcome)
	})

	t.Run("Introspection", func(t *testing.T) {
		docs := []string{
			`{ __schema { queryType { name } } }`,
			`{ __type(name: "Query") { name } }`,
			`{ ... on Query { __schema { queryType { name } } } }`,
			`query { ...F } fragment F on Query { __schema { queryType { name } } }`,
			`{ __typename ... on Query { __type(name: "Query") { name } } }`,
		}
		for _, doc := range docs {
			for _, c := range fx.callers {
				r := c.b.gql(tenantPath(fx.a.Alias), doc, nil)
				switch c.tenantOutcome(identity.RoleViewer) {
				case unauthenticated:
					if r.Status != http.StatusUnauthorized || !r.hasCode(schema.CodeUnauthenticated) {
						t.Errorf("%s by %s: want 401, got %d %v", doc, c.name, r.Status, r.Codes())
					}
				case forbidden:
					if !r.hasCode(schema.CodeForbidden) || strings.Contains(r.Raw, `"Query"`) {
						t.Errorf("%s by %s: want FORBIDDEN and no schema, got %d %s", doc, c.name, r.Status, r.Raw)
					}
				case allowed:
					if len(r.Errors) > 0 || !strings.Contains(r.Raw, `"Query"`) {
						t.Errorf("%s by %s: want the schema, got %d %s", doc, c.name, r.Status, r.Raw)
					}
				}
			}
		}
	})

	t.Run("SDL", func(t *testing.T) {
		path := "/country/" + fx.a.Alias + "/schema.graphql"
		want := map[string]int{
			"anonymous": http.StatusUnauthorized, "viewerA": http.StatusOK, "editorA": http.StatusOK,
			"admin": http.StatusOK, "viewerB": http.StatusForbidden,
		}
		var sdl string
		for _, c := range fx.callers {
			resp, body := c.b.get(path)
			if resp.StatusCode != want[c.name] {
				t.Errorf("GET %s by %s: status %d, want %d", path, c.name, resp.StatusCode, want[c.name])
			}
			if resp.StatusCode != http.StatusOK && strings.Contains(string(body), "type Query") {
				t.Errorf("GET %s by %s: refused but shows the schema", path, c.name)
			}
			if c.name == "viewerA" {
				sdl = string(body)
			}
		}
		cur, err := fx.app.Tenants.ByAlias(ctx, fx.a.Alias)
		if err != nil {
			t.Fatal(err)
		}
		built, err := fx.app.Registry.Get(ctx, cur)
		if err != nil {
			t.Fatal(err)
		}
		checkSDLRoles(t, sdl, built.Roles())
		for _, f := range []string{"Query.toyotaList:VIEWER", "Mutation.createToyota:EDITOR", "Mutation.createExtra:ADMIN"} {
			key, role, _ := strings.Cut(f, ":")
			if !hasRoleInSDL(sdl, key, role) {
				t.Errorf("SDL lacks @hasRole(role: %s) on %s", role, key)
			}
		}
	})
}

// checkSDLRoles checks that the printed SDL carries @hasRole on exactly the
// fields of roles, with their roles.
func checkSDLRoles(t *testing.T, sdl string, roles []schema.FieldRole) {
	t.Helper()
	if !strings.Contains(sdl, "directive @hasRole(role: Role!) on FIELD_DEFINITION") {
		t.Errorf("SDL does not declare @hasRole:\n%s", sdl)
	}
	for _, fr := range roles {
		if !hasRoleInSDL(sdl, fr.Type+"."+fr.Field, strings.ToUpper(string(fr.Role))) {
			t.Errorf("SDL lacks @hasRole(role: %s) on %s.%s", strings.ToUpper(string(fr.Role)), fr.Type, fr.Field)
		}
	}
	// The declaration spells "@hasRole(role: Role!)" once more.
	if n := strings.Count(sdl, "@hasRole(role: "); n != len(roles)+1 {
		t.Errorf("SDL has @hasRole on %d fields, want %d (one per guarded field)", n-1, len(roles))
	}
}

// hasRoleInSDL reports whether field key ("Type.field") of the SDL ends
// with @hasRole(role: role).
func hasRoleInSDL(sdl, key, role string) bool {
	typ, field, _ := strings.Cut(key, ".")
	in := false
	for _, line := range strings.Split(sdl, "\n") {
		switch {
		case strings.HasPrefix(line, "type "+typ+" {"):
			in = true
		case line == "}":
			in = false
		case in && (strings.HasPrefix(line, "  "+field+"(") || strings.HasPrefix(line, "  "+field+":")):
			return strings.HasSuffix(line, " @hasRole(role: "+role+")")
		}
	}
	return false
}
