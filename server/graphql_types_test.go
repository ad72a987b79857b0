package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tenantgraph/schema"
	"tenantgraph/tenancy/tenancytest"
)

// typedColumns are added to toyota by TestServer_GraphQLColumnTypes, one
// per API type, as ALTER TABLE outside the API would add them.
var typedColumns = []string{
	`ALTER TABLE toyota ADD COLUMN big bigint`,
	`ALTER TABLE toyota ADD COLUMN i integer`,
	`ALTER TABLE toyota ADD COLUMN f double precision`,
	`ALTER TABLE toyota ADD COLUMN b boolean`,
	`ALTER TABLE toyota ADD COLUMN d date`,
	`ALTER TABLE toyota ADD COLUMN dt timestamptz`,
	`ALTER TABLE toyota ADD COLUMN tsl timestamp`,
	`ALTER TABLE toyota ADD COLUMN tm time`,
	`ALTER TABLE toyota ADD COLUMN c varchar(255)`,
	`ALTER TABLE toyota ADD COLUMN tx text`,
}

const typedFields = `id big i f b d dt tsl tm c tx`

func TestServer_GraphQLColumnTypes(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)
	srv := newServer(t, db)
	tenant := tenancytest.NewTenant(t, db)
	// Build the schema once before the change, so the change has to
	// reach a schema already in use.
	srv.mustPost(t, tenant.Alias, `{ brands { totalCount } }`, nil, &struct{}{})
	v := srv.alter(t, tenant, typedColumns...)

	create := func(t *testing.T, in string, vars map[string]any, varDefs string) map[string]any {
		t.Helper()
		q := fmt.Sprintf(`mutation %s { row: createToyota(input: %s) { %s } }`, varDefs, in, typedFields)
		res := srv.post(t, tenant.Alias, q, vars)
		if got, _ := res.Extensions["schemaVersion"].(float64); int64(got) != v {
			t.Errorf("schemaVersion = %v, want %d", res.Extensions["schemaVersion"], v)
		}
		var data struct{ Row map[string]any }
		res.decode(t, &data)
		return data.Row
	}
	// readBack reads the row again by id, and checks it is what create
	// returned.
	readBack := func(t *testing.T, created map[string]any) map[string]any {
		t.Helper()
		var data struct{ One map[string]any }
		srv.mustPost(t, tenant.Alias, fmt.Sprintf(`{ one: toyota(id: %q) { %s } }`, created["id"], typedFields), nil, &data)
		if diff := cmp.Diff(created, data.One); diff != "" {
			t.Errorf("read back (-created +read):\n%s", diff)
		}
		return data.One
	}

	t.Run("BigInt", func(t *testing.T) {
		tests := []struct {
			name    string
			in      string
			vars    map[string]any
			varDefs string
			want    string
		}{
			{"StringVariable", `{model: "b", big: $v}`, map[string]any{"v": "9007199254740993"}, `($v: BigInt)`, "9007199254740993"},
			{"NumberVariable", `{model: "b", big: $v}`, map[string]any{"v": json.Number("9007199254740993")}, `($v: BigInt)`, "9007199254740993"},
			{"IntLiteral", `{model: "b", big: 9007199254740993}`, nil, ``, "9007199254740993"},
			{"StringLiteral", `{model: "b", big: "9007199254740993"}`, nil, ``, "9007199254740993"},
			{"InputVariable", `$in`, map[string]any{"in": map[string]any{"model": "b", "big": "9007199254740993"}}, `($in: ToyotaInput!)`, "9007199254740993"},
			{"MaxVariable", `{model: "b", big: $v}`, map[string]any{"v": "9223372036854775807"}, `($v: BigInt)`, "9223372036854775807"},
			{"MinVariable", `{model: "b", big: $v}`, map[string]any{"v": "-9223372036854775808"}, `($v: BigInt)`, "-9223372036854775808"},
			{"MaxLiteral", `{model: "b", big: 9223372036854775807}`, nil, ``, "9223372036854775807"},
			{"MinLiteral", `{model: "b", big: -9223372036854775808}`, nil, ``, "-9223372036854775808"},
			{"MinStringLiteral", `{model: "b", big: "-9223372036854775808"}`, nil, ``, "-9223372036854775808"},
			{"Small", `{model: "b", big: 42}`, nil, ``, "42"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				row := create(t, tt.in, tt.vars, tt.varDefs)
				if row["big"] != tt.want {
					t.Errorf("big = %#v, want %q", row["big"], tt.want)
				}
				readBack(t, row)
			})
		}

		// Exact in filters: 2^53+1 is not 2^53.
		var data struct {
			L struct{ Items []map[string]any }
		}
		srv.mustPost(t, tenant.Alias, `{ l: toyotaList(filter: {big: {eq: "9007199254740993"}}, limit: 100) { items { big } } }`, nil, &data)
		if len(data.L.Items) != 5 {
			t.Errorf("big eq 2^53+1: %d rows, want 5", len(data.L.Items))
		}
		srv.mustPost(t, tenant.Alias, `{ l: toyotaList(filter: {big: {eq: 9007199254740992}}, limit: 100) { items { big } } }`, nil, &data)
		if len(data.L.Items) != 0 {
			t.Errorf("big eq 2^53: %d rows, want 0", len(data.L.Items))
		}
		srv.mustPost(t, tenant.Alias, `query($v: [BigInt!]) { l: toyotaList(filter: {big: {in: $v}}, orderBy: [BIG_DESC], limit: 100) { items { big } } }`,
			map[string]any{"v": []any{"9223372036854775807", json.Number("-9223372036854775808"), "42"}}, &data)
		var got []any
		for _, it := range data.L.Items {
			got = append(got, it["big"])
		}
		if diff := cmp.Diff([]any{"9223372036854775807", "9223372036854775807", "42", "-9223372036854775808", "-9223372036854775808", "-9223372036854775808"}, got); diff != "" {
			t.Errorf("big in, by big desc (-want +got):\n%s", diff)
		}
		srv.mustPost(t, tenant.Alias, `{ l: toyotaList(filter: {big: {gt: "9007199254740992", lt: "9223372036854775807"}}, limit: 100) { items { big } } }`, nil, &data)
		if len(data.L.Items) != 5 {
			t.Errorf("big range: %d rows, want 5", len(data.L.Items))
		}

		bad := []struct {
			name    string
			in      string
			vars    map[string]any
			varDefs string
			code    string
		}{
			{"OverflowVariable", `{model: "b", big: $v}`, map[string]any{"v": "9223372036854775808"}, `($v: BigInt)`, schema.CodeBadUserInput},
			{"OverflowNumber", `{model: "b", big: $v}`, map[string]any{"v": json.Number("9223372036854775808")}, `($v: BigInt)`, schema.CodeBadUserInput},
			{"FractionVariable", `{model: "b", big: $v}`, map[string]any{"v": 1.5}, `($v: BigInt)`, schema.CodeBadUserInput},
			{"TextVariable", `{model: "b", big: $v}`, map[string]any{"v": "12abc"}, `($v: BigInt)`, schema.CodeBadUserInput},
			{"OverflowLiteral", `{model: "b", big: 9223372036854775808}`, nil, ``, schema.CodeValidation},
			{"FloatLiteral", `{model: "b", big: 1.5}`, nil, ``, schema.CodeValidation},
			{"TextLiteral", `{model: "b", big: "twelve"}`, nil, ``, schema.CodeValidation},
		}
		for _, tt := range bad {
			t.Run("Err"+tt.name, func(t *testing.T) {
				q := fmt.Sprintf(`mutation %s { createToyota(input: %s) { id } }`, tt.varDefs, tt.in)
				srv.post(t, tenant.Alias, q, tt.vars).wantError(t, tt.code)
			})
		}
	})

	t.Run("RoundTrip", func(t *testing.T) {
		tests := []struct {
			name  string
			field string
			in    any    // sent in a variable
			lit   string // the same as a literal, if it has one
			want  any
		}{
			{"IntMax", "i", 2147483647, `2147483647`, float64(2147483647)},
			{"IntMin", "i", -2147483648, `-2147483648`, float64(-2147483648)},
			{"IntZero", "i", 0, `0`, float64(0)},
			// JSON numbers with a zero fraction or an exponent are whole.
			{"IntFromWholeFloatVariable", "i", json.Number("2.0"), "", float64(2)},
			{"IntFromExponentVariable", "i", json.Number("2e3"), "", float64(2000)},
			{"FloatFraction", "f", 1.5, `1.5`, 1.5},
			{"FloatNegative", "f", -0.25, `-0.25`, -0.25},
			{"FloatTenth", "f", 0.1, `0.1`, 0.1},
			{"FloatHuge", "f", 1e300, `1e300`, 1e300},
			{"FloatFromInt", "f", 3, `3`, float64(3)},
			{"BoolTrue", "b", true, `true`, true},
			{"BoolFalse", "b", false, `false`, false},
			{"Date", "d", "2024-02-29", `"2024-02-29"`, "2024-02-29"},
			{"DateOld", "d", "0001-01-01", `"0001-01-01"`, "0001-01-01"},
			{"DateTimeUTC", "dt", "2024-05-01T13:45:00Z", `"2024-05-01T13:45:00Z"`, "2024-05-01T13:45:00Z"},
			{"DateTimeOffset", "dt", "2024-05-01T13:45:00.123456+02:00", `"2024-05-01T13:45:00.123456+02:00"`, "2024-05-01T11:45:00.123456Z"},
			{"DateTimeNegativeOffset", "dt", "2024-12-31T23:30:00-05:00", `"2024-12-31T23:30:00-05:00"`, "2025-01-01T04:30:00Z"},
			{"TimestampOffset", "tsl", "2024-05-01T13:45:00+02:00", `"2024-05-01T13:45:00+02:00"`, "2024-05-01T11:45:00Z"},
			{"TimestampUTC", "tsl", "2024-05-01T13:45:00.5Z", `"2024-05-01T13:45:00.5Z"`, "2024-05-01T13:45:00.5Z"},
			{"Time", "tm", "13:45:30", `"13:45:30"`, "13:45:30"},
			{"TimeFraction", "tm", "08:00:00.5", `"08:00:00.5"`, "08:00:00.5"},
			{"TimeMicros", "tm", "23:59:59.999999", `"23:59:59.999999"`, "23:59:59.999999"},
			{"TimeMidnight", "tm", "00:00:00", `"00:00:00"`, "00:00:00"},
			{"Char", "c", "Ñandú 🚗", `"Ñandú 🚗"`, "Ñandú 🚗"},
			{"CharQuotes", "c", `it's "quoted" \ %_`, `"it's \"quoted\" \\ %_"`, `it's "quoted" \ %_`},
			{"CharMax", "c", strings.Repeat("é", 255), `"` + strings.Repeat("é", 255) + `"`, strings.Repeat("é", 255)},
			{"Text", "tx", strings.Repeat("long ", 2000), "", strings.Repeat("long ", 2000)},
			{"TextEmpty", "tx", "", `""`, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				row := create(t, `{model: "rt", `+tt.field+`: $v}`, map[string]any{"v": tt.in}, `($v: `+fieldType(tt.field)+`)`)
				if diff := cmp.Diff(tt.want, row[tt.field]); diff != "" {
					t.Errorf("%s from a variable (-want +got):\n%s", tt.field, diff)
				}
				readBack(t, row)
				if tt.lit == "" {
					return
				}
				row = create(t, `{model: "rt", `+tt.field+`: `+tt.lit+`}`, nil, ``)
				if diff := cmp.Diff(tt.want, row[tt.field]); diff != "" {
					t.Errorf("%s from a literal (-want +got):\n%s", tt.field, diff)
				}
				readBack(t, row)
			})
		}

		// Every column left out is null.
		row := create(t, `{model: "nulls"}`, nil, ``)
		for _, f := range strings.Fields(typedFields)[1:] {
			if row[f] != nil {
				t.Errorf("%s = %#v, want null", f, row[f])
			}
		}
	})

	t.Run("Filter", func(t *testing.T) {
		// Rows of their own, told apart by model.
		rows := []string{
			`{model: "flt", i: 1, f: -1.5, b: true, d: "2023-01-01", dt: "2023-01-01T00:00:00Z", tm: "06:00:00", c: "alpha", big: "1"}`,
			`{model: "flt", i: 2, f: 0.5, b: false, d: "2023-06-15", dt: "2023-06-15T12:00:00+02:00", tm: "12:30:00", c: "Beta", big: "9007199254740993"}`,
			`{model: "flt", i: 3, f: 2.25, d: "2024-02-29", dt: "2024-02-29T23:59:59.999999Z", tm: "23:00:00.25", c: "gamma"}`,
			`{model: "flt", c: "NULL", i: 4, f: 9, b: true, d: "2025-01-01", dt: "2025-01-01T00:00:00Z", tm: "00:00:00", big: "5"}`,
			`{model: "flt", c: "a,\"b\"\\c", i: 5, f: 9, b: true, d: "2025-01-01", dt: "2025-01-01T00:00:00Z", tm: "00:00:00", big: "5"}`,
			`{model: "flt", c: "{x}", i: 6, f: 9, b: true, d: "2025-01-01", dt: "2025-01-01T00:00:00Z", tm: "00:00:00", big: "5"}`,
		}
		var ids []string
		for _, in := range rows {
			ids = append(ids, create(t, in, nil, ``)["id"].(string))
		}
		tests := []struct {
			filter string
			want   []int
		}{
			{`{i: {eq: 2}}`, []int{1}},
			{`{i: {ne: 2}}`, []int{0, 2, 3, 4, 5}},
			{`{i: {gt: 1}}`, []int{1, 2, 3, 4, 5}},
			{`{i: {gte: 2, lte: 3}}`, []int{1, 2}},
			{`{i: {lt: 2}}`, []int{0}},
			{`{i: {in: [1, 3]}}`, []int{0, 2}},
			{`{i: {isNull: true}}`, nil},
			{`{f: {lt: 0}}`, []int{0}},
			{`{f: {gte: 0.5}}`, []int{1, 2, 3, 4, 5}},
			{`{f: {eq: 2.25}}`, []int{2}},
			{`{f: {in: [-1.5, 2.25]}}`, []int{0, 2}},
			{`{b: {eq: true}}`, []int{0, 3, 4, 5}},
			{`{b: {eq: false}}`, []int{1}},
			{`{b: {isNull: true}}`, []int{2}},
			{`{b: {isNull: false}}`, []int{0, 1, 3, 4, 5}},
			{`{d: {eq: "2024-02-29"}}`, []int{2}},
			{`{d: {gt: "2023-01-01"}}`, []int{1, 2, 3, 4, 5}},
			{`{d: {lte: "2023-06-15"}}`, []int{0, 1}},
			{`{d: {in: ["2023-01-01", "2024-02-29"]}}`, []int{0, 2}},
			{`{d: {ne: "2023-01-01"}}`, []int{1, 2, 3, 4, 5}},
			{`{dt: {eq: "2023-06-15T10:00:00Z"}}`, []int{1}},
			{`{dt: {gt: "2023-06-15T11:00:00+02:00"}}`, []int{1, 2, 3, 4, 5}},
			{`{dt: {lt: "2024-02-29T23:59:59.999999Z"}}`, []int{0, 1}},
			{`{dt: {in: ["2023-01-01T01:00:00+01:00", "2024-02-29T23:59:59.999999Z"]}}`, []int{0, 2}},
			{`{tm: {eq: "12:30:00"}}`, []int{1}},
			{`{tm: {gte: "12:30:00"}}`, []int{1, 2}},
			{`{tm: {lt: "12:00:00"}}`, []int{0, 3, 4, 5}},
			{`{tm: {in: ["06:00:00", "23:00:00.25"]}}`, []int{0, 2}},
			{`{c: {ilike: "b%"}}`, []int{1}},
			{`{c: {like: "%a"}}`, []int{0, 1, 2}},
			{`{c: {in: ["alpha", "gamma"]}}`, []int{0, 2}},
			{`{big: {isNull: true}}`, []int{2}},
			{`{big: {gte: 2}}`, []int{1, 3, 4, 5}},
			{`{big: {in: ["1", 9007199254740993]}}`, []int{0, 1}},
			{`{or: [{i: {eq: 1}}, {b: {isNull: true}}], not: {c: {eq: "gamma"}}}`, []int{0}},
			// Array elements that array text would misread.
			{`{c: {in: ["NULL"]}}`, []int{3}},
			{`{c: {in: ["a,\"b\"\\c", "{x}"]}}`, []int{4, 5}},
			{`{c: {isNull: true}}`, nil},
		}
		for _, tt := range tests {
			var data struct {
				L struct{ Items []struct{ ID string } }
			}
			srv.mustPost(t, tenant.Alias, fmt.Sprintf(`{ l: toyotaList(filter: {and: [{model: {eq: "flt"}}, %s]}, limit: 100) { items { id } } }`, tt.filter), nil, &data)
			got := []string{}
			for _, it := range data.L.Items {
				got = append(got, it.ID)
			}
			want := []string{}
			for _, i := range tt.want {
				want = append(want, ids[i])
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("filter %s (-want +got):\n%s", tt.filter, diff)
			}
		}
	})

	t.Run("ErrBadValues", func(t *testing.T) {
		tests := []struct {
			name    string
			in      string
			vars    map[string]any
			varDefs string
			code    string
		}{
			{"IntLiteralTooBig", `{model: "x", i: 2147483648}`, nil, ``, schema.CodeValidation},
			{"IntLiteralTooBigNeg", `{model: "x", i: -2147483649}`, nil, ``, schema.CodeValidation},
			{"IntVariableTooBig", `{model: "x", i: $v}`, map[string]any{"v": 2147483648}, `($v: Int)`, schema.CodeBadUserInput},
			{"IntVariableFraction", `{model: "x", i: $v}`, map[string]any{"v": 1.7}, `($v: Int)`, schema.CodeBadUserInput},
			{"IntVariableString", `{model: "x", i: $v}`, map[string]any{"v": "12"}, `($v: Int)`, schema.CodeBadUserInput},
			{"IntLiteralFloat", `{model: "x", i: 1.7}`, nil, ``, schema.CodeValidation},
			{"IntInInput", `$in`, map[string]any{"in": map[string]any{"model": "x", "i": 1.7}}, `($in: ToyotaInput!)`, schema.CodeBadUserInput},
			{"FloatString", `{model: "x", f: $v}`, map[string]any{"v": "1.5"}, `($v: Float)`, schema.CodeBadUserInput},
			{"BoolString", `{model: "x", b: $v}`, map[string]any{"v": "true"}, `($v: Boolean)`, schema.CodeBadUserInput},
			{"BoolNumber", `{model: "x", b: 1}`, nil, ``, schema.CodeValidation},
			{"StringNumber", `{model: "x", c: $v}`, map[string]any{"v": 12}, `($v: String)`, schema.CodeBadUserInput},
			{"StringLiteralNumber", `{model: 12}`, nil, ``, schema.CodeValidation},
			{"DateInvalid", `{model: "x", d: "2023-02-29"}`, nil, ``, schema.CodeValidation},
			{"DateFormat", `{model: "x", d: $v}`, map[string]any{"v": "01/02/2023"}, `($v: Date)`, schema.CodeBadUserInput},
			{"DateNumber", `{model: "x", d: $v}`, map[string]any{"v": 20230101}, `($v: Date)`, schema.CodeBadUserInput},
			{"DateTimeNoZone", `{model: "x", dt: "2024-05-01T13:45:00"}`, nil, ``, schema.CodeValidation},
			{"DateTimeVariable", `{model: "x", dt: $v}`, map[string]any{"v": "yesterday"}, `($v: DateTime)`, schema.CodeBadUserInput},
			{"DateTimeObject", `{model: "x", dt: $v}`, map[string]any{"v": map[string]any{"a": 1}}, `($v: DateTime)`, schema.CodeBadUserInput},
			{"Time24", `{model: "x", tm: "24:00:00"}`, nil, ``, schema.CodeValidation},
			{"TimeVariable", `{model: "x", tm: $v}`, map[string]any{"v": "8am"}, `($v: Time)`, schema.CodeBadUserInput},
			{"CharTooLong", `{model: "x", c: $v}`, map[string]any{"v": strings.Repeat("x", 256)}, `($v: String)`, schema.CodeBadUserInput},
			{"CharTooLongLiteral", `{model: "x", c: "` + strings.Repeat("é", 256) + `"}`, nil, ``, schema.CodeBadUserInput},
			{"TextNUL", `{model: "x", c: $v}`, map[string]any{"v": "a\x00b"}, `($v: String)`, schema.CodeBadUserInput},
			{"DateYearZero", `{model: "x", d: "0000-01-01"}`, nil, ``, schema.CodeValidation},
			{"DateYearZeroVariable", `{model: "x", d: $v}`, map[string]any{"v": "0000-12-31"}, `($v: Date)`, schema.CodeBadUserInput},
			{"DateTimeYearZero", `{model: "x", dt: $v}`, map[string]any{"v": "0001-01-01T00:30:00+01:00"}, `($v: DateTime)`, schema.CodeBadUserInput},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				q := fmt.Sprintf(`mutation %s { createToyota(input: %s) { id } }`, tt.varDefs, tt.in)
				res := srv.post(t, tenant.Alias, q, tt.vars)
				res.wantError(t, tt.code)
				if strings.Contains(tt.varDefs, "$v") && tt.code == schema.CodeBadUserInput &&
					!strings.Contains(res.Errors[0].Message, "$v") && !strings.Contains(res.Errors[0].Message, "text value") &&
					!strings.Contains(res.Errors[0].Message, `field "c"`) {
					t.Errorf("message %q names neither the variable $v nor the field", res.Errors[0].Message)
				}
			})
		}
		var data struct{ L struct{ TotalCount int } }
		srv.mustPost(t, tenant.Alias, `{ l: toyotaList(filter: {model: {eq: "x"}}) { totalCount } }`, nil, &data)
		if data.L.TotalCount != 0 {
			t.Errorf("%d rows were created by bad requests", data.L.TotalCount)
		}
		// Bad values in filters.
		for _, f := range []string{`{d: {eq: "2023-13-01"}}`, `{dt: {gt: "soon"}}`, `{tm: {in: ["25:00:00"]}}`, `{i: {eq: 3000000000}}`, `{big: {eq: "1e3"}}`} {
			res := srv.post(t, tenant.Alias, `{ toyotaList(filter: `+f+`) { totalCount } }`, nil)
			res.wantError(t, schema.CodeValidation)
		}
		// PostgreSQL only checks a LIKE pattern against a row.
		srv.mustPost(t, tenant.Alias, `mutation { createToyota(input: {model: "ab"}) { id } }`, nil, &struct{}{})
		res := srv.post(t, tenant.Alias, `query($p: String) { toyotaList(filter: {model: {like: $p}}) { totalCount } }`, map[string]any{"p": `\`})
		res.wantError(t, schema.CodeBadUserInput, "pattern")
	})
}

// fieldType is the GraphQL type of a typedColumns field.
func fieldType(field string) string {
	switch field {
	case "big":
		return "BigInt"
	case "i":
		return "Int"
	case "f":
		return "Float"
	case "b":
		return "Boolean"
	case "d":
		return "Date"
	case "dt", "tsl":
		return "DateTime"
	case "tm":
		return "Time"
	}
	return "String"
}
