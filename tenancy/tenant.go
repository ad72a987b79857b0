// Package tenancy owns tenants (countries): their names, their life cycle,
// finding them, running work under one tenant's search_path, and reading a
// tenant's catalog. It knows nothing about GraphQL.
package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"tenantgraph/migrations"
)

// Sentinel errors callers branch on.
var (
	ErrNotFound = errors.New("tenant not found")
	ErrInvalid  = errors.New("invalid tenant")
	ErrConflict = errors.New("tenant already exists")
)

// Tenant is one country and the PostgreSQL schema that holds its data.
type Tenant struct {
	ID           int64  `db:"id" json:"id"`
	Name         string `db:"name" json:"name"`
	OfficialName string `db:"official_name" json:"officialName"`
	Alias        string `db:"alias" json:"alias"`
	AreaCode     string `db:"area_code" json:"areaCode"`
	// Namespace is the tenant's PostgreSQL schema, e.g. mexico_mx_schema.
	Namespace string `db:"schema_name" json:"schemaName"`
	// SchemaVersion moves on every change of the tenant's shape.
	SchemaVersion int64 `db:"schema_version" json:"schemaVersion"`
}

// NewTenant describes a country to create.
type NewTenant struct {
	Name         string
	OfficialName string
	// Alias is 2 to 10 letters or digits, unique regardless of case.
	Alias string
	// AreaCode is the telephone area code, 1 to 4 digits; empty means none.
	AreaCode string
}

// Store reads and changes tenants in the administration schema.
type Store struct {
	db  *sqlx.DB
	dsn string
	// TenantFS holds the migrations a new tenant gets; nil means
	// migrations.TenantFS. Tests replace it to force failures.
	TenantFS fs.FS
	// Logger receives life-cycle events; nil discards them.
	Logger *slog.Logger
}

// NewStore returns a Store over db. dsn is the connection string db was
// opened with; migrations of a new tenant run on a connection of their own.
func NewStore(db *sqlx.DB, dsn string) *Store {
	return &Store{db: db, dsn: dsn}
}

// DB returns the pool the store uses.
func (s *Store) DB() *sqlx.DB { return s.db }

const tenantColumns = `id, name, official_name, alias, area_code, schema_name, schema_version`

// List returns every ready tenant ordered by alias.
func (s *Store) List(ctx context.Context) ([]Tenant, error) {
	var ts []Tenant
	err := s.db.SelectContext(ctx, &ts, `
		SELECT `+tenantColumns+`
		FROM administration.countries
		WHERE ready
		ORDER BY lower(alias)`)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return ts, nil
}

// ByAlias returns the ready tenant with alias, in any letter case.
func (s *Store) ByAlias(ctx context.Context, alias string) (*Tenant, error) {
	if ValidateAlias(alias) != nil {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, alias)
	}
	var t Tenant
	err := s.db.GetContext(ctx, &t, `
		SELECT `+tenantColumns+`
		FROM administration.countries
		WHERE lower(alias) = lower($1) AND ready`, alias)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, alias)
	}
	if err != nil {
		return nil, fmt.Errorf("find tenant %q: %w", alias, err)
	}
	return &t, nil
}

