package schema

import (
	"context"
	"time"

	"github.com/graphql-go/graphql"
	"github.com/graphql-go/graphql/language/ast"

	"tenantgraph/ddl"
	"tenantgraph/tenancy"
)

// addChanges adds the mutations that change the tenant's shape: extras and
// brands. Each returns only after the tenant's new schema is published, so
// the caller's next request can use what it added.
func (b *builder) addChanges() {
	if b.opts.Changer == nil {
		return
	}
	createExtra := graphql.NewInputObject(graphql.InputObjectConfig{
		Name: "CreateExtraInput",
		Fields: graphql.InputObjectConfigFieldMap{
			"brand": &graphql.InputObjectFieldConfig{Type: graphql.NewNonNull(graphql.String), Description: "The brand table to add the column to."},
			"name": &graphql.InputObjectFieldConfig{Type: graphql.NewNonNull(graphql.String),
				Description: "Column and field name: " + ddl.NameRule + "."},
			"displayName": &graphql.InputObjectFieldConfig{Type: graphql.NewNonNull(graphql.String), Description: "Shown as the field's description."},
			"type":        &graphql.InputObjectFieldConfig{Type: graphql.NewNonNull(b.extraType)},
			"required": &graphql.InputObjectFieldConfig{Type: graphql.Boolean, DefaultValue: false,
				Description: "Makes the column NOT NULL; needs a default, which existing rows get."},
			"default": &graphql.InputObjectFieldConfig{Type: graphql.String, Description: "Default value, written as text; it must parse as the type."},
		},
	})
	updateExtra := graphql.NewInputObject(graphql.InputObjectConfig{
		Name: "UpdateExtraInput",
		Fields: graphql.InputObjectConfigFieldMap{
			"name":        &graphql.InputObjectFieldConfig{Type: graphql.String, Description: "New column name; the data is kept."},
			"displayName": &graphql.InputObjectFieldConfig{Type: graphql.String},
		},
	})
	createBrand := graphql.NewInputObject(graphql.InputObjectConfig{
		Name: "CreateBrandInput",
		Fields: graphql.InputObjectConfigFieldMap{
			"name": &graphql.InputObjectFieldConfig{Type: graphql.NewNonNull(graphql.String),
				Description: "Table name, which also names the new type: " + ddl.NameRule + "."},
			"displayName":    &graphql.InputObjectFieldConfig{Type: graphql.NewNonNull(graphql.String)},
			"foundationYear": &graphql.InputObjectFieldConfig{Type: graphql.Int},
		},
	})
	id := &graphql.ArgumentConfig{Type: graphql.NewNonNull(graphql.ID)}
	confirm := &graphql.ArgumentConfig{Type: graphql.NewNonNull(graphql.String), Description: "The extra's name, repeated."}
	extra := graphql.NewNonNull(b.extra)
	ch := b.opts.Changer

	b.changes["createExtra"] = &graphql.Field{
		Type:        extra,
		Description: "Adds a field to a brand: records the extra and adds its column.",
		Args:        graphql.FieldConfigArgument{"input": {Type: graphql.NewNonNull(createExtra)}},
		Resolve: b.changeExtra(func(ctx context.Context, t *tenancy.Tenant, p graphql.ResolveParams) (*ddl.ExtraRow, int64, error) {
			in, _ := p.Args["input"].(map[string]any)
			ne := ddl.NewExtra{}
			ne.Brand, _ = in["brand"].(string)
			ne.Name, _ = in["name"].(string)
			ne.DisplayName, _ = in["displayName"].(string)
			ne.Type, _ = in["type"].(string)
			ne.Required, _ = in["required"].(bool)
			if d, ok := in["default"].(string); ok {
				ne.Default = &d
			}
			return ch.CreateExtra(ctx, t, ne)
		}),
	}
	b.changes["updateExtra"] = &graphql.Field{
		Type:        extra,
		Description: "Renames an extra's field (keeping its data) or changes its display name.",
		Args:        graphql.FieldConfigArgument{"id": id, "input": {Type: graphql.NewNonNull(updateExtra)}},
		Resolve: b.changeExtra(func(ctx context.Context, t *tenancy.Tenant, p graphql.ResolveParams) (*ddl.ExtraRow, int64, error) {
			eid, err := parseID("id", p.Args["id"])
			if err != nil {
				return nil, 0, err
			}
			in, _ := p.Args["input"].(map[string]any)
			var name, display *string
			if v, ok := in["name"].(string); ok {
				name = &v
			}
			if v, ok := in["displayName"].(string); ok {
				display = &v
			}
			return ch.UpdateExtra(ctx, t, eid, name, display)
		}),
	}
	b.changes["deleteExtra"] = &graphql.Field{
		Type:        extra,
		Description: "Archives an extra: its field leaves the API, its column and data are kept. restoreExtra undoes it; purgeExtra drops the data.",
		Args:        graphql.FieldConfigArgument{"id": id, "confirm": confirm},
		Resolve: b.changeExtra(func(ctx context.Context, t *tenancy.Tenant, p graphql.ResolveParams) (*ddl.ExtraRow, int64, error) {
			eid, err := parseID("id", p.Args["id"])
			if err != nil {
				return nil, 0, err
			}
			c, _ := p.Args["confirm"].(string)
			return ch.ArchiveExtra(ctx, t, eid, c)
		}),
	}
	b.changes["restoreExtra"] = &graphql.Field{
		Type:        extra,
		Description: "Brings an archived extra back with its data.",
		Args:        graphql.FieldConfigArgument{"id": id},
		Resolve: b.changeExtra(func(ctx context.Context, t *tenancy.Tenant, p graphql.ResolveParams) (*ddl.ExtraRow, int64, error) {
			eid, err := parseID("id", p.Args["id"])
			if err != nil {
				return nil, 0, err
			}
			return ch.RestoreExtra(ctx, t, eid)
		}),
	}
	b.changes["purgeExtra"] = &graphql.Field{
		Type:        extra,
		Description: "Drops an archived extra's column and its data for good.",
		Args:        graphql.FieldConfigArgument{"id": id, "confirm": confirm},
		Resolve: b.changeExtra(func(ctx context.Context, t *tenancy.Tenant, p graphql.ResolveParams) (*ddl.ExtraRow, int64, error) {
			eid, err := parseID("id", p.Args["id"])
			if err != nil {
				return nil, 0, err
			}
			c, _ := p.Args["confirm"].(string)
			return ch.PurgeExtra(ctx, t, eid, c)
		}),
	}
	b.changes["createBrand"] = &graphql.Field{
		Type:        graphql.NewNonNull(b.brand),
		Description: "Adds a brand: a new table, so a new type with its queries and mutations.",
		Args:        graphql.FieldConfigArgument{"input": {Type: graphql.NewNonNull(createBrand)}},
		Resolve: safe(func(p graphql.ResolveParams) (any, error) {
			st, err := stateFrom(p.Context)
			if err != nil {
				return nil, err
			}
			if err := aloneInMutation(p); err != nil {
				return nil, err
			}
			in, _ := p.Args["input"].(map[string]any)
			nb := ddl.NewBrand{}
			nb.Name, _ = in["name"].(string)
			nb.DisplayName, _ = in["displayName"].(string)
			if fy, ok := in["foundationYear"].(int); ok {
				nb.FoundationYear = &fy
			}
			row, v, err := ch.CreateBrand(p.Context, &st.built.tenant, nb)
			if err != nil {
				return nil, err
			}
			if err := st.published(p.Context, v); err != nil {
				return nil, err
			}
			var fy any
			if row.FoundationYear != nil {
				fy = *row.FoundationYear
			}
			return map[string]any{
				"id": itoa(row.ID), "name": row.Name, "display_name": row.DisplayName,
				"foundation_year": fy, "created_at": row.CreatedAt, "updated_at": row.UpdatedAt,
			}, nil
		}),
	}
	b.changes["refreshSchema"] = &graphql.Field{
		Type: graphql.NewNonNull(graphql.Int),
		Description: "Rebuilds this country's API on every replica, after a change made outside it (psql). " +
			"Returns the new schema version.",
		Resolve: safe(func(p graphql.ResolveParams) (any, error) {
			st, err := stateFrom(p.Context)
			if err != nil {
				return nil, err
			}
			// The bump commits on its own so every replica hears of it even
			// when the request's transaction is read-only.
			v, err := tenancy.BumpVersion(p.Context, ch.DB(), st.built.TenantID)
			if err != nil {
				return nil, err
			}
			if err := st.published(p.Context, v); err != nil {
				return nil, err
			}
			return int(v), nil
		}),
	}
}

