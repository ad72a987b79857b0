package schema

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/graphql-go/graphql"
)

// builtinScalars are printed by no SDL: every GraphQL schema has them.
var builtinScalars = map[string]bool{"String": true, "Int": true, "Float": true, "Boolean": true, "ID": true}

var builtinDirectives = map[string]bool{"skip": true, "include": true, "deprecated": true, "specifiedBy": true}

// PrintSDL renders s as GraphQL SDL in a stable order: directives, then
// types, each sorted by name, with fields, arguments and enum values sorted
// by name too. Introspection types and the built-in scalars and directives
// are left out, as graphql-js printSchema does.
func PrintSDL(s *graphql.Schema) string { return printSDL(s, nil) }

// SDL prints the schema with @hasRole where it is applied.
func (b *Built) SDL() string { return printSDL(&b.Schema, b.access) }

func printSDL(s *graphql.Schema, access *Access) string {
	var b strings.Builder
	var dirs []*graphql.Directive
	for _, d := range s.Directives() {
		if !builtinDirectives[d.Name] {
			dirs = append(dirs, d)
		}
	}
	sort.Slice(dirs, func(i, j int) bool { return dirs[i].Name < dirs[j].Name })
	for _, d := range dirs {
		printDescription(&b, d.Description, "")
		fmt.Fprintf(&b, "directive @%s%s on %s\n\n", d.Name, printArgs(d.Args), strings.Join(d.Locations, " | "))
	}

	names := make([]string, 0, len(s.TypeMap()))
	for name := range s.TypeMap() {
		if strings.HasPrefix(name, "__") || builtinScalars[name] {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		printType(&b, s.TypeMap()[name], access)
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

func printType(b *strings.Builder, t graphql.Type, access *Access) {
	switch t := t.(type) {
	case *graphql.Scalar:
		printDescription(b, t.Description(), "")
		fmt.Fprintf(b, "scalar %s", t.Name())
		if url := SpecifiedByURL(t.Name()); url != "" {
			fmt.Fprintf(b, " @specifiedBy(url: %s)", quote(url))
		}
		b.WriteString("\n\n")
	case *graphql.Object:
		printDescription(b, t.Description(), "")
		fmt.Fprintf(b, "type %s {\n", t.Name())
		fields := t.Fields()
		for _, name := range sortedKeys(fields) {
			f := fields[name]
			printDescription(b, f.Description, "  ")
			fmt.Fprintf(b, "  %s%s: %s%s%s\n", name, printArgs(f.Args), f.Type,
				printDeprecated(f.DeprecationReason), access.appliedSDL(t.Name(), name))
		}
		b.WriteString("}\n\n")
	case *graphql.InputObject:
		printDescription(b, t.Description(), "")
		fmt.Fprintf(b, "input %s {\n", t.Name())
		fields := t.Fields()
		for _, name := range sortedKeys(fields) {
			f := fields[name]
			printDescription(b, f.Description(), "  ")
			fmt.Fprintf(b, "  %s: %s%s\n", name, f.Type, printDefault(f.DefaultValue))
		}
		b.WriteString("}\n\n")
	case *graphql.Enum:
		printDescription(b, t.Description(), "")
		fmt.Fprintf(b, "enum %s {\n", t.Name())
		values := t.Values()
		sort.Slice(values, func(i, j int) bool { return values[i].Name < values[j].Name })
		for _, v := range values {
			printDescription(b, v.Description, "  ")
			fmt.Fprintf(b, "  %s%s\n", v.Name, printDeprecated(v.DeprecationReason))
		}
		b.WriteString("}\n\n")
	case *graphql.Interface, *graphql.Union:
		// The schemas built here define none.
	}
}

func printArgs(args []*graphql.Argument) string {
	if len(args) == 0 {
		return ""
	}
	sorted := append([]*graphql.Argument(nil), args...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name() < sorted[j].Name() })
	parts := make([]string, len(sorted))
	for i, a := range sorted {
		desc := ""
		if a.Description() != "" {
			desc = quote(a.Description()) + " "
		}
		parts[i] = fmt.Sprintf("%s%s: %s%s", desc, a.Name(), a.Type, printDefault(a.DefaultValue))
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func printDefault(v any) string {
	if v == nil {
		return ""
	}
	switch v := v.(type) {
	case string:
		return " = " + quote(v)
	case bool, int, int32, int64, float64:
		return fmt.Sprintf(" = %v", v)
	}
	return fmt.Sprintf(" = %v", v)
}

func printDeprecated(reason string) string {
	if reason == "" {
		return ""
	}
	return " @deprecated(reason: " + quote(reason) + ")"
}

func printDescription(b *strings.Builder, d, indent string) {
	if d == "" {
		return
	}
	if !strings.Contains(d, "\n") && !strings.Contains(d, `"""`) {
		fmt.Fprintf(b, "%s\"\"\"%s\"\"\"\n", indent, d)
		return
	}
	fmt.Fprintf(b, "%s%s\n", indent, quote(d))
}

func quote(s string) string {
	out, _ := json.Marshal(s)
	return string(out)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SpecifiedByURL returns the URL of the specification a custom scalar
// follows, or "".
func SpecifiedByURL(scalar string) string {
	switch scalar {
	case "DateTime":
		return "https://datatracker.ietf.org/doc/html/rfc3339"
	case "Date", "Time":
		return "https://www.iso.org/iso-8601-date-and-time-format.html"
	}
	return ""
}