// Versions returns the schema version of every ready tenant by id, in one
// query, so a replica can find the tenants whose built schema is stale.
func (s *Store) Versions(ctx context.Context) (map[int64]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, schema_version FROM administration.countries WHERE ready`)
	if err != nil {
		return nil, fmt.Errorf("tenant versions: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]int64)
	for rows.Next() {
		var id, v int64
		if err := rows.Scan(&id, &v); err != nil {
			return nil, err
		}
		out[id] = v
	}
	return out, rows.Err()
}

// Create provisions a country: its row, its schema, the tenant migrations
// and their seed rows. It is all or nothing: when any step fails the row and
// the schema are removed before the error is returned. Until the last step
// the row is not ready, so no request and no `migrate` run sees a half-made
// tenant. Invalid fields are ErrInvalid and a taken alias is ErrConflict,
// both before anything changes.
func (s *Store) Create(ctx context.Context, in NewTenant) (*Tenant, error) {
	in.Name = strings.TrimSpace(in.Name)
	in.OfficialName = strings.TrimSpace(in.OfficialName)
	in.AreaCode = strings.TrimSpace(in.AreaCode)
	if in.OfficialName == "" {
		in.OfficialName = in.Name
	}
	if err := ValidateLabel("name", in.Name); err != nil {
		return nil, err
	}
	if err := ValidateLabel("official name", in.OfficialName); err != nil {
		return nil, err
	}
	ns, err := Namespace(in.Name, in.Alias)
	if err != nil {
		return nil, err
	}
	if err := ValidateAreaCode(in.AreaCode); err != nil {
		return nil, err
	}

	// The alias is part of the schema name, so a taken alias usually makes
	// a taken schema name too; checking it first names the real cause.
	if err := s.aliasFree(ctx, in.Alias); err != nil {
		return nil, err
	}
	t, err := s.insert(ctx, in, ns)
	if err != nil {
		return nil, err
	}

	fsys := s.TenantFS
	if fsys == nil {
		fsys = migrations.TenantFS
	}
	_, version, err := migrations.MigrateTenant(ctx, s.dsn, ns, fsys)
	if err == nil {
		_, err = s.db.ExecContext(ctx, `
			UPDATE administration.countries
			SET ready = true, migration_version = $2, updated_at = now()
			WHERE id = $1`, t.ID, version)
	}
	if err != nil {
		// The caller's context may be what failed; cleaning up must not.
		if cerr := s.remove(context.WithoutCancel(ctx), t.ID, ns); cerr != nil {
			return nil, errors.Join(fmt.Errorf("provision %s: %w", ns, err), cerr)
		}
		return nil, fmt.Errorf("provision %s: %w", ns, err)
	}
	s.log().Info("tenant created", "alias", t.Alias, "schema", ns)
	return t, nil
}

// insert adds the country row, not yet ready, and creates its schema in one
// transaction.
func (s *Store) insert(ctx context.Context, in NewTenant, ns string) (*Tenant, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	var t Tenant
	err = tx.GetContext(ctx, &t, `
		INSERT INTO administration.countries (name, official_name, alias, area_code, schema_name)
		VALUES ($1, $2, upper($3), $4, $5)
		RETURNING `+tenantColumns, in.Name, in.OfficialName, in.Alias, in.AreaCode, ns)
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "23505" {
		// Another Create took the alias since Create checked it.
		if aerr := s.aliasFree(ctx, in.Alias); errors.Is(aerr, ErrConflict) {
			return nil, aerr
		}
		if strings.Contains(pqErr.Constraint, "alias") {
			return nil, fmt.Errorf("%w: alias %q is already used by another country", ErrConflict, in.Alias)
		}
		return nil, fmt.Errorf("%w: schema %q belongs to another country", ErrConflict, ns)
	}
	if err != nil {
		return nil, fmt.Errorf("insert country: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE SCHEMA `+pq.QuoteIdentifier(ns)); err != nil {
		if errors.As(err, &pqErr) && pqErr.Code == "42P06" {
			return nil, fmt.Errorf("%w: schema %q already exists in the database", ErrConflict, ns)
		}
		return nil, fmt.Errorf("create schema %s: %w", ns, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return &t, nil
}

// aliasFree returns an ErrConflict that names the country holding alias,
// compared without regard to case, or nil when no country holds it. A
// country still being provisioned holds its alias too.
func (s *Store) aliasFree(ctx context.Context, alias string) error {
	var owner struct {
		Name  string `db:"name"`
		Alias string `db:"alias"`
	}
	err := s.db.GetContext(ctx, &owner, `
		SELECT name, alias FROM administration.countries WHERE lower(alias) = lower($1)`, alias)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check alias %q: %w", alias, err)
	}
	if owner.Alias != alias {
		return fmt.Errorf("%w: alias %q is already used by country %q, as %q (aliases are compared without regard to case)",
			ErrConflict, alias, owner.Name, owner.Alias)
	}
	return fmt.Errorf("%w: alias %q is already used by country %q", ErrConflict, alias, owner.Name)
}

