package schema

import (
	"sort"

	"github.com/graphql-go/graphql"
)

// graphql-go v0.8.1's introspection lacks fields that current tools ask
// for: __Type.specifiedByURL, __Directive.isRepeatable, __Schema.description,
// the includeDeprecated argument of args and inputFields, and deprecation on
// input values. One unknown field fails a whole introspection query, so
// graphql-js getIntrospectionQuery with its options on, and the code
// generators and IDEs built on it, would get no schema at all. The
// introspection types are package variables shared by every schema, so
// they are extended once, here, before any schema is built, and their
// field caches filled at once: filling them lazily from concurrent builds
// would race.
//
// The same pass makes the order of args, input fields, enum values and
// types-with-fields sorted by name, so introspection output is stable
// between builds (graphql-go keeps them in maps).
func init() {
	includeDeprecated := graphql.FieldConfigArgument{
		"includeDeprecated": &graphql.ArgumentConfig{Type: graphql.Boolean, DefaultValue: false},
	}
	specifiedBy := &graphql.Field{
		Type: graphql.String,
		Resolve: func(p graphql.ResolveParams) (any, error) {
			if s, ok := p.Source.(*graphql.Scalar); ok {
				if url := SpecifiedByURL(s.Name()); url != "" {
					return url, nil
				}
			}
			return nil, nil
		},
	}
	graphql.TypeType.AddFieldConfig("specifiedByURL", specifiedBy)
	// graphql-js 15 spelled it specifiedByUrl.
	graphql.TypeType.AddFieldConfig("specifiedByUrl", specifiedBy)
	graphql.TypeType.AddFieldConfig("isOneOf", &graphql.Field{
		Type:    graphql.Boolean,
		Resolve: func(p graphql.ResolveParams) (any, error) { return false, nil },
	})
	graphql.TypeType.AddFieldConfig("inputFields", &graphql.Field{
		Type: graphql.NewList(graphql.NewNonNull(graphql.InputValueType)),
		Args: includeDeprecated,
		Resolve: func(p graphql.ResolveParams) (any, error) {
			in, ok := p.Source.(*graphql.InputObject)
			if !ok {
				return nil, nil
			}
			fields := in.Fields()
			out := make([]*graphql.InputObjectField, 0, len(fields))
			for _, name := range sortedKeys(fields) {
				out = append(out, fields[name])
			}
			return out, nil
		},
	})
	graphql.TypeType.AddFieldConfig("enumValues", &graphql.Field{
		Type: graphql.NewList(graphql.NewNonNull(graphql.EnumValueType)),
		Args: includeDeprecated,
		Resolve: func(p graphql.ResolveParams) (any, error) {
			e, ok := p.Source.(*graphql.Enum)
			if !ok {
				return nil, nil
			}
			all, _ := p.Args["includeDeprecated"].(bool)
			var out []*graphql.EnumValueDefinition
			for _, v := range e.Values() {
				if all || v.DeprecationReason == "" {
					out = append(out, v)
				}
			}
			sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
			return out, nil
		},
	})
	graphql.FieldType.AddFieldConfig("args", &graphql.Field{
		Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(graphql.InputValueType))),
		Args: includeDeprecated,
		Resolve: func(p graphql.ResolveParams) (any, error) {
			if f, ok := p.Source.(*graphql.FieldDefinition); ok {
				return sortedArgs(f.Args), nil
			}
			return []*graphql.Argument{}, nil
		},
	})
	graphql.DirectiveType.AddFieldConfig("args", &graphql.Field{
		Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(graphql.InputValueType))),
		Args: includeDeprecated,
		Resolve: func(p graphql.ResolveParams) (any, error) {
			if d, ok := p.Source.(*graphql.Directive); ok {
				return sortedArgs(d.Args), nil
			}
			return []*graphql.Argument{}, nil
		},
	})
	graphql.DirectiveType.AddFieldConfig("isRepeatable", &graphql.Field{
		Type:    graphql.NewNonNull(graphql.Boolean),
		Resolve: func(p graphql.ResolveParams) (any, error) { return false, nil },
	})
	graphql.SchemaType.AddFieldConfig("types", &graphql.Field{
		Description: "A list of all types supported by this server.",
		Type:        graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(graphql.TypeType))),
		Resolve: func(p graphql.ResolveParams) (any, error) {
			s, ok := p.Source.(graphql.Schema)
			if !ok {
				return []graphql.Type{}, nil
			}
			tm := s.TypeMap()
			out := make([]graphql.Type, 0, len(tm))
			for _, name := range sortedKeys(tm) {
				out = append(out, tm[name])
			}
			return out, nil
		},
	})
	graphql.SchemaType.AddFieldConfig("description", &graphql.Field{
		Type:    graphql.String,
		Resolve: func(p graphql.ResolveParams) (any, error) { return nil, nil },
	})
	graphql.InputValueType.AddFieldConfig("isDeprecated", &graphql.Field{
		Type:    graphql.NewNonNull(graphql.Boolean),
		Resolve: func(p graphql.ResolveParams) (any, error) { return false, nil },
	})
	graphql.InputValueType.AddFieldConfig("deprecationReason", &graphql.Field{
		Type:    graphql.String,
		Resolve: func(p graphql.ResolveParams) (any, error) { return nil, nil },
	})
	// graphql-go answers "" for a missing description; tools then print an
	// empty description ("""""") on every undocumented type and field.
	description := &graphql.Field{
		Type:    graphql.String,
		Resolve: func(p graphql.ResolveParams) (any, error) { return descriptionOrNil(p.Source), nil },
	}
	for _, t := range []*graphql.Object{
		graphql.TypeType, graphql.FieldType, graphql.InputValueType, graphql.EnumValueType, graphql.DirectiveType,
	} {
		t.AddFieldConfig("description", description)
	}

	for _, t := range []*graphql.Object{
		graphql.SchemaType, graphql.DirectiveType, graphql.TypeType, graphql.FieldType,
		graphql.InputValueType, graphql.EnumValueType,
	} {
		t.Fields()
		t.Interfaces()
	}
}

// descriptionOrNil returns the description of an introspected type, field,
// argument, enum value or directive, or nil when it has none.
func descriptionOrNil(src any) any {
	var d string
	switch s := src.(type) {
	case interface{ Description() string }:
		d = s.Description()
	case *graphql.FieldDefinition:
		d = s.Description
	case *graphql.EnumValueDefinition:
		d = s.Description
	case *graphql.Directive:
		d = s.Description
	}
	if d == "" {
		return nil
	}
	return d
}

func sortedArgs(args []*graphql.Argument) []*graphql.Argument {
	out := append([]*graphql.Argument(nil), args...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}
