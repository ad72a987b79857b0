package schema

import (
	"fmt"
	"sort"
	"strings"

	"github.com/graphql-go/graphql"

	"tenantgraph/ddl"
	"tenantgraph/identity"
	"tenantgraph/tenancy"
)

// Built is one tenant's published GraphQL schema. It is never changed after
// it is published; a change of shape builds a new one. Tenants whose
// catalogs have the same shape share one underlying schema (its types,
// resolvers and document cache): nothing in it names a tenant, and
// resolvers find the tenant's schema and id in the request.
type Built struct {
	*shape
	Version  int64
	TenantID int64
	// Namespace is the tenant's PostgreSQL schema.
	Namespace string

	opts     *Options
	tenant   tenancy.Tenant
	registry *Registry // nil when built outside a registry
	// fieldCommits marks a static schema, whose mutation fields each commit
	// on their own (see NewStatic).
	fieldCommits bool
}

// shape is the tenant-independent part of a built schema.
type shape struct {
	Schema graphql.Schema
	// Omitted lists what the catalog holds that the API leaves out, and why.
	Omitted []string

	access *Access
	tables map[string]*table
	docs   docCache
}

// builder holds the types of one schema under construction. Every type is
// made fresh for each schema: graphql-go fills object field caches lazily
// and without a lock, so sharing types between schemas would race.
type builder struct {
	opts      *Options
	filters   map[kind]*graphql.InputObject
	creator   *graphql.Object
	brand     *graphql.Object
	extra     *graphql.Object
	extraType *graphql.Enum
	query     graphql.Fields
	mutation  graphql.Fields // row mutations: editors
	changes   graphql.Fields // changes of shape: admins
}

// Build makes the GraphQL schema of a tenant from its catalog. Columns and
// tables it cannot carry are left out and listed in Built.Omitted; an error
// means no schema could be made at all.
func Build(t *tenancy.Tenant, cat *tenancy.Catalog, opts *Options) (*Built, error) {
	if opts == nil {
		opts = &Options{}
	}
	sh, err := buildShape(cat.Tables, opts)
	if err != nil {
		return nil, fmt.Errorf("build schema of %s: %w", t.Namespace, err)
	}
	return sh.forTenant(t, cat.Version, opts), nil
}

// forTenant wraps a shape as the schema of tenant t at version v.
func (sh *shape) forTenant(t *tenancy.Tenant, v int64, opts *Options) *Built {
	return &Built{shape: sh, Version: v, TenantID: t.ID, Namespace: t.Namespace, opts: opts, tenant: *t}
}

// buildShape makes the tenant-independent schema for a catalog's tables.
func buildShape(tables []tenancy.Table, opts *Options) (*shape, error) {
	b := &builder{
		opts:     opts,
		filters:  map[kind]*graphql.InputObject{},
		query:    graphql.Fields{},
		mutation: graphql.Fields{},
		changes:  graphql.Fields{},
	}
	sh := &shape{tables: map[string]*table{}}
	b.creator = graphql.NewObject(graphql.ObjectConfig{
		Name:        "Creator",
		Description: "The user who created a row.",
		Fields: graphql.Fields{
			"id":   &graphql.Field{Type: graphql.NewNonNull(graphql.ID)},
			"name": &graphql.Field{Type: graphql.NewNonNull(graphql.String)},
		},
	})
	b.addAdministrative()
	b.addChanges()

	taken := map[string]bool{}
	for n := range ddl.ReservedTypeNames {
		taken[n] = true
	}
	for _, ct := range tables {
		tbl, omitted := newTable(ct)
		sh.Omitted = append(sh.Omitted, omitted...)
		if tbl == nil {
			continue
		}
		if clash := b.tableNameClash(tbl, taken); clash != "" {
			sh.Omitted = append(sh.Omitted, fmt.Sprintf("table %s: %s", tbl.name, clash))
			continue
		}
		for _, n := range ddl.TypeNames(tbl.name) {
			taken[n] = true
		}
		sh.tables[tbl.name] = tbl
		b.addTable(tbl)
	}

	access := NewAccess(tenantGuard, false)
	access.Require("Query", b.query, identity.RoleViewer)
	access.Require("Mutation", b.mutation, identity.RoleEditor)
	access.Require("Mutation", b.changes, identity.RoleAdmin)
	for name, f := range b.changes {
		b.mutation[name] = f
	}
	sh.access = access
	s, err := graphql.NewSchema(access.SchemaConfig(graphql.SchemaConfig{
		Query:    graphql.NewObject(graphql.ObjectConfig{Name: "Query", Fields: b.query}),
		Mutation: graphql.NewObject(graphql.ObjectConfig{Name: "Mutation", Fields: b.mutation}),
	}))
	if err != nil {
		return nil, err
	}
	warmEnums(&s)
	sh.Schema = s
	sort.Strings(sh.Omitted)
	return sh, nil
}

