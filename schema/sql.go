package schema

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/lib/pq"

	"tenantgraph/tenancy"
)

// query accumulates SQL text and its bind parameters. Identifiers reach it
// only quoted; values only as $n parameters.
type query struct {
	sql  strings.Builder
	args []any
}

// param appends v as the next parameter and returns its placeholder.
func (q *query) param(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

// orderTerm is the internal value of an OrderBy enum value.
type orderTerm struct {
	column string
	desc   bool
}

// where renders a filter input object into a SQL condition. An empty
// filter is TRUE.
func (t *table) where(q *query, filter map[string]any) (string, error) {
	var conds []string
	for key, raw := range filter {
		if raw == nil {
			continue
		}
		switch key {
		case "and", "or":
			list, _ := raw.([]any)
			var parts []string
			for _, item := range list {
				m, _ := item.(map[string]any)
				c, err := t.where(q, m)
				if err != nil {
					return "", err
				}
				parts = append(parts, "("+c+")")
			}
			switch {
			case len(parts) == 0 && key == "and":
				conds = append(conds, "TRUE")
			case len(parts) == 0:
				conds = append(conds, "FALSE")
			case key == "and":
				conds = append(conds, strings.Join(parts, " AND "))
			default:
				conds = append(conds, "("+strings.Join(parts, " OR ")+")")
			}
		case "not":
			m, _ := raw.(map[string]any)
			c, err := t.where(q, m)
			if err != nil {
				return "", err
			}
			conds = append(conds, "NOT ("+c+")")
		default:
			col, ok := t.byName[key]
			if !ok {
				return "", UserError("unknown filter field %q", key)
			}
			ops, _ := raw.(map[string]any)
			c, err := col.condition(q, ops)
			if err != nil {
				return "", err
			}
			conds = append(conds, c...)
		}
	}
	if len(conds) == 0 {
		return "TRUE", nil
	}
	return strings.Join(conds, " AND "), nil
}

var comparison = map[string]string{"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "like": "LIKE", "ilike": "ILIKE"}

// condition renders one column's operators.
func (c *column) condition(q *query, ops map[string]any) ([]string, error) {
	var conds []string
	for op, v := range ops {
		if v == nil {
			continue
		}
		switch op {
		case "isNull":
			if b, _ := v.(bool); b {
				conds = append(conds, c.quoted+" IS NULL")
			} else {
				conds = append(conds, c.quoted+" IS NOT NULL")
			}
		case "in":
			list, _ := v.([]any)
			elems := make([]string, 0, len(list))
			for _, item := range list {
				s, err := c.arrayElem(item)
				if err != nil {
					return nil, err
				}
				elems = append(elems, s)
			}
			conds = append(conds, c.quoted+" = ANY("+q.param(pq.Array(elems))+"::"+kindInfo[c.kind].arrayCast+")")
		default:
			sqlOp, ok := comparison[op]
			if !ok {
				return nil, UserError("unknown operator %q on %q", op, c.name)
			}
			val, err := c.sqlValue(v)
			if err != nil {
				return nil, err
			}
			conds = append(conds, c.quoted+" "+sqlOp+" "+q.param(val))
		}
	}
	return conds, nil
}

// sqlValue converts a parsed GraphQL value to a bind parameter for c.
func (c *column) sqlValue(v any) (any, error) {
	if c.kind == kindID {
		return parseID(c.name, v)
	}
	return v, nil
}

// arrayElem renders one element of an `in` list as array text.
func (c *column) arrayElem(v any) (string, error) {
	v, err := c.sqlValue(v)
	if err != nil {
		return "", err
	}
	switch v := v.(type) {
	case interface{ Format(string) string }: // time.Time
		return v.Format("2006-01-02T15:04:05.999999999Z07:00"), nil
	default:
		return fmt.Sprint(v), nil
	}
}

// parseID checks a row id given as an ID: a positive 64-bit integer.
func parseID(field string, v any) (int64, error) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case int:
		s = strconv.Itoa(v)
	case int64:
		s = strconv.FormatInt(v, 10)
	default:
		return 0, UserError("%s must be a row id, a positive integer", field)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, UserError("%s must be a row id, a positive integer; got %q", field, s)
	}
	return n, nil
}

// orderBy renders the ORDER BY list, always ending with id so pages are
// stable.
func (t *table) orderBy(terms []any) string {
	var parts []string
	sawID := false
	for _, raw := range terms {
		term, ok := raw.(orderTerm)
		if !ok {
			continue
		}
		col := t.byName[term.column]
		if col == nil {
			continue
		}
		dir := " ASC"
		if term.desc {
			dir = " DESC"
		}
		parts = append(parts, col.quoted+dir)
		sawID = sawID || term.column == "id"
	}
	if !sawID {
		parts = append(parts, `"id" ASC`)
	}
	return strings.Join(parts, ", ")
}

// scanRows reads rows of t's select list into maps of resolved values.
func (t *table) scanRows(ctx context.Context, tx tenancy.Querier, q *query) ([]map[string]any, error) {
	rows, err := tx.QueryContext(ctx, q.sql.String(), q.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []map[string]any{}
	// One set of scan targets serves every row: scanValue copies each
	// value out before the next Scan overwrites it.
	dst := make([]any, len(t.columns))
	for i, c := range t.columns {
		dst[i] = scanTarget(c.kind)
	}
	for rows.Next() {
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
		row := make(map[string]any, len(t.columns)+1)
		for i, c := range t.columns {
			row[c.name] = scanValue(c.kind, dst[i])
		}
		out = append(out, row)
	}
	return out, rows.Err()
}
