package schema

import (
	"bytes"
	"encoding/json"
	"sort"

	"github.com/graphql-go/graphql/language/ast"
)

// orderedData encodes a result's data with every object's keys in the
// order the operation selected them, as the GraphQL spec asks. graphql-go
// returns objects as Go maps, which encoding/json writes sorted by key.
type orderedData struct {
	data      any
	selection *ast.SelectionSet
	fragments map[string]*ast.FragmentDefinition
}

// MarshalJSON implements json.Marshaler.
func (o orderedData) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	if err := o.encode(&buf, o.data, []*ast.SelectionSet{o.selection}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// encode writes v; sets are the selection sets that produced it (a field
// selected twice under one response key merges its sub-selections).
func (o orderedData) encode(buf *bytes.Buffer, v any, sets []*ast.SelectionSet) error {
	switch v := v.(type) {
	case map[string]any:
		keys, subs := o.keys(sets)
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
			kb, _ := json.Marshal(k)
			buf.Write(kb)
			buf.WriteByte(':')
			return o.encode(buf, val, sub)
		}
		seen := make(map[string]bool, len(keys))
		for _, k := range keys {
			seen[k] = true
			if err := write(k, subs[k]); err != nil {
				return err
			}
		}
		// Keys no selection names (none are expected) keep a stable order.
		var rest []string
		for k := range v {
			if !seen[k] {
				rest = append(rest, k)
			}
		}
		sort.Strings(rest)
		for _, k := range rest {
			if err := write(k, nil); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	case []any:
		buf.WriteByte('[')
		for i, item := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := o.encode(buf, item, sets); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case []map[string]any:
		buf.WriteByte('[')
		for i, item := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := o.encode(buf, item, sets); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	buf.Write(b)
	return nil
}

// keys lists the response keys the selection sets name, in document order,
// through inline fragments and fragment spreads, with each key's merged
// sub-selections.
func (o orderedData) keys(sets []*ast.SelectionSet) ([]string, map[string][]*ast.SelectionSet) {
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
	return keys, subs
}
