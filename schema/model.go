package schema

import (
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/graphql-go/graphql"
	"github.com/lib/pq"

	"tenantgraph/ddl"
	"tenantgraph/tenancy"
)

// kind is how a column crosses between PostgreSQL and GraphQL.
type kind int

const (
	kindID kind = iota
	kindString
	kindInt
	kindBigInt
	kindFloat
	kindBool
	kindDate
	kindDateTime
	kindTime
)

// kindInfo says, per kind, its GraphQL scalar, its filter operators and
// the PostgreSQL array type its `in` list is cast to.
var kindInfo = map[kind]struct {
	scalar    graphql.Type
	filter    string // name of the filter input type
	ops       []string
	arrayCast string
}{
	kindID:       {graphql.ID, "IDFilter", orderedOps, "bigint[]"},
	kindString:   {graphql.String, "StringFilter", []string{"eq", "ne", "in", "like", "ilike", "isNull"}, "text[]"},
	kindInt:      {graphql.Int, "IntFilter", orderedOps, "bigint[]"},
	kindBigInt:   {BigInt, "BigIntFilter", orderedOps, "bigint[]"},
	kindFloat:    {graphql.Float, "FloatFilter", orderedOps, "float8[]"},
	kindBool:     {graphql.Boolean, "BooleanFilter", []string{"eq", "isNull"}, "boolean[]"},
	kindDate:     {Date, "DateFilter", orderedOps, "date[]"},
	kindDateTime: {DateTime, "DateTimeFilter", orderedOps, "timestamptz[]"},
	kindTime:     {Time, "TimeFilter", orderedOps, "time[]"},
}

var orderedOps = []string{"eq", "ne", "gt", "gte", "lt", "lte", "in", "isNull"}

// kindOf maps PostgreSQL's format_type text to a kind; ok is false for
// types the API does not carry (numeric, json, arrays, ...).
func kindOf(sqlType string) (kind, bool) {
	switch {
	case sqlType == "text", strings.HasPrefix(sqlType, "character varying"), strings.HasPrefix(sqlType, "character("):
		return kindString, true
	case sqlType == "integer", sqlType == "smallint":
		return kindInt, true
	case sqlType == "bigint":
		return kindBigInt, true
	case sqlType == "double precision", sqlType == "real":
		return kindFloat, true
	case sqlType == "boolean":
		return kindBool, true
	case sqlType == "date":
		return kindDate, true
	case strings.HasPrefix(sqlType, "timestamp"):
		return kindDateTime, true
	case strings.HasPrefix(sqlType, "time") && !strings.Contains(sqlType, "with time zone"):
		return kindTime, true
	}
	return 0, false
}

// charLimit finds the length in "character varying(255)" or "character(2)".
var charLimit = regexp.MustCompile(`^character(?: varying)?\((\d+)\)$`)