// changeExtra wraps an extras change: run it, publish the new schema, and
// return the extras row as the Extra type shows it.
func (b *builder) changeExtra(fn func(context.Context, *tenancy.Tenant, graphql.ResolveParams) (*ddl.ExtraRow, int64, error)) graphql.FieldResolveFn {
	return safe(func(p graphql.ResolveParams) (any, error) {
		st, err := stateFrom(p.Context)
		if err != nil {
			return nil, err
		}
		if err := aloneInMutation(p); err != nil {
			return nil, err
		}
		row, v, err := fn(p.Context, &st.built.tenant, p)
		if err != nil {
			return nil, err
		}
		if err := st.published(p.Context, v); err != nil {
			return nil, err
		}
		var def any
		if row.DefaultValue != nil {
			def = *row.DefaultValue
		}
		return map[string]any{
			"id": itoa(row.ID), "brand": row.Brand, "name": row.Name, "display_name": row.DisplayName,
			"type": row.Type, "required": row.Required, "default": def, "archived": row.Archived,
			"created_at": row.CreatedAt, "updated_at": row.UpdatedAt,
		}, nil
	})
}

// aloneInMutation refuses a change of shape that shares its mutation with
// other fields. The change commits in a transaction of its own, so a field
// failing after it could not undo it, and a row written before it in the
// request's transaction holds the lock its ALTER TABLE waits for until the
// lock timeout, on every retry.
func aloneInMutation(p graphql.ResolveParams) error {
	if p.Info.Operation == nil {
		return nil
	}
	if n := countFields(p.Info.Operation.GetSelectionSet(), p.Info.Fragments, 0); n > 1 {
		return UserError("%s changes the country's shape and commits on its own; send it as the only field of its mutation", p.Info.FieldName)
	}
	return nil
}

// countFields counts the fields other than __typename that a selection set
// selects, fragments included.
func countFields(ss *ast.SelectionSet, fragments map[string]ast.Definition, depth int) int {
	if ss == nil || depth > 10 {
		return 0
	}
	n := 0
	for _, sel := range ss.Selections {
		switch sel := sel.(type) {
		case *ast.Field:
			if sel.Name == nil || sel.Name.Value != "__typename" {
				n++
			}
		case *ast.InlineFragment:
			n += countFields(sel.SelectionSet, fragments, depth+1)
		case *ast.FragmentSpread:
			if sel.Name != nil {
				if def := fragments[sel.Name.Value]; def != nil {
					n += countFields(def.GetSelectionSet(), fragments, depth+1)
				}
			}
		}
	}
	return n
}

// published makes the tenant's schema at version v current in the registry
// before the mutation returns, and records v for the response.
func (st *execState) published(ctx context.Context, v int64) error {
	st.version = max(st.version, v)
	reg := st.built.registry
	if reg == nil {
		return nil
	}
	t := st.built.tenant
	t.SchemaVersion = v
	// The change is committed; publishing must finish even if the client
	// goes away, or this replica would serve the old shape until its next
	// check.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := reg.Rebuild(ctx, &t)
	return err
}