// tableNameClash says why tbl cannot be added, or "".
func (b *builder) tableNameClash(tbl *table, taken map[string]bool) string {
	if !graphQLName.MatchString(tbl.name) || strings.HasPrefix(tbl.name, "__") {
		return "name is not usable in GraphQL"
	}
	for _, n := range ddl.TypeNames(tbl.name) {
		if taken[n] || strings.HasPrefix(n, "__") {
			return fmt.Sprintf("its type name %s clashes with another type", n)
		}
	}
	for _, f := range []string{tbl.name, tbl.name + "List"} {
		if _, ok := b.query[f]; ok {
			return fmt.Sprintf("its query field %s clashes with another field", f)
		}
	}
	return ""
}

// filterType returns the operator input type of kind k, made once per
// schema.
func (b *builder) filterType(k kind) *graphql.InputObject {
	if f, ok := b.filters[k]; ok {
		return f
	}
	info := kindInfo[k]
	fields := graphql.InputObjectConfigFieldMap{}
	for _, op := range info.ops {
		var typ graphql.Input = info.scalar
		desc := ""
		switch op {
		case "in":
			typ = graphql.NewList(graphql.NewNonNull(info.scalar))
			desc = "Matches any of the values."
		case "isNull":
			typ = graphql.Boolean
			desc = "true: the value is null; false: it is not."
		case "like", "ilike":
			desc = "SQL pattern: % matches any run of characters, _ one character."
			if op == "ilike" {
				desc += " Ignores case."
			}
		}
		fields[op] = &graphql.InputObjectFieldConfig{Type: typ, Description: desc}
	}
	f := graphql.NewInputObject(graphql.InputObjectConfig{
		Name:        info.filter,
		Description: "Conditions on one value; all given conditions must hold.",
		Fields:      fields,
	})
	b.filters[k] = f
	return f
}

// listArgs are the arguments of every list field.
func listArgs(filter, orderBy graphql.Input, maxLimit int) graphql.FieldConfigArgument {
	args := graphql.FieldConfigArgument{
		"limit": &graphql.ArgumentConfig{Type: graphql.Int, DefaultValue: 25,
			Description: fmt.Sprintf("Most items to return, 0 to %d.", maxLimit)},
		"offset": &graphql.ArgumentConfig{Type: graphql.Int, DefaultValue: 0, Description: "Items to skip."},
	}
	if filter != nil {
		args["filter"] = &graphql.ArgumentConfig{Type: filter}
	}
	if orderBy != nil {
		args["orderBy"] = &graphql.ArgumentConfig{Type: graphql.NewList(graphql.NewNonNull(orderBy)),
			Description: "Sort keys, first one first; ties are broken by id."}
	}
	return args
}

// listType is `{ totalCount: Int! items: [item!]! }`.
func listType(name string, item graphql.Output) *graphql.Object {
	return graphql.NewObject(graphql.ObjectConfig{
		Name:        name,
		Description: "One page of items, and how many there are in all.",
		Fields: graphql.Fields{
			"totalCount": &graphql.Field{
				Type:        graphql.NewNonNull(graphql.Int),
				Description: "How many items match, ignoring limit and offset. Counted only when asked for.",
				Resolve:     safe(resolveTotalCount),
			},
			"items": &graphql.Field{
				Type:    graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(item))),
				Resolve: safe(resolveItems),
			},
		},
	})
}