// maxChars is the most characters a column of sqlType holds, or 0 for no
// limit.
func maxChars(sqlType string) int {
	m := charLimit.FindStringSubmatch(sqlType)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// graphQLName matches names GraphQL accepts and we can use as field names.
var graphQLName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// column is one column a table exposes.
type column struct {
	name       string
	quoted     string
	kind       kind
	notNull    bool
	generated  bool // set by the server: id, user_id, timestamps
	hasDefault bool
	// maxChars is the length limit of a varchar or char column, checked
	// before SQL so the error can name the field; 0 means none.
	maxChars    int
	description string
}

// table is one brand table as the API sees it.
type table struct {
	name string // SQL name, also the root field name
	// ident is the quoted table name; execState.qualify adds the schema
	// of the tenant a request runs for.
	ident    string
	typeName string // GraphQL object type name
	columns  []*column
	byName   map[string]*column
	// selectList is the quoted column list every row query uses.
	selectList   string
	hasUpdatedAt bool
}

// serverSet are the columns the server fills; clients never set them.
var serverSet = map[string]bool{"id": true, "user_id": true, "created_at": true, "updated_at": true}

// baseDescriptions describe the columns every brand table has.
var baseDescriptions = map[string]string{
	"id":         "The row's identifier.",
	"user_id":    "The id of the user who created the row.",
	"model":      "The model name.",
	"created_at": "When the row was created.",
	"updated_at": "When the row was last changed.",
}

// newTable maps a catalog table, leaving out the columns it cannot carry
// and saying why in omitted.
func newTable(ct tenancy.Table) (*table, []string) {
	t := &table{
		name:     ct.Name,
		ident:    quoteIdent(ct.Name),
		typeName: ddl.TypeName(ct.Name),
		byName:   map[string]*column{},
	}
	var omitted []string
	var quoted []string
	for _, cc := range ct.Columns {
		if cc.Extra != nil && cc.Extra.Archived {
			continue
		}
		k, ok := kindOf(cc.SQLType)
		switch {
		case !graphQLName.MatchString(cc.Name) || strings.HasPrefix(cc.Name, "__") || cc.Name == "creator":
			omitted = append(omitted, fmt.Sprintf("%s.%s: name is not usable as a GraphQL field", ct.Name, cc.Name))
			continue
		case cc.Name == "id" || cc.Name == "user_id":
			k, ok = kindID, true
		case !ok:
			omitted = append(omitted, fmt.Sprintf("%s.%s: type %s has no GraphQL mapping", ct.Name, cc.Name, cc.SQLType))
			continue
		}
		c := &column{
			name:        cc.Name,
			quoted:      quoteIdent(cc.Name),
			kind:        k,
			notNull:     cc.NotNull,
			generated:   serverSet[cc.Name],
			hasDefault:  cc.Default != nil || cc.Identity,
			maxChars:    maxChars(cc.SQLType),
			description: baseDescriptions[cc.Name],
		}
		if cc.Extra != nil {
			c.description = cc.Extra.DisplayName
		}
		t.columns = append(t.columns, c)
		t.byName[c.name] = c
		quoted = append(quoted, c.quoted)
	}
	t.selectList = strings.Join(quoted, ", ")
	_, t.hasUpdatedAt = t.byName["updated_at"]
	if _, ok := t.byName["id"]; !ok {
		return nil, append(omitted, fmt.Sprintf("table %s: no id column", ct.Name))
	}
	return t, omitted
}

// scanTarget returns a fresh destination for one column of kind k.
func scanTarget(k kind) any {
	switch k {
	case kindID, kindInt, kindBigInt:
		return new(sql.NullInt64)
	case kindFloat:
		return new(sql.NullFloat64)
	case kindBool:
		return new(sql.NullBool)
	case kindDate, kindDateTime, kindTime:
		return new(sql.NullTime)
	default:
		return new(sql.NullString)
	}
}

// scanValue turns a scanned destination into the value a field resolves
// to: nil, string, int64, float64, bool or time.Time. Never []byte.
func scanValue(k kind, dst any) any {
	switch d := dst.(type) {
	case *sql.NullInt64:
		if !d.Valid {
			return nil
		}
		if k == kindID {
			return fmt.Sprint(d.Int64)
		}
		return d.Int64
	case *sql.NullFloat64:
		if !d.Valid {
			return nil
		}
		return d.Float64
	case *sql.NullBool:
		if !d.Valid {
			return nil
		}
		return d.Bool
	case *sql.NullTime:
		if !d.Valid {
			return nil
		}
		return d.Time
	case *sql.NullString:
		if !d.Valid {
			return nil
		}
		return d.String
	}
	return nil
}

// quoteIdent quotes an identifier for SQL. Names reaching it come from the
// catalog or passed validation; PostgreSQL cannot hold a NUL in a name, so
// pq.QuoteIdentifier cutting at NUL never changes one.
func quoteIdent(name string) string { return pq.QuoteIdentifier(name) }