// Drop removes a country and its schema with all its data. confirm must
// equal the alias, in any case: the caller has to say it twice.
func (s *Store) Drop(ctx context.Context, alias, confirm string) error {
	if !strings.EqualFold(alias, confirm) {
		return fmt.Errorf("%w: dropping a country destroys its data; confirm must repeat its alias %q", ErrInvalid, alias)
	}
	var id int64
	var ns string
	err := s.db.QueryRowContext(ctx, `
		SELECT id, schema_name FROM administration.countries WHERE lower(alias) = lower($1)`, alias).Scan(&id, &ns)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %q", ErrNotFound, alias)
	}
	if err != nil {
		return fmt.Errorf("find tenant %q: %w", alias, err)
	}
	if err := s.remove(ctx, id, ns); err != nil {
		return err
	}
	s.log().Info("tenant dropped", "alias", alias, "schema", ns)
	return nil
}

// remove deletes the row and the schema in one transaction.
func (s *Store) remove(ctx context.Context, id int64, ns string) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM administration.countries WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete country %s: %w", ns, err)
	}
	if _, err := tx.ExecContext(ctx, `DROP SCHEMA IF EXISTS `+pq.QuoteIdentifier(ns)+` CASCADE`); err != nil {
		return fmt.Errorf("drop schema %s: %w", ns, err)
	}
	// Replicas forget the tenant's directory entry and schema.
	if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, ChangeChannel, fmt.Sprintf("%d:%s", id, DroppedVersion)); err != nil {
		return fmt.Errorf("announce drop of %s: %w", ns, err)
	}
	return tx.Commit()
}

// ChangeChannel is the LISTEN/NOTIFY channel on which a tenant's new
// schema version is announced, as "<tenant id>:<version>", or
// "<tenant id>:dropped" when the tenant is gone.
const ChangeChannel = "tenantgraph_schema_changed"

// DroppedVersion stands for the version in the notification of a dropped
// tenant.
const DroppedVersion = "dropped"

// bumpSQL moves one tenant's schema version and notifies every replica in the
// same statement, so both commit with the caller's transaction or neither.
const bumpSQL = `
	WITH bumped AS (
		UPDATE administration.countries
		SET schema_version = schema_version + 1, updated_at = now()
		WHERE id = $1 AND ready
		RETURNING id, schema_version
	)
	SELECT schema_version, pg_notify('` + ChangeChannel + `', id || ':' || schema_version)
	FROM bumped`

// BumpVersion moves the tenant's schema version and tells every replica,
// inside the caller's transaction (or on the pool), so a change of shape and
// its announcement commit together. It returns the new version.
func BumpVersion(ctx context.Context, q sqlx.QueryerContext, tenantID int64) (int64, error) {
	var v int64
	var ignored string
	err := q.QueryRowxContext(ctx, bumpSQL, tenantID).Scan(&v, &ignored)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: id %d", ErrNotFound, tenantID)
	}
	if err != nil {
		return 0, fmt.Errorf("bump schema version: %w", err)
	}
	return v, nil
}

// Refresh bumps the version of the tenant with alias so every replica
// rebuilds its GraphQL schema; used after changes made outside the API.
func (s *Store) Refresh(ctx context.Context, alias string) (int64, error) {
	t, err := s.ByAlias(ctx, alias)
	if err != nil {
		return 0, err
	}
	return BumpVersion(ctx, s.db, t.ID)
}

func (s *Store) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}