// addTable adds the object, list, filter, order, input and patch types of
// tbl, its two query fields and its three mutations.
func (b *builder) addTable(tbl *table) {
	objFields := graphql.Fields{}
	filterFields := graphql.InputObjectConfigFieldMap{}
	inputFields := graphql.InputObjectConfigFieldMap{}
	patchFields := graphql.InputObjectConfigFieldMap{}
	orderValues := graphql.EnumValueConfigMap{}

	for _, c := range tbl.columns {
		scalar := kindInfo[c.kind].scalar
		var out graphql.Output = scalar
		if c.notNull {
			out = graphql.NewNonNull(scalar)
		}
		objFields[c.name] = &graphql.Field{Type: out, Description: c.description}
		filterFields[c.name] = &graphql.InputObjectFieldConfig{Type: b.filterType(c.kind)}
		upper := strings.ToUpper(c.name)
		orderValues[upper+"_ASC"] = &graphql.EnumValueConfig{Value: orderTerm{c.name, false}}
		orderValues[upper+"_DESC"] = &graphql.EnumValueConfig{Value: orderTerm{c.name, true}}
		if c.generated {
			continue
		}
		var in graphql.Input = scalar
		if c.notNull && !c.hasDefault {
			in = graphql.NewNonNull(scalar)
		}
		inputFields[c.name] = &graphql.InputObjectFieldConfig{Type: in, Description: c.description}
		patchFields[c.name] = &graphql.InputObjectFieldConfig{Type: scalar, Description: c.description}
	}
	objFields["creator"] = &graphql.Field{
		Type:        b.creator,
		Description: "The user who created the row, when known.",
		Resolve:     safe(resolveCreator),
	}

	obj := graphql.NewObject(graphql.ObjectConfig{Name: tbl.typeName, Fields: objFields})
	var filter *graphql.InputObject
	filter = graphql.NewInputObject(graphql.InputObjectConfig{
		Name:        tbl.typeName + "Filter",
		Description: "Conditions on " + tbl.name + " rows; all given conditions must hold.",
		Fields: graphql.InputObjectConfigFieldMapThunk(func() graphql.InputObjectConfigFieldMap {
			filterFields["and"] = &graphql.InputObjectFieldConfig{Type: graphql.NewList(graphql.NewNonNull(filter)), Description: "Every one must hold."}
			filterFields["or"] = &graphql.InputObjectFieldConfig{Type: graphql.NewList(graphql.NewNonNull(filter)), Description: "At least one must hold."}
			filterFields["not"] = &graphql.InputObjectFieldConfig{Type: filter, Description: "Must not hold."}
			return filterFields
		}),
	})
	order := graphql.NewEnum(graphql.EnumConfig{Name: tbl.typeName + "OrderBy", Values: orderValues})
	list := listType(tbl.typeName+"List", obj)
	nonNullObj := graphql.NewNonNull(obj)
	idArg := graphql.FieldConfigArgument{"id": &graphql.ArgumentConfig{Type: graphql.NewNonNull(graphql.ID)}}

	b.query[tbl.name+"List"] = &graphql.Field{
		Type:        graphql.NewNonNull(list),
		Description: "A page of " + tbl.name + " rows.",
		Args:        listArgs(filter, order, b.maxLimit()),
		Resolve:     safe(b.resolveList(tbl)),
	}
	b.query[tbl.name] = &graphql.Field{
		Type:        obj,
		Description: "One " + tbl.name + " row by id, or null.",
		Args:        idArg,
		Resolve:     safe(b.resolveOne(tbl)),
	}

	input := graphql.NewInputObject(graphql.InputObjectConfig{Name: tbl.typeName + "Input", Fields: inputFields})
	b.mutation["create"+tbl.typeName] = &graphql.Field{
		Type:        nonNullObj,
		Description: "Adds a " + tbl.name + " row; the signed-in user becomes its creator.",
		Args:        graphql.FieldConfigArgument{"input": &graphql.ArgumentConfig{Type: graphql.NewNonNull(input)}},
		Resolve:     safe(b.resolveCreate(tbl)),
	}
	if len(patchFields) > 0 {
		patch := graphql.NewInputObject(graphql.InputObjectConfig{
			Name:        tbl.typeName + "Patch",
			Description: "Fields to change; fields left out keep their value. To set a field to null, pass it null in a variable.",
			Fields:      patchFields,
		})
		b.mutation["update"+tbl.typeName] = &graphql.Field{
			Type:        nonNullObj,
			Description: "Changes a " + tbl.name + " row.",
			Args: graphql.FieldConfigArgument{
				"id":    idArg["id"],
				"patch": &graphql.ArgumentConfig{Type: graphql.NewNonNull(patch)},
			},
			Resolve: safe(b.resolveUpdate(tbl)),
		}
	}
	b.mutation["delete"+tbl.typeName] = &graphql.Field{
		Type:        nonNullObj,
		Description: "Deletes a " + tbl.name + " row and returns it as it was.",
		Args:        idArg,
		Resolve:     safe(b.resolveDelete(tbl)),
	}
}

func (b *builder) maxLimit() int {
	if b.opts.MaxLimit > 0 {
		return b.opts.MaxLimit
	}
	return 1000
}
