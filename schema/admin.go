package schema

import (
	"fmt"
	"strings"

	"github.com/graphql-go/graphql"
)

// extraTypes are the types an extra may have, in the order the enum lists
// them; the GraphQL value is the upper-case name.
var extraTypes = []struct{ name, description string }{
	{"char", "Short text, up to 255 characters (String)."},
	{"text", "Text of any length (String)."},
	{"integer", "32-bit integer (Int)."},
	{"bigint", "64-bit integer (BigInt)."},
	{"float", "Double-precision number (Float)."},
	{"boolean", "True or false (Boolean)."},
	{"date", "Calendar date (Date)."},
	{"datetime", "Instant with time zone (DateTime)."},
	{"time", "Time of day (Time)."},
}

// brandColumns and extraColumns are what the brand and extras queries read;
// the field names are the column names.
var brandColumns = []*column{
	{name: "id", quoted: `"id"`, kind: kindID, notNull: true},
	{name: "name", quoted: `"name"`, kind: kindString, notNull: true, description: "The brand's table name."},
	{name: "display_name", quoted: `"display_name"`, kind: kindString, notNull: true},
	{name: "foundation_year", quoted: `"foundation_year"`, kind: kindInt},
	{name: "created_at", quoted: `"created_at"`, kind: kindDateTime, notNull: true},
	{name: "updated_at", quoted: `"updated_at"`, kind: kindDateTime, notNull: true},
}

var extraColumns = []*column{
	{name: "id", quoted: `"id"`, kind: kindID, notNull: true},
	{name: "brand", quoted: `"brand"`, kind: kindString, notNull: true, description: "The brand table the column belongs to."},
	{name: "name", quoted: `"name"`, kind: kindString, notNull: true, description: "The column name, which is also the field name."},
	{name: "display_name", quoted: `"display_name"`, kind: kindString, notNull: true, description: "The field's description."},
	{name: "type", quoted: `"type"`, kind: kindString, notNull: true},
	{name: "required", quoted: `"required"`, kind: kindBool, notNull: true},
	{name: "default", quoted: `"default_value"`, kind: kindString, description: "The default, as text."},
	{name: "archived", quoted: `("archived_at" IS NOT NULL)`, kind: kindBool, notNull: true,
		description: "Archived extras are hidden from the API with their data kept; restore brings them back."},
	{name: "created_at", quoted: `"created_at"`, kind: kindDateTime, notNull: true},
	{name: "updated_at", quoted: `"updated_at"`, kind: kindDateTime, notNull: true},
}

// fixedTable makes a table description for an administrative table of the
// tenant schema.
func fixedTable(name string, cols []*column) *table {
	t := &table{name: name, ident: quoteIdent(name), columns: cols, byName: map[string]*column{}}
	var sel []string
	for _, c := range cols {
		t.byName[c.name] = c
		sel = append(sel, c.quoted)
	}
	t.selectList = strings.Join(sel, ", ")
	return t
}

// objectOf returns an object type with one field per column.
func objectOf(name, description string, cols []*column, override map[string]graphql.Output) *graphql.Object {
	fields := graphql.Fields{}
	for _, c := range cols {
		var out graphql.Output = kindInfo[c.kind].scalar
		if o, ok := override[c.name]; ok {
			out = o
		}
		if c.notNull {
			out = graphql.NewNonNull(out)
		}
		fields[c.name] = &graphql.Field{Type: out, Description: c.description}
	}
	return graphql.NewObject(graphql.ObjectConfig{Name: name, Description: description, Fields: fields})
}

// addAdministrative adds brands, brand and extras.
func (b *builder) addAdministrative() {
	values := graphql.EnumValueConfigMap{}
	for _, t := range extraTypes {
		values[strings.ToUpper(t.name)] = &graphql.EnumValueConfig{Value: t.name, Description: t.description}
	}
	b.extraType = graphql.NewEnum(graphql.EnumConfig{Name: "ExtraType", Description: "The type of an extra's column.", Values: values})

	brandTbl := fixedTable("brand", brandColumns)
	extraTbl := fixedTable("extras", extraColumns)
	b.brand = objectOf("Brand", "A brand: one table of rows, with its own type, queries and mutations.", brandColumns, nil)
	b.extra = objectOf("Extra", "A field an administrator added to a brand's table.", extraColumns,
		map[string]graphql.Output{"type": b.extraType})

	b.query["brands"] = &graphql.Field{
		Type:        graphql.NewNonNull(listType("BrandList", b.brand)),
		Description: "The brands, by name.",
		Args:        listArgs(nil, nil, b.maxLimit()),
		Resolve: safe(func(p graphql.ResolveParams) (any, error) {
			return b.listPage(p, brandTbl, "TRUE", nil, `"name"`)
		}),
	}
	b.query["brand"] = &graphql.Field{
		Type:        b.brand,
		Description: "One brand by its table name, or null.",
		Args:        graphql.FieldConfigArgument{"name": &graphql.ArgumentConfig{Type: graphql.NewNonNull(graphql.String)}},
		Resolve: safe(func(p graphql.ResolveParams) (any, error) {
			st, err := stateFrom(p.Context)
			if err != nil {
				return nil, err
			}
			var q query
			fmt.Fprintf(&q.sql, `SELECT %s FROM %s WHERE "name" = %s`, brandTbl.selectList, st.qualify(brandTbl), q.param(p.Args["name"]))
			return oneRow(p.Context, st.tx, brandTbl, &q, false)
		}),
	}
	extrasArgs := listArgs(nil, nil, b.maxLimit())
	extrasArgs["brand"] = &graphql.ArgumentConfig{Type: graphql.String, Description: "Only this brand's extras."}
	extrasArgs["search"] = &graphql.ArgumentConfig{Type: graphql.String, Description: "Text found in the name or display name, ignoring case."}
	extrasArgs["includeArchived"] = &graphql.ArgumentConfig{Type: graphql.Boolean, DefaultValue: false, Description: "Also list archived extras."}
	b.query["extras"] = &graphql.Field{
		Type:        graphql.NewNonNull(listType("ExtraList", b.extra)),
		Description: "The extras, by brand and then in the order they were added.",
		Args:        extrasArgs,
		Resolve: safe(func(p graphql.ResolveParams) (any, error) {
			var cond query
			conds := []string{"TRUE"}
			if brand, ok := p.Args["brand"].(string); ok {
				conds = append(conds, `"brand" = `+cond.param(brand))
			}
			if search, ok := p.Args["search"].(string); ok && search != "" {
				pat := cond.param("%" + likeEscaper.Replace(search) + "%")
				conds = append(conds, `("name" ILIKE `+pat+` OR "display_name" ILIKE `+pat+`)`)
			}
			if all, _ := p.Args["includeArchived"].(bool); !all {
				conds = append(conds, `"archived_at" IS NULL`)
			}
			return b.listPage(p, extraTbl, strings.Join(conds, " AND "), cond.args, `"brand", "id"`)
		}),
	}
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
