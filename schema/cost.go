package schema

import (
	"fmt"

	"github.com/graphql-go/graphql/language/ast"
)

// Defaults of the limits checkCost applies.
const (
	defaultMaxFields  = 5000
	defaultMaxSameKey = 20
)

// checkCost refuses a parsed document that graphql-go's validation could
// not get through in bounded time and stack, before it is validated. Its
// rule for overlapping fields recurses through fragment spreads without
// noticing a cycle (a fragment that spreads itself overflows the stack and
// kills the process), follows every spread again however often it is
// reached (fragments that spread the next one twice grow as 2^n), and
// compares every pair of fields that share a response key (quadratic).
// So, in this order: no fragment may reach itself; no operation or
// fragment may select more than maxFields fields once its spreads are
// expanded; and no selection set may select one response key more than
// maxSameKey times, counting what its fragments add at its level and what
// merging the sub-selections of same-named fields adds below.
func checkCost(doc *ast.Document, maxFields, maxSameKey int) error {
	c := &costCheck{
		frags:      map[string]*ast.FragmentDefinition{},
		sizes:      map[string]int{},
		maxFields:  maxFields,
		maxSameKey: maxSameKey,
	}
	for _, def := range doc.Definitions {
		if f, ok := def.(*ast.FragmentDefinition); ok && f.Name != nil {
			c.frags[f.Name.Value] = f
		}
	}
	state := map[string]int{} // 1: being visited, 2: done
	for _, def := range doc.Definitions {
		if f, ok := def.(*ast.FragmentDefinition); ok && f.Name != nil {
			if err := c.cycle(f.Name.Value, state, nil); err != nil {
				return err
			}
		}
	}
	for _, def := range doc.Definitions {
		var ss *ast.SelectionSet
		what := "the operation"
		switch def := def.(type) {
		case *ast.OperationDefinition:
			ss = def.SelectionSet
			if def.Name != nil {
				what = fmt.Sprintf("operation %q", def.Name.Value)
			}
		case *ast.FragmentDefinition:
			ss = def.SelectionSet
			what = fmt.Sprintf("fragment %q", def.Name.Value)
		}
		if n := c.size(ss); n > maxFields {
			return fmt.Errorf("%s selects more than %d fields once its fragments are expanded; split it into smaller requests", what, maxFields)
		}
		if err := c.sameKeys([]*ast.SelectionSet{ss}); err != nil {
			return err
		}
	}
	return nil
}

type costCheck struct {
	frags      map[string]*ast.FragmentDefinition
	sizes      map[string]int // expanded field count per fragment
	maxFields  int
	maxSameKey int
}

// cycle reports a fragment that reaches itself through spreads; path is
// the chain of fragments that led to name.
func (c *costCheck) cycle(name string, state map[string]int, path []string) error {
	switch state[name] {
	case 1:
		return fmt.Errorf("fragment %q spreads itself (through %v); fragments must not form cycles", name, append(path, name))
	case 2:
		return nil
	}
	f := c.frags[name]
	if f == nil {
		return nil // an unknown fragment is the validator's to report
	}
	state[name] = 1
	var err error
	eachSpread(f.SelectionSet, func(s string) bool {
		err = c.cycle(s, state, append(path, name))
		return err == nil
	})
	state[name] = 2
	return err
}

// eachSpread calls fn with the name of every fragment spread anywhere
// inside ss until fn returns false.
func eachSpread(ss *ast.SelectionSet, fn func(string) bool) bool {
	if ss == nil {
		return true
	}
	for _, sel := range ss.Selections {
		switch sel := sel.(type) {
		case *ast.Field:
			if !eachSpread(sel.SelectionSet, fn) {
				return false
			}
		case *ast.InlineFragment:
			if !eachSpread(sel.SelectionSet, fn) {
				return false
			}
		case *ast.FragmentSpread:
			if sel.Name != nil && !fn(sel.Name.Value) {
				return false
			}
		}
	}
	return true
}

// size counts the fields ss selects with every spread expanded, stopping
// just past maxFields so the count cannot overflow. Fragments are known to
// be acyclic here.
func (c *costCheck) size(ss *ast.SelectionSet) int {
	if ss == nil {
		return 0
	}
	n := 0
	for _, sel := range ss.Selections {
		switch sel := sel.(type) {
		case *ast.Field:
			n += 1 + c.size(sel.SelectionSet)
		case *ast.InlineFragment:
			n += c.size(sel.SelectionSet)
		case *ast.FragmentSpread:
			if sel.Name == nil {
				continue
			}
			name := sel.Name.Value
			s, ok := c.sizes[name]
			if !ok {
				if f := c.frags[name]; f != nil {
					s = c.size(f.SelectionSet)
				}
				c.sizes[name] = s
			}
			n += s
		}
		if n > c.maxFields {
			return c.maxFields + 1
		}
	}
	return n
}

// sameKeys checks the selection sets in sets as one: the fields of one
// response key in them, with the selections of fragments at their level,
// and then, key by key, the sub-selections of those fields merged, as
// validation merges them. Merging is what makes repetition multiply: eight
// x { x { x { a } } } selections at each of three levels put 8^4 fields
// named a in one merged set. The fragments are known to be acyclic and
// small enough to expand.
func (c *costCheck) sameKeys(sets []*ast.SelectionSet) error {
	counts := map[string]int{}
	var keys []string
	subs := map[string][]*ast.SelectionSet{}
	var collect func(ss *ast.SelectionSet)
	collect = func(ss *ast.SelectionSet) {
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
				if counts[key] == 0 {
					keys = append(keys, key)
				}
				counts[key]++
				if sel.SelectionSet != nil {
					subs[key] = append(subs[key], sel.SelectionSet)
				}
			case *ast.InlineFragment:
				collect(sel.SelectionSet)
			case *ast.FragmentSpread:
				if sel.Name != nil && c.frags[sel.Name.Value] != nil {
					collect(c.frags[sel.Name.Value].SelectionSet)
				}
			}
		}
	}
	for _, ss := range sets {
		collect(ss)
	}
	for _, key := range keys {
		if n := counts[key]; n > c.maxSameKey {
			return fmt.Errorf("%q is selected %d times in one selection set (counting fragments and the merged selections of fields that share a name), more than the %d allowed; give the selections different aliases", key, n, c.maxSameKey)
		}
	}
	for _, key := range keys {
		if err := c.sameKeys(subs[key]); err != nil {
			return err
		}
	}
	return nil
}
