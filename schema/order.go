package schema

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"

	"github.com/graphql-go/graphql/language/ast"
)

// orderedData encodes a result's data with every object's keys in the
// order the operation selected them, as the GraphQL spec asks. graphql-go
// returns objects as Go maps, which encoding/json writes sorted by key.
type orderedData struct {
	selection *ast.SelectionSet
	fragments map[string]*ast.FragmentDefinition
}

// layout is the order of an object's keys and each key's sub-selections.
// It depends only on the selection sets, so a list computes it once for
// all its items.
type layout struct {
	keys []string
	subs map[string][]*ast.SelectionSet
}

// encode writes v; sets are the selection sets that produced it (a field
// selected twice under one response key merges its sub-selections).
func (o orderedData) encode(buf *bytes.Buffer, v any, sets []*ast.SelectionSet) error {
	switch v := v.(type) {
	case map[string]any:
		return o.object(buf, v, o.layout(sets))
	case []any:
		var lay *layout
		buf.WriteByte('[')
		for i, item := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			var err error
			if m, ok := item.(map[string]any); ok {
				if lay == nil {
					l := o.layout(sets)
					lay = &l
				}
				err = o.object(buf, m, *lay)
			} else {
				err = o.encode(buf, item, sets)
			}
			if err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case []map[string]any:
		lay := o.layout(sets)
		buf.WriteByte('[')
		for i, item := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := o.object(buf, item, lay); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	}
	return writeScalar(buf, v)
}

// object writes one object with its keys in lay's order.
func (o orderedData) object(buf *bytes.Buffer, v map[string]any, lay layout) error {
	buf.WriteByte('{')
	n := 0
	write := func(k string, sub []*ast.SelectionSet) error {
		val, ok := v[k]
		if !ok {
			return nil
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		n++
		writeString(buf, k)
		buf.WriteByte(':')
		return o.encode(buf, val, sub)
	}
	for _, k := range lay.keys {
		if err := write(k, lay.subs[k]); err != nil {
			return err
		}
	}
	if n < len(v) {
		// Keys no selection names (none are expected) keep a stable order.
		var rest []string
		for k := range v {
			if _, named := lay.subs[k]; !named {
				rest = append(rest, k)
			}
		}
		sort.Strings(rest)
		for _, k := range rest {
			if err := write(k, nil); err != nil {
				return err
			}
		}
	}
	buf.WriteByte('}')
	return nil
}

// writeScalar writes a leaf value. The common kinds are written directly;
// anything else goes through encoding/json.
func writeScalar(buf *bytes.Buffer, v any) error {
	var scratch [24]byte
	switch v := v.(type) {
	case nil:
		buf.WriteString("null")
		return nil
	case string:
		writeString(buf, v)
		return nil
	case bool:
		buf.Write(strconv.AppendBool(scratch[:0], v))
		return nil
	case int:
		buf.Write(strconv.AppendInt(scratch[:0], int64(v), 10))
		return nil
	case int32:
		buf.Write(strconv.AppendInt(scratch[:0], int64(v), 10))
		return nil
	case int64:
		buf.Write(strconv.AppendInt(scratch[:0], v, 10))
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	buf.Write(b)
	return nil
}

// writeString writes s as a JSON string. A string of printable ASCII that
// needs no escaping (names, ids, most values) is copied as it is; any other
// goes through encoding/json, so the escaping rules, HTML-safe ones
// included, stay encoding/json's.
func writeString(buf *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always marshals
			buf.Write(b)
			return
		}
	}
	buf.WriteByte('"')
	buf.WriteString(s)
	buf.WriteByte('"')
}

// layout lists the response keys the selection sets name, in document order,
// through inline fragments and fragment spreads, with each key's merged
// sub-selections.
func (o orderedData) layout(sets []*ast.SelectionSet) layout {
	var keys []string
	subs := map[string][]*ast.SelectionSet{}
	visiting := map[string]bool{}
	var walk func(ss *ast.SelectionSet)
	walk = func(ss *ast.SelectionSet) {
		if ss == nil {
			return
		}
		for _, sel := range ss.Selections {
			switch sel := sel.(type) {
			case *ast.Field:
				key := sel.Name.Value
				if sel.Alias != nil && sel.Alias.Value != "" {
					key = sel.Alias.Value
				}
				if _, ok := subs[key]; !ok {
					keys = append(keys, key)
					subs[key] = nil
				}
				if sel.SelectionSet != nil {
					subs[key] = append(subs[key], sel.SelectionSet)
				}
			case *ast.InlineFragment:
				walk(sel.SelectionSet)
			case *ast.FragmentSpread:
				name := sel.Name.Value
				if f := o.fragments[name]; f != nil && !visiting[name] {
					visiting[name] = true
					walk(f.SelectionSet)
					visiting[name] = false
				}
			}
		}
	}
	for _, ss := range sets {
		walk(ss)
	}
	return layout{keys, subs}
}
