package schema

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/graphql-go/graphql"
	"github.com/graphql-go/graphql/language/ast"
	"github.com/lib/pq"

	"tenantgraph/ddl"
	"tenantgraph/tenancy"
)

// Options tunes how schemas are built and requests run. The zero value
// works: limits and timeouts take their defaults.
type Options struct {
	// MaxLimit caps the limit argument of list fields; zero means 1000.
	MaxLimit int
	// StatementTimeout bounds each SQL statement of a request; zero means 5s.
	StatementTimeout time.Duration
	// RequestTimeout bounds a whole request, every statement of it
	// together: a document may hold many list fields, each within the
	// statement timeout. Zero means 30s.
	RequestTimeout time.Duration
	// MaxDepth bounds the nesting of a document, checked before parsing;
	// zero means 15.
	MaxDepth int
	// UserID returns the signed-in user's id, recorded as a new row's
	// creator; nil or false leaves user_id null.
	UserID func(context.Context) (int64, bool)
	// Changer runs the mutations that change a tenant's shape; nil leaves
	// them out of the schema.
	Changer *ddl.Changer
	// Logger receives internal errors; nil discards them.
	Logger *slog.Logger
}

func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// execState is what the resolvers of one request share: its transaction,
// the schema it runs on and its raw variables.
type execState struct {
	// tx runs the request's SQL: the request's transaction, or the pool
	// for a static schema's mutation, whose fields commit on their own.
	tx      tenancy.Querier
	built   *Built
	rawVars map[string]any
	// version is the newest schema version a mutation of the request
	// published, reported in the response's extensions.
	version int64
}

// qualify returns tbl's name qualified with the quoted schema of the
// tenant the request runs for. Tables carry no schema themselves, so one
// built schema can serve every tenant of the same shape; the search_path
// is set too, but a qualified name cannot reach another tenant even if it
// were not.
func (st *execState) qualify(tbl *table) string {
	return quoteIdent(st.built.Namespace) + "." + tbl.ident
}

type stateKey struct{}

func stateFrom(ctx context.Context) (*execState, error) {
	st, _ := ctx.Value(stateKey{}).(*execState)
	if st == nil || st.tx == nil {
		return nil, errors.New("resolver called outside a request")
	}
	return st, nil
}

// safe wraps a resolver so that a panic becomes an internal error instead
// of killing the process (graphql-go re-panics values that are not errors),
// and every error leaves as a classified *Error.
func safe(fn graphql.FieldResolveFn) graphql.FieldResolveFn {
	return func(p graphql.ResolveParams) (out any, err error) {
		defer func() {
			if v := recover(); v != nil {
				err = &Error{Code: CodeInternal, Message: "internal server error",
					Err: fmt.Errorf("panic in resolver %s: %v\n%s", p.Info.FieldName, v, debug.Stack())}
				out = nil
			}
		}()
		out, err = fn(p)
		if err != nil {
			return nil, classify(err)
		}
		return out, nil
	}
}

// listResult is what a list field resolves to; its items and totalCount
// run their SQL only when selected.
type listResult struct {
	items func(ctx context.Context) (any, error)
	count func(ctx context.Context) (int, error)
}

func resolveItems(p graphql.ResolveParams) (any, error) {
	return p.Source.(*listResult).items(p.Context)
}

func resolveTotalCount(p graphql.ResolveParams) (any, error) {
	return p.Source.(*listResult).count(p.Context)
}

// pageArgs checks limit and offset.
func (b *builder) pageArgs(args map[string]any) (limit, offset int, err error) {
	limit, _ = args["limit"].(int)
	offset, _ = args["offset"].(int)
	if limit < 0 || limit > b.maxLimit() {
		return 0, 0, UserError("limit must be between 0 and %d; got %d", b.maxLimit(), limit)
	}
	if offset < 0 {
		return 0, 0, UserError("offset must not be negative; got %d", offset)
	}
	return limit, offset, nil
}

func (b *builder) resolveList(tbl *table) graphql.FieldResolveFn {
	return func(p graphql.ResolveParams) (any, error) {
		var cond query
		filter, _ := p.Args["filter"].(map[string]any)
		where, err := tbl.where(&cond, filter)
		if err != nil {
			return nil, err
		}
		terms, _ := p.Args["orderBy"].([]any)
		return b.listPage(p, tbl, where, cond.args, tbl.orderBy(terms))
	}
}

