package schema

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/graphql-go/graphql"
	"github.com/graphql-go/graphql/language/ast"

	"tenantgraph/identity"
)

// Guard decides whether the caller in ctx holds role need. It returns nil,
// or an *Error with code UNAUTHENTICATED or FORBIDDEN.
type Guard func(ctx context.Context, need identity.Role) error

// tenantGuard is the guard of a tenant's API: admins everywhere, editors
// and viewers in their own country. The country is the one the request
// runs for, taken from the request, since one schema may serve several
// tenants of the same shape.
func tenantGuard(ctx context.Context, need identity.Role) error {
	p := identity.FromContext(ctx)
	if p == nil {
		return &Error{Code: CodeUnauthenticated, Message: "sign in or send an API token"}
	}
	st, _ := ctx.Value(stateKey{}).(*execState)
	if st == nil || !p.Can(st.built.TenantID, need) {
		msg := fmt.Sprintf("this needs the %s role in this country, or the admin role", need)
		if need == identity.RoleAdmin {
			msg = "this needs the admin role"
		}
		return &Error{Code: CodeForbidden, Message: msg}
	}
	return nil
}

// Access declares and enforces @hasRole in one schema. graphql-go runs no
// directive on type-system definitions, so enforcement wraps each guarded
// field's resolver when the schema is built: a forbidden field is refused
// before its resolver runs. Access also remembers where the directive
// stands, for the printed SDL.
type Access struct {
	guard     Guard
	roleEnum  *graphql.Enum
	directive *graphql.Directive
	applied   map[string]identity.Role // "Type.field" -> role
}

// NewAccess makes the Role enum and the @hasRole directive of one schema;
// they are made fresh for each schema, like every other type.
func NewAccess(guard Guard, adminAPI bool) *Access {
	desc := "The role a field needs. admin is global; editor and viewer hold for one country."
	if adminAPI {
		desc += " On the admin API, VIEWER means any signed-in user."
	}
	role := graphql.NewEnum(graphql.EnumConfig{
		Name:        "Role",
		Description: desc,
		Values: graphql.EnumValueConfigMap{
			"ADMIN":  {Value: string(identity.RoleAdmin), Description: "Changes extras, brands, countries, users and memberships."},
			"EDITOR": {Value: string(identity.RoleEditor), Description: "Writes a country's rows."},
			"VIEWER": {Value: string(identity.RoleViewer), Description: "Reads a country's rows."},
		},
	})
	dir := graphql.NewDirective(graphql.DirectiveConfig{
		Name:        "hasRole",
		Description: "The field needs the caller to hold this role, or a stronger one; it is checked before the field runs.",
		Locations:   []string{graphql.DirectiveLocationFieldDefinition},
		Args: graphql.FieldConfigArgument{
			"role": &graphql.ArgumentConfig{Type: graphql.NewNonNull(role)},
		},
	})
	return &Access{guard: guard, roleEnum: role, directive: dir, applied: map[string]identity.Role{}}
}

// Require marks field typeName.name of fields with @hasRole(role) and
// wraps its resolver with the check.
func (a *Access) Require(typeName string, fields graphql.Fields, role identity.Role) {
	for name, f := range fields {
		a.applied[typeName+"."+name] = role
		next := f.Resolve
		if next == nil {
			next = graphql.DefaultResolveFn
		}
		f.Resolve = func(p graphql.ResolveParams) (any, error) {
			if err := a.guard(p.Context, role); err != nil {
				return nil, err
			}
			return next(p)
		}
	}
}

// SchemaConfig completes cfg with the built-in directives plus @hasRole
// (setting Directives replaces the built-ins, so they are listed again)
// and the Role enum.
func (a *Access) SchemaConfig(cfg graphql.SchemaConfig) graphql.SchemaConfig {
	cfg.Directives = []*graphql.Directive{
		graphql.IncludeDirective, graphql.SkipDirective, graphql.DeprecatedDirective, a.directive,
	}
	cfg.Types = append(cfg.Types, a.roleEnum)
	return cfg
}

// appliedSDL is the SDL of the directive on typeName.field, or "".
func (a *Access) appliedSDL(typeName, field string) string {
	if a == nil {
		return ""
	}
	role, ok := a.applied[typeName+"."+field]
	if !ok {
		return ""
	}
	return " @hasRole(role: " + strings.ToUpper(string(role)) + ")"
}

// checkIntrospection refuses __schema and __type to callers without the
// viewer role: introspection shows a country's shape.
func (a *Access) checkIntrospection(ctx context.Context, op *ast.OperationDefinition) error {
	if a == nil || !introspects(op.SelectionSet) {
		return nil
	}
	return a.guard(ctx, identity.RoleViewer)
}

// introspects reports whether a root selection set may select __schema or
// __type: directly or inside an inline fragment. A named fragment's
// definition is not at hand here, so a spread counts as introspection; at
// the root every other field needs the viewer role anyway.
func introspects(set *ast.SelectionSet) bool {
	if set == nil {
		return false
	}
	for _, sel := range set.Selections {
		switch sel := sel.(type) {
		case *ast.Field:
			if sel.Name != nil && (sel.Name.Value == "__schema" || sel.Name.Value == "__type") {
				return true
			}
		case *ast.InlineFragment:
			if introspects(sel.SelectionSet) {
				return true
			}
		case *ast.FragmentSpread:
			return true
		}
	}
	return false
}

// Roles lists, sorted, every "Type.field" that carries @hasRole and its
// role; tests build their role matrix from it.
func (a *Access) Roles() []FieldRole {
	out := make([]FieldRole, 0, len(a.applied))
	for k, r := range a.applied {
		typ, field, _ := strings.Cut(k, ".")
		out = append(out, FieldRole{Type: typ, Field: field, Role: r})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Type+"."+out[i].Field < out[j].Type+"."+out[j].Field
	})
	return out
}

// FieldRole is one field that needs a role.
type FieldRole struct {
	Type, Field string
	Role        identity.Role
}

// RoleEnum returns the schema's Role enum, for arguments that take a role.
func (a *Access) RoleEnum() *graphql.Enum { return a.roleEnum }

// Roles lists every field of the schema that carries @hasRole, with its
// role, sorted; a role matrix built from it covers new fields by itself.
func (b *Built) Roles() []FieldRole { return b.access.Roles() }
