package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"tenantgraph/schema"
	"tenantgraph/tenancy"
	"tenantgraph/tenancy/tenancytest"
)

// brands are the brand tables every tenant is seeded with.
var brands = []string{"toyota", "ford", "chevrolet"}

// brandAPI sends requests about one brand table of one tenant.
type brandAPI struct {
	srv   *testServer
	alias string
	table string // toyota
	typ   string // Toyota
}

// row is a brand row as the tests select it.
type row struct {
	ID        string  `json:"id"`
	Model     string  `json:"model"`
	Nickname  *string `json:"nickname"`
	UserID    *string `json:"user_id"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
}

const rowFields = `id model nickname user_id created_at updated_at`

type rowPage struct {
	TotalCount int   `json:"totalCount"`
	Items      []row `json:"items"`
}

// list runs the list field with args (GraphQL argument text, may be empty)
// and returns the page.
func (b brandAPI) list(tb testing.TB, args string, vars map[string]any, varDefs string) rowPage {
	tb.Helper()
	if args != "" {
		args = "(" + args + ")"
	}
	q := fmt.Sprintf(`query %s { page: %sList%s { totalCount items { %s } } }`, varDefs, b.table, args, rowFields)
	var data struct{ Page rowPage }
	b.srv.mustPost(tb, b.alias, q, vars, &data)
	return data.Page
}

// create adds a row with model and returns it.
func (b brandAPI) create(tb testing.TB, model string) row {
	tb.Helper()
	q := fmt.Sprintf(`mutation($in: %sInput!) { row: create%s(input: $in) { %s } }`, b.typ, b.typ, rowFields)
	var data struct{ Row row }
	b.srv.mustPost(tb, b.alias, q, map[string]any{"in": map[string]any{"model": model}}, &data)
	return data.Row
}

// seedModels are the rows every brand table gets; their order by model is
// the same under the C collation and under any linguistic one.
var seedModels = []string{"Corolla", "Camry", "Corolla Cross", "Supra", "RAV4"}

// seedRows creates the seed rows through the API and then pins their
// timestamps: row i was created on 2024-01-0(i+1); rows 3 and 4 share
// their updated_at, so ordering by it needs the id tie-break.
func (b brandAPI) seedRows(tb testing.TB, db *sqlx.DB, t *tenancy.Tenant) []row {
	tb.Helper()
	updated := []string{"2024-02-01", "2024-02-02", "2024-02-03", "2024-02-09", "2024-02-09"}
	var rows []row
	for i, m := range seedModels {
		r := b.create(tb, m)
		created := fmt.Sprintf("2024-01-0%dT00:00:00Z", i+1)
		exec(tb, db, t, `UPDATE `+b.table+` SET created_at = $1, updated_at = $2 WHERE id = $3`,
			created, updated[i]+"T00:00:00Z", r.ID)
		r.CreatedAt, r.UpdatedAt = created, updated[i]+"T00:00:00Z"
		rows = append(rows, r)
	}
	return rows
}

// pick returns the ids of rows at indexes.
func pick(rows []row, indexes ...int) []string {
	out := []string{}
	for _, i := range indexes {
		out = append(out, rows[i].ID)
	}
	return out
}

func ids(rows []row) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

func TestServer_GraphQLRows(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)
	srv := newServer(t, db)
	tenant := tenancytest.NewTenant(t, db)
	// A nullable column on every brand table, to set to null.
	var ddl []string
	for _, brand := range brands {
		ddl = append(ddl, `ALTER TABLE `+brand+` ADD COLUMN nickname text`)
	}
	srv.alter(t, tenant, ddl...)

	for _, brand := range brands {
		t.Run(brand, func(t *testing.T) {
			t.Parallel()
			b := brandAPI{srv: srv, alias: tenant.Alias, table: brand, typ: typeName(brand)}
			rows := b.seedRows(t, db, tenant)
			id := func(i int) string { return rows[i].ID }

			t.Run("Filter", func(t *testing.T) {
				tests := []struct {
					name   string
					filter string
					want   []int
				}{
					{"Empty", `{}`, []int{0, 1, 2, 3, 4}},
					{"StringEq", `{model: {eq: "Camry"}}`, []int{1}},
					{"StringNe", `{model: {ne: "Camry"}}`, []int{0, 2, 3, 4}},
					{"StringIn", `{model: {in: ["Camry", "Supra", "Nope"]}}`, []int{1, 3}},
					{"StringInEmpty", `{model: {in: []}}`, nil},
					{"StringLike", `{model: {like: "Corolla%"}}`, []int{0, 2}},
					{"StringLikeCase", `{model: {like: "corolla%"}}`, nil},
					{"StringLikeUnderscore", `{model: {like: "C_mry"}}`, []int{1}},
					{"StringIlike", `{model: {ilike: "corolla%"}}`, []int{0, 2}},
					{"StringIlikeInner", `{model: {ilike: "%O%"}}`, []int{0, 2}},
					{"StringIsNullTrue", `{model: {isNull: true}}`, nil},
					{"StringIsNullFalse", `{model: {isNull: false}}`, []int{0, 1, 2, 3, 4}},
					{"NullableIsNull", `{nickname: {isNull: true}}`, []int{0, 1, 2, 3, 4}},
					{"StringOps", `{model: {ilike: "c%", ne: "Camry"}}`, []int{0, 2}},

					{"IDEq", fmt.Sprintf(`{id: {eq: %q}}`, id(2)), []int{2}},
					{"IDEqInt", fmt.Sprintf(`{id: {eq: %s}}`, id(2)), []int{2}},
					{"IDNe", fmt.Sprintf(`{id: {ne: %q}}`, id(2)), []int{0, 1, 3, 4}},
					{"IDGt", fmt.Sprintf(`{id: {gt: %q}}`, id(2)), []int{3, 4}},
					{"IDGte", fmt.Sprintf(`{id: {gte: %q}}`, id(2)), []int{2, 3, 4}},
					{"IDLt", fmt.Sprintf(`{id: {lt: %q}}`, id(2)), []int{0, 1}},
					{"IDLte", fmt.Sprintf(`{id: {lte: %q}}`, id(2)), []int{0, 1, 2}},
					{"IDIn", fmt.Sprintf(`{id: {in: [%q, %s]}}`, id(0), id(4)), []int{0, 4}},
					{"IDRange", fmt.Sprintf(`{id: {gt: %q, lt: %q}}`, id(0), id(4)), []int{1, 2, 3}},
					{"IDIsNullTrue", `{id: {isNull: true}}`, nil},
					{"IDIsNullFalse", `{id: {isNull: false}}`, []int{0, 1, 2, 3, 4}},
					{"UserIDIsNull", `{user_id: {isNull: false}}`, []int{0, 1, 2, 3, 4}},

					{"CreatedEq", `{created_at: {eq: "2024-01-03T00:00:00Z"}}`, []int{2}},
					{"CreatedEqOffset", `{created_at: {eq: "2024-01-03T02:00:00+02:00"}}`, []int{2}},
					{"CreatedNe", `{created_at: {ne: "2024-01-03T00:00:00Z"}}`, []int{0, 1, 3, 4}},
					{"CreatedGt", `{created_at: {gt: "2024-01-03T00:00:00Z"}}`, []int{3, 4}},
					{"CreatedGtOffset", `{created_at: {gt: "2024-01-02T01:00:00+01:00"}}`, []int{2, 3, 4}},
					{"CreatedGte", `{created_at: {gte: "2024-01-03T00:00:00Z"}}`, []int{2, 3, 4}},
					{"CreatedLt", `{created_at: {lt: "2024-01-03T00:00:00Z"}}`, []int{0, 1}},
					{"CreatedLte", `{created_at: {lte: "2024-01-03T00:00:00Z"}}`, []int{0, 1, 2}},
					{"CreatedIn", `{created_at: {in: ["2024-01-01T00:00:00Z", "2024-01-05T01:00:00+01:00"]}}`, []int{0, 4}},
					{"CreatedRange", `{created_at: {gte: "2024-01-02T00:00:00Z", lt: "2024-01-04T00:00:00Z"}}`, []int{1, 2}},
					{"CreatedIsNull", `{created_at: {isNull: true}}`, nil},
					{"UpdatedEq", `{updated_at: {eq: "2024-02-09T00:00:00Z"}}`, []int{3, 4}},
					{"UpdatedNe", `{updated_at: {ne: "2024-02-09T00:00:00Z"}}`, []int{0, 1, 2}},
					{"UpdatedGt", `{updated_at: {gt: "2024-02-02T00:00:00Z"}}`, []int{2, 3, 4}},
					{"UpdatedGte", `{updated_at: {gte: "2024-02-02T00:00:00Z"}}`, []int{1, 2, 3, 4}},
					{"UpdatedLt", `{updated_at: {lt: "2024-02-02T00:00:00Z"}}`, []int{0}},
					{"UpdatedLte", `{updated_at: {lte: "2024-02-02T00:00:00Z"}}`, []int{0, 1}},
					{"UpdatedIn", `{updated_at: {in: ["2024-02-01T00:00:00Z", "2024-02-09T00:00:00Z"]}}`, []int{0, 3, 4}},
					{"UpdatedIsNullFalse", `{updated_at: {isNull: false}}`, []int{0, 1, 2, 3, 4}},

					{"Columns", fmt.Sprintf(`{model: {ilike: "c%%"}, id: {gt: %q}}`, id(0)), []int{1, 2}},
					{"And", fmt.Sprintf(`{and: [{model: {ilike: "c%%"}}, {id: {gt: %q}}]}`, id(0)), []int{1, 2}},
					{"AndEmpty", `{and: []}`, []int{0, 1, 2, 3, 4}},
					{"Or", fmt.Sprintf(`{or: [{model: {eq: "Supra"}}, {id: {eq: %q}}]}`, id(0)), []int{0, 3}},
					{"OrEmpty", `{or: []}`, nil},
					{"Not", `{not: {model: {ilike: "c%"}}}`, []int{3, 4}},
					{"NotNot", `{not: {not: {model: {eq: "RAV4"}}}}`, []int{4}},
					{"Nested", `{or: [{and: [{model: {like: "C%"}}, {created_at: {gte: "2024-01-03T00:00:00Z"}}]}, {not: {model: {ilike: "%o%"}}}]}`, []int{1, 2, 3, 4}},
					{"OrAndColumn", `{model: {ne: "Supra"}, or: [{created_at: {lt: "2024-01-02T00:00:00Z"}}, {updated_at: {gte: "2024-02-09T00:00:00Z"}}]}`, []int{0, 4}},
				}
				for _, tt := range tests {
					t.Run(tt.name, func(t *testing.T) {
						page := b.list(t, "filter: "+tt.filter+", limit: 100", nil, "")
						if diff := cmp.Diff(pick(rows, tt.want...), ids(page.Items)); diff != "" {
							t.Errorf("filter %s: ids (-want +got):\n%s", tt.filter, diff)
						}
						if page.TotalCount != len(tt.want) {
							t.Errorf("totalCount = %d, want %d", page.TotalCount, len(tt.want))
						}
					})
				}
			})

			t.Run("FilterVariable", func(t *testing.T) {
				vars := map[string]any{"f": map[string]any{
					"or": []any{
						map[string]any{"model": map[string]any{"in": []any{"Camry", "RAV4"}}},
						map[string]any{"id": map[string]any{"eq": id(0)}},
					},
					"created_at": map[string]any{"lt": "2024-01-05T00:00:00Z"},
				}}
				page := b.list(t, "filter: $f", vars, "($f: "+b.typ+"Filter)")
				if diff := cmp.Diff(pick(rows, 0, 1), ids(page.Items)); diff != "" {
					t.Errorf("ids (-want +got):\n%s", diff)
				}
			})

			t.Run("OrderBy", func(t *testing.T) {
				tests := []struct {
					orderBy string
					want    []int
				}{
					{``, []int{0, 1, 2, 3, 4}},
					{`[ID_ASC]`, []int{0, 1, 2, 3, 4}},
					{`[ID_DESC]`, []int{4, 3, 2, 1, 0}},
					{`[MODEL_ASC]`, []int{1, 0, 2, 4, 3}},
					{`MODEL_ASC`, []int{1, 0, 2, 4, 3}},
					{`[MODEL_DESC]`, []int{3, 4, 2, 0, 1}},
					{`[CREATED_AT_DESC]`, []int{4, 3, 2, 1, 0}},
					{`[CREATED_AT_ASC]`, []int{0, 1, 2, 3, 4}},
					{`[UPDATED_AT_DESC]`, []int{3, 4, 2, 1, 0}},
					{`[UPDATED_AT_DESC, ID_DESC]`, []int{4, 3, 2, 1, 0}},
					{`[UPDATED_AT_ASC]`, []int{0, 1, 2, 3, 4}},
					{`[NICKNAME_ASC, MODEL_DESC]`, []int{3, 4, 2, 0, 1}},
				}
				for _, tt := range tests {
					args := "limit: 100"
					if tt.orderBy != "" {
						args += ", orderBy: " + tt.orderBy
					}
					page := b.list(t, args, nil, "")
					if diff := cmp.Diff(pick(rows, tt.want...), ids(page.Items)); diff != "" {
						t.Errorf("orderBy %s: ids (-want +got):\n%s", tt.orderBy, diff)
					}
				}
				page := b.list(t, "orderBy: $o", map[string]any{"o": []any{"MODEL_DESC"}}, "($o: ["+b.typ+"OrderBy!])")
				if diff := cmp.Diff(pick(rows, 3, 4, 2, 0, 1), ids(page.Items)); diff != "" {
					t.Errorf("orderBy variable: ids (-want +got):\n%s", diff)
				}
				res := b.srv.post(t, b.alias, fmt.Sprintf(`{ %sList(orderBy: [SPEED_ASC]) { totalCount } }`, b.table), nil)
				res.wantError(t, schema.CodeValidation, "SPEED_ASC")
			})

			t.Run("Paging", func(t *testing.T) {
				tests := []struct {
					args  string
					want  []int
					total int
				}{
					{`limit: 2, offset: 0`, []int{0, 1}, 5},
					{`limit: 2, offset: 2`, []int{2, 3}, 5},
					{`limit: 2, offset: 4`, []int{4}, 5},
					{`limit: 2, offset: 5`, nil, 5},
					{`limit: 2, offset: 500`, nil, 5},
					{`limit: 0`, nil, 5},
					{``, []int{0, 1, 2, 3, 4}, 5},
					{`limit: 1000`, []int{0, 1, 2, 3, 4}, 5},
					{`limit: 2, orderBy: [ID_DESC]`, []int{4, 3}, 5},
					{`limit: 1, offset: 1, filter: {model: {ilike: "c%"}}`, []int{1}, 3},
				}
				for _, tt := range tests {
					page := b.list(t, tt.args, nil, "")
					if diff := cmp.Diff(pick(rows, tt.want...), ids(page.Items)); diff != "" {
						t.Errorf("%s: ids (-want +got):\n%s", tt.args, diff)
					}
					if page.TotalCount != tt.total {
						t.Errorf("%s: totalCount = %d, want %d", tt.args, page.TotalCount, tt.total)
					}
				}
				vars := map[string]any{"l": 2, "o": 3}
				page := b.list(t, "limit: $l, offset: $o", vars, "($l: Int, $o: Int)")
				if diff := cmp.Diff(pick(rows, 3, 4), ids(page.Items)); diff != "" {
					t.Errorf("paging by variables: ids (-want +got):\n%s", diff)
				}

				// totalCount alone, and items alone.
				var data struct {
					Page struct {
						TotalCount int
						Items      []row
					}
				}
				b.srv.mustPost(t, b.alias, fmt.Sprintf(`{ page: %sList { totalCount } }`, b.table), nil, &data)
				if data.Page.TotalCount != 5 || data.Page.Items != nil {
					t.Errorf("totalCount alone: %+v", data.Page)
				}
				for _, args := range []string{"limit: -1", "offset: -1", "limit: 1001"} {
					res := b.srv.post(t, b.alias, fmt.Sprintf(`{ %sList(%s) { totalCount } }`, b.table, args), nil)
					res.wantError(t, schema.CodeBadUserInput)
				}
			})

			t.Run("ByID", func(t *testing.T) {
				var data struct {
					One     *row
					Missing *row
					Int     *row
				}
				q := fmt.Sprintf(`{ one: %[1]s(id: %[2]q) { %[3]s } missing: %[1]s(id: "999999999") { id } int: %[1]s(id: %[2]s) { id } }`,
					b.table, id(3), rowFields)
				b.srv.mustPost(t, b.alias, q, nil, &data)
				if diff := cmp.Diff(&rows[3], data.One); diff != "" {
					t.Errorf("row (-want +got):\n%s", diff)
				}
				if data.Missing != nil {
					t.Errorf("missing row = %+v, want null", data.Missing)
				}
				if data.Int == nil || data.Int.ID != id(3) {
					t.Errorf("by Int literal id = %+v", data.Int)
				}
				for _, bad := range []string{`"abc"`, `"0"`, `"-1"`, `"99999999999999999999"`} {
					res := b.srv.post(t, b.alias, fmt.Sprintf(`{ %s(id: %s) { id } }`, b.table, bad), nil)
					res.wantError(t, schema.CodeBadUserInput, "id")
				}
				for _, bad := range []string{`{id: {in: ["x"]}}`, `{id: {eq: "1.5"}}`, `{user_id: {gt: "abc"}}`} {
					res := b.srv.post(t, b.alias, fmt.Sprintf(`{ %sList(filter: %s) { totalCount } }`, b.table, bad), nil)
					res.wantError(t, schema.CodeBadUserInput, "id")
				}
			})

			t.Run("Create", func(t *testing.T) {
				before := time.Now().Add(-time.Minute)
				q := fmt.Sprintf(`mutation($in: %sInput!) { row: create%s(input: $in) { %s creator { id name } } }`, b.typ, b.typ, rowFields)
				var data struct {
					Row struct {
						row
						Creator *struct{ ID, Name string }
					}
				}
				b.srv.mustPost(t, b.alias, q, map[string]any{"in": map[string]any{"model": "Yaris", "nickname": "small"}}, &data)
				got := data.Row
				if got.ID == "" || got.Model != "Yaris" || got.Nickname == nil || *got.Nickname != "small" {
					t.Errorf("created %+v", got.row)
				}
				if got.UserID == nil || got.Creator == nil || got.Creator.ID != *got.UserID || got.Creator.Name != "GraphQL Test Admin" {
					t.Errorf("creator: user_id %v, creator %+v", got.UserID, got.Creator)
				}
				created, err := time.Parse(time.RFC3339Nano, got.CreatedAt)
				if err != nil || created.Before(before) || created.Location() != time.UTC {
					t.Errorf("created_at = %q (%v)", got.CreatedAt, err)
				}

				// Literal input, then the row is there.
				var lit struct{ Row row }
				b.srv.mustPost(t, b.alias, fmt.Sprintf(`mutation { row: create%s(input: {model: "Prius"}) { %s } }`, b.typ, rowFields), nil, &lit)
				var one struct{ One *row }
				b.srv.mustPost(t, b.alias, fmt.Sprintf(`{ one: %s(id: %q) { %s } }`, b.table, lit.Row.ID, rowFields), nil, &one)
				if diff := cmp.Diff(&lit.Row, one.One); diff != "" {
					t.Errorf("read back (-created +read):\n%s", diff)
				}
				b.delete(t, lit.Row.ID)
				b.delete(t, got.ID)

				// Server-set fields are not input.
				res := b.srv.post(t, b.alias, fmt.Sprintf(`mutation { create%s(input: {model: "X", id: "5"}) { id } }`, b.typ), nil)
				res.wantError(t, schema.CodeValidation, "id")
				res = b.srv.post(t, b.alias, fmt.Sprintf(`mutation { create%s(input: {}) { id } }`, b.typ), nil)
				res.wantError(t, schema.CodeValidation, "model")
			})

			t.Run("Update", func(t *testing.T) {
				r := b.create(t, "Hilux")
				defer b.delete(t, r.ID)
				// updated_at must move forward even within one clock tick.
				exec(t, db, tenant, `UPDATE `+b.table+` SET updated_at = '2020-01-01' WHERE id = $1`, r.ID)

				q := fmt.Sprintf(`mutation($id: ID!, $p: %sPatch!) { row: update%s(id: $id, patch: $p) { %s } }`, b.typ, b.typ, rowFields)
				var data struct{ Row row }
				b.srv.mustPost(t, b.alias, q, map[string]any{"id": r.ID, "p": map[string]any{"model": "Hilux GR", "nickname": "truck"}}, &data)
				if data.Row.Model != "Hilux GR" || data.Row.Nickname == nil || *data.Row.Nickname != "truck" || data.Row.CreatedAt != r.CreatedAt {
					t.Errorf("updated %+v", data.Row)
				}
				if !(data.Row.UpdatedAt > "2020-01-01T00:00:00Z") {
					t.Errorf("updated_at = %s, did not move", data.Row.UpdatedAt)
				}

				// Only the given fields change.
				b.srv.mustPost(t, b.alias, q, map[string]any{"id": r.ID, "p": map[string]any{"model": "Hilux"}}, &data)
				if data.Row.Model != "Hilux" || data.Row.Nickname == nil || *data.Row.Nickname != "truck" {
					t.Errorf("partial update %+v", data.Row)
				}

				// null in the patch variable sets the column to null.
				b.srv.mustPost(t, b.alias, q, map[string]any{"id": r.ID, "p": map[string]any{"nickname": nil}}, &data)
				if data.Row.Nickname != nil || data.Row.Model != "Hilux" {
					t.Errorf("after nickname: null in $p: %+v", data.Row)
				}

				// null in a variable of one field does too.
				b.srv.mustPost(t, b.alias, q, map[string]any{"id": r.ID, "p": map[string]any{"nickname": "again"}}, &data)
				qn := fmt.Sprintf(`mutation($id: ID!, $n: String) { row: update%s(id: $id, patch: {nickname: $n}) { %s } }`, b.typ, rowFields)
				b.srv.mustPost(t, b.alias, qn, map[string]any{"id": r.ID, "n": nil}, &data)
				if data.Row.Nickname != nil {
					t.Errorf("after $n = null: %+v", data.Row)
				}
				page := b.list(t, fmt.Sprintf(`filter: {id: {eq: %q}, nickname: {isNull: true}}`, r.ID), nil, "")
				if len(page.Items) != 1 {
					t.Errorf("the row's nickname is not null in the table: %+v", page)
				}

				// An omitted variable is not a null.
				b.srv.mustPost(t, b.alias, q, map[string]any{"id": r.ID, "p": map[string]any{"nickname": "kept"}}, &data)
				b.srv.mustPost(t, b.alias, fmt.Sprintf(`mutation($id: ID!, $n: String) { row: update%s(id: $id, patch: {nickname: $n, model: "Hilux 2"}) { %s } }`, b.typ, rowFields),
					map[string]any{"id": r.ID}, &data)
				if data.Row.Nickname == nil || *data.Row.Nickname != "kept" || data.Row.Model != "Hilux 2" {
					t.Errorf("omitted $n changed the row: %+v", data.Row)
				}

				// Literal patch.
				b.srv.mustPost(t, b.alias, fmt.Sprintf(`mutation { row: update%s(id: %q, patch: {model: "Hilux 3"}) { %s } }`, b.typ, r.ID, rowFields), nil, &data)
				if data.Row.Model != "Hilux 3" {
					t.Errorf("literal patch: %+v", data.Row)
				}

				// A required column cannot be set to null; an empty patch is refused.
				res := b.srv.post(t, b.alias, q, map[string]any{"id": r.ID, "p": map[string]any{"model": nil}})
				res.wantError(t, schema.CodeBadUserInput, "model")
				res = b.srv.post(t, b.alias, q, map[string]any{"id": r.ID, "p": map[string]any{}})
				res.wantError(t, schema.CodeBadUserInput, "patch")
				if string(res.Data) != "null" {
					t.Errorf("failed mutation data = %s, want null", res.Data)
				}
			})

			t.Run("Delete", func(t *testing.T) {
				r := b.create(t, "Celica")
				q := fmt.Sprintf(`mutation($id: ID!) { row: delete%s(id: $id) { %s } }`, b.typ, rowFields)
				var data struct{ Row row }
				b.srv.mustPost(t, b.alias, q, map[string]any{"id": r.ID}, &data)
				if diff := cmp.Diff(r, data.Row); diff != "" {
					t.Errorf("deleted row (-created +returned):\n%s", diff)
				}
				var one struct{ One *row }
				b.srv.mustPost(t, b.alias, fmt.Sprintf(`{ one: %s(id: %q) { id } }`, b.table, r.ID), nil, &one)
				if one.One != nil {
					t.Errorf("deleted row still there: %+v", one.One)
				}
				res := b.srv.post(t, b.alias, q, map[string]any{"id": r.ID})
				res.wantError(t, schema.CodeNotFound, b.table)
			})

			t.Run("ErrNotFound", func(t *testing.T) {
				update := fmt.Sprintf(`mutation { update%s(id: "987654321", patch: {model: "X"}) { id } }`, b.typ)
				del := fmt.Sprintf(`mutation { delete%s(id: "987654321") { id } }`, b.typ)
				for _, q := range []string{update, del} {
					res := b.srv.post(t, b.alias, q, nil)
					if res.Status != http.StatusOK {
						t.Errorf("status %d", res.Status)
					}
					res.wantError(t, schema.CodeNotFound)
					if string(res.Data) != "null" {
						t.Errorf("data = %s, want null", res.Data)
					}
				}
			})

			t.Run("ErrRollsBack", func(t *testing.T) {
				// One failing field undoes the whole mutation.
				q := fmt.Sprintf(`mutation { a: create%[1]s(input: {model: "Rollback"}) { id } b: delete%[1]s(id: "987654321") { id } }`, b.typ)
				res := b.srv.post(t, b.alias, q, nil)
				res.wantError(t, schema.CodeNotFound)
				page := b.list(t, `filter: {model: {eq: "Rollback"}}`, nil, "")
				if page.TotalCount != 0 {
					t.Errorf("the failed mutation's row was kept: %+v", page.Items)
				}
			})

			// The seed rows are untouched by the mutation subtests.
			page := b.list(t, "limit: 100", nil, "")
			if diff := cmp.Diff(rows, page.Items); diff != "" {
				t.Errorf("rows after the subtests (-seeded +now):\n%s", diff)
			}
			if !slices.Equal(ids(page.Items), ids(rows)) {
				t.Errorf("ids changed")
			}
		})
	}
}

// delete removes a row, failing the test if it cannot.
func (b brandAPI) delete(tb testing.TB, id string) {
	tb.Helper()
	var data struct{ Row struct{ ID string } }
	b.srv.mustPost(tb, b.alias, fmt.Sprintf(`mutation { row: delete%s(id: %q) { id } }`, b.typ, id), nil, &data)
	if data.Row.ID != id {
		tb.Errorf("deleted %q, want %q", data.Row.ID, id)
	}
}