// listPage resolves a list field over tbl: items and totalCount each run
// their statement only when selected.
func (b *builder) listPage(p graphql.ResolveParams, tbl *table, where string, args []any, order string) (any, error) {
	st, err := stateFrom(p.Context)
	if err != nil {
		return nil, err
	}
	limit, offset, err := b.pageArgs(p.Args)
	if err != nil {
		return nil, err
	}
	return &listResult{
		items: func(ctx context.Context) (any, error) {
			q := query{args: append([]any(nil), args...)}
			fmt.Fprintf(&q.sql, "SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT %s OFFSET %s",
				tbl.selectList, st.qualify(tbl), where, order, q.param(limit), q.param(offset))
			rows, err := tbl.scanRows(ctx, st.tx, &q)
			if err != nil {
				return nil, err
			}
			attachPage(rows)
			return rows, nil
		},
		count: func(ctx context.Context) (int, error) {
			var n int
			err := st.tx.QueryRowContext(ctx, "SELECT count(*) FROM "+st.qualify(tbl)+" WHERE "+where, args...).Scan(&n)
			return n, err
		},
	}, nil
}

// stateAndID returns the request state and the row id argument of a
// by-id field.
func stateAndID(p graphql.ResolveParams) (*execState, int64, error) {
	st, err := stateFrom(p.Context)
	if err != nil {
		return nil, 0, err
	}
	id, err := parseID("id", p.Args["id"])
	return st, id, err
}

func (b *builder) resolveOne(tbl *table) graphql.FieldResolveFn {
	return func(p graphql.ResolveParams) (any, error) {
		st, id, err := stateAndID(p)
		if err != nil {
			return nil, err
		}
		var q query
		fmt.Fprintf(&q.sql, `SELECT %s FROM %s WHERE "id" = %s`, tbl.selectList, st.qualify(tbl), q.param(id))
		return oneRow(p.Context, st.tx, tbl, &q, false)
	}
}

// oneRow runs q, which returns at most one row. A missing row is null, or
// NOT_FOUND when required.
func oneRow(ctx context.Context, tx tenancy.Querier, tbl *table, q *query, required bool) (any, error) {
	rows, err := tbl.scanRows(ctx, tx, q)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		if required {
			return nil, &Error{Code: CodeNotFound, Message: fmt.Sprintf("no %s row has that id", tbl.name)}
		}
		// A nil interface, not a typed nil map: graphql-go treats only the
		// former as null.
		return nil, nil
	}
	attachPage(rows)
	return rows[0], nil
}

// values collects the columns a create or update sets: the given fields,
// plus the ones the request set to null explicitly through variables.
func (b *builder) values(p graphql.ResolveParams, tbl *table, argName string) ([]*column, []any, error) {
	st, err := stateFrom(p.Context)
	if err != nil {
		return nil, nil, err
	}
	given, _ := p.Args[argName].(map[string]any)
	nulls := explicitNulls(p.Info, argName, st.rawVars)
	var cols []*column
	var vals []any
	for _, c := range tbl.columns {
		v, ok := given[c.name]
		if !ok && nulls[c.name] {
			if c.notNull {
				return nil, nil, UserError("field %q cannot be null", c.name)
			}
			ok = true
		}
		if !ok || c.generated {
			continue
		}
		if s, isStr := v.(string); isStr && c.maxChars > 0 {
			if n := utf8.RuneCountInString(s); n > c.maxChars {
				return nil, nil, UserError("field %q takes at most %d characters; got %d", c.name, c.maxChars, n)
			}
		}
		cols = append(cols, c)
		vals = append(vals, v)
	}
	return cols, vals, nil
}

func (b *builder) resolveCreate(tbl *table) graphql.FieldResolveFn {
	return func(p graphql.ResolveParams) (any, error) {
		st, err := stateFrom(p.Context)
		if err != nil {
			return nil, err
		}
		cols, vals, err := b.values(p, tbl, "input")
		if err != nil {
			return nil, err
		}
		var q query
		var names, params []string
		for i, c := range cols {
			names = append(names, c.quoted)
			params = append(params, q.param(vals[i]))
		}
		if _, ok := tbl.byName["user_id"]; ok && b.opts.UserID != nil {
			if uid, ok := b.opts.UserID(p.Context); ok {
				names = append(names, `"user_id"`)
				params = append(params, q.param(uid))
			}
		}
		if len(names) == 0 {
			fmt.Fprintf(&q.sql, "INSERT INTO %s DEFAULT VALUES RETURNING %s", st.qualify(tbl), tbl.selectList)
		} else {
			fmt.Fprintf(&q.sql, "INSERT INTO %s (%s) VALUES (%s) RETURNING %s",
				st.qualify(tbl), strings.Join(names, ", "), strings.Join(params, ", "), tbl.selectList)
		}
		return oneRow(p.Context, st.tx, tbl, &q, true)
	}
}

