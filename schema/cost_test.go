package schema

import (
	"fmt"
	"strings"
	"testing"

	"github.com/graphql-go/graphql/language/parser"
)

func TestCheckCost(t *testing.T) {
	aliases := func(n, perKey int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, " k%d: a", i/perKey)
		}
		return b.String() + " }"
	}
	doubling := func(n int) string {
		var b strings.Builder
		b.WriteString("query { ...F0 }")
		for i := range n {
			fmt.Fprintf(&b, " fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
		}
		fmt.Fprintf(&b, " fragment F%d on Query { a }", n)
		return b.String()
	}
	for _, tc := range []struct {
		name, doc, want string // want "" accepts the document
	}{
		{"SelfSpread", `query { ...A } fragment A on Query { ...A }`, `fragment "A" spreads itself`},
		{"IndirectCycle", `query { ...A } fragment A on Query { x { ...B } } fragment B on X { ... on X { y { ...A } } }`, `spreads itself`},
		{"UnusedCycle", `query { a } fragment A on Query { ...B } fragment B on Query { ...A }`, `spreads itself`},
		{"UnknownSpread", `query { ...Nope }`, ``},
		{"DiamondIsFine", `query { ...A ...B } fragment A on Query { ...C } fragment B on Query { ...C } fragment C on Query { a }`, ``},
		{"DoublingFragments", doubling(40), `more than 5000 fields`},
		{"DoublingWithinLimit", doubling(4), ``},
		{"ManyAliases", aliases(5000, 1), ``},
		{"TooManyFields", aliases(5001, 1), `more than 5000 fields`},
		{"SameKeyAtLimit", aliases(20, 20), ``},
		{"SameKeyOverLimit", aliases(21, 21), `"k0" is selected 21 times`},
		{"SameKeyThroughFragments", `{ x { a ...F ... on X { a } } } fragment F on X { ` + strings.Repeat("a ", 19) + `}`, `"a" is selected 21 times`},
		{"SameKeyNested", `{ x { y { ` + strings.Repeat("z ", 21) + `} } }`, `"z" is selected 21 times`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := parser.Parse(parser.ParseParams{Source: tc.doc})
			if err != nil {
				t.Fatal(err)
			}
			err = checkCost(doc, defaultMaxFields, defaultMaxSameKey)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Errorf("accepted, want an error with %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}