func (b *builder) resolveUpdate(tbl *table) graphql.FieldResolveFn {
	return func(p graphql.ResolveParams) (any, error) {
		st, id, err := stateAndID(p)
		if err != nil {
			return nil, err
		}
		cols, vals, err := b.values(p, tbl, "patch")
		if err != nil {
			return nil, err
		}
		if len(cols) == 0 {
			return nil, UserError("patch sets no field; give at least one field to change")
		}
		var q query
		var sets []string
		for i, c := range cols {
			sets = append(sets, c.quoted+" = "+q.param(vals[i]))
		}
		if tbl.hasUpdatedAt {
			sets = append(sets, `"updated_at" = now()`)
		}
		fmt.Fprintf(&q.sql, `UPDATE %s SET %s WHERE "id" = %s RETURNING %s`,
			st.qualify(tbl), strings.Join(sets, ", "), q.param(id), tbl.selectList)
		return oneRow(p.Context, st.tx, tbl, &q, true)
	}
}

func (b *builder) resolveDelete(tbl *table) graphql.FieldResolveFn {
	return func(p graphql.ResolveParams) (any, error) {
		st, id, err := stateAndID(p)
		if err != nil {
			return nil, err
		}
		var q query
		fmt.Fprintf(&q.sql, `DELETE FROM %s WHERE "id" = %s RETURNING %s`, st.qualify(tbl), q.param(id), tbl.selectList)
		return oneRow(p.Context, st.tx, tbl, &q, true)
	}
}

// explicitNulls returns the fields of argument argName that the request set
// to null through a variable. graphql-go drops such fields from p.Args, so
// "set to null" would otherwise look like "leave alone"; the raw variables
// still hold them.
func explicitNulls(info graphql.ResolveInfo, argName string, raw map[string]any) map[string]bool {
	out := map[string]bool{}
	if len(info.FieldASTs) == 0 {
		return out
	}
	for _, arg := range info.FieldASTs[0].Arguments {
		if arg.Name == nil || arg.Name.Value != argName {
			continue
		}
		switch v := arg.Value.(type) {
		case *ast.Variable:
			obj, _ := raw[v.Name.Value].(map[string]any)
			for k, fv := range obj {
				if fv == nil {
					out[k] = true
				}
			}
		case *ast.ObjectValue:
			for _, f := range v.Fields {
				if vv, ok := f.Value.(*ast.Variable); ok {
					if fv, present := raw[vv.Name.Value]; present && fv == nil {
						out[f.Name.Value] = true
					}
				}
			}
		}
	}
	return out
}

// page is the set of rows one list returned. The first creator resolved
// loads the creators of every row of the page in one query.
type page struct {
	rows     []map[string]any
	once     sync.Once
	creators map[string]map[string]any
	err      error
}

// pageKey holds a row's page; no column can have this name.
const pageKey = "\x00page"

func attachPage(rows []map[string]any) {
	pg := &page{rows: rows}
	for _, r := range rows {
		r[pageKey] = pg
	}
}

func resolveCreator(p graphql.ResolveParams) (any, error) {
	row, _ := p.Source.(map[string]any)
	uid, _ := row["user_id"].(string)
	pg, _ := row[pageKey].(*page)
	if uid == "" || pg == nil {
		return nil, nil
	}
	pg.once.Do(func() { pg.creators, pg.err = loadCreators(p.Context, pg.rows) })
	if pg.err != nil {
		return nil, pg.err
	}
	if c, ok := pg.creators[uid]; ok {
		return c, nil
	}
	return nil, nil
}

// loadCreators reads id and name, never more, of the users who created
// rows.
func loadCreators(ctx context.Context, rows []map[string]any) (map[string]map[string]any, error) {
	st, err := stateFrom(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var ids []string
	for _, r := range rows {
		if id, _ := r["user_id"].(string); id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	out := map[string]map[string]any{}
	res, err := st.tx.QueryContext(ctx,
		`SELECT id::text, name FROM administration.users WHERE id = ANY($1::bigint[])`, pq.Array(ids))
	if err != nil {
		return nil, err
	}
	defer res.Close()
	for res.Next() {
		var id, name string
		if err := res.Scan(&id, &name); err != nil {
			return nil, err
		}
		out[id] = map[string]any{"id": id, "name": name}
	}
	return out, res.Err()
}

const (
	defaultStatementTimeout = 5 * time.Second
	defaultRequestTimeout   = 30 * time.Second
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
