package ddl

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"tenantgraph/tenancy"
)

// Changer runs changes of shape on tenant schemas.
type Changer struct {
	db *sqlx.DB
	// LockTimeout bounds the wait for a table lock; past it the change
	// fails with PostgreSQL's lock_not_available (55P03) and changes
	// nothing. Zero means 2 seconds.
	LockTimeout time.Duration
}

// NewChanger returns a Changer over db.
func NewChanger(db *sqlx.DB, lockTimeout time.Duration) *Changer {
	return &Changer{db: db, LockTimeout: lockTimeout}
}

// DB returns the pool the changer uses.
func (c *Changer) DB() *sqlx.DB { return c.db }

// ExtraRow is an extras row as the API shows it.
type ExtraRow struct {
	ID           int64     `db:"id"`
	Brand        string    `db:"brand"`
	Name         string    `db:"name"`
	DisplayName  string    `db:"display_name"`
	Type         string    `db:"type"`
	Required     bool      `db:"required"`
	DefaultValue *string   `db:"default_value"`
	Archived     bool      `db:"archived"`
	CreatedAt    time.Time `db:"created_at"`
	UpdatedAt    time.Time `db:"updated_at"`
}

const extraReturning = `id, brand, name, display_name, type, required, default_value,
	archived_at IS NOT NULL AS archived, created_at, updated_at`

// BrandRow is a brand row as the API shows it.
type BrandRow struct {
	ID             int64     `db:"id"`
	Name           string    `db:"name"`
	DisplayName    string    `db:"display_name"`
	FoundationYear *int64    `db:"foundation_year"`
	CreatedAt      time.Time `db:"created_at"`
	UpdatedAt      time.Time `db:"updated_at"`
}

// change runs fn in one transaction under the tenant's search_path with the
// lock timeout set, then bumps the tenant's version and notifies every
// replica in the same transaction. It returns the new version.
func (c *Changer) change(ctx context.Context, t *tenancy.Tenant, fn func(tx *sqlx.Tx) error) (int64, error) {
	var version int64
	timeout := c.LockTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	err := tenancy.InTx(ctx, c.db, t.Namespace, tenancy.TxOptions{}, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT set_config('lock_timeout', $1, true)`,
			strconv.FormatInt(timeout.Milliseconds(), 10)); err != nil {
			return err
		}
		err := fn(tx)
		if errors.Is(err, errUnchanged) {
			// Nothing to change: no new version, so no replica rebuilds.
			return tx.GetContext(ctx, &version, `
				SELECT schema_version FROM administration.countries WHERE id = $1`, t.ID)
		}
		if err != nil {
			return err
		}
		v, err := tenancy.BumpVersion(ctx, tx, t.ID)
		version = v
		return err
	})
	return version, err
}

// errUnchanged, returned by a change's fn, ends the change without
// bumping the tenant's version: the request asked for what already is.
var errUnchanged = errors.New("nothing to change")

// NewExtra describes an extra to add.
type NewExtra struct {
	Brand       string
	Name        string
	DisplayName string
	Type        string
	Required    bool
	Default     *string
}

// CreateExtra records an extra and adds its column. A required extra needs
// a default that parses as its type; its column becomes NOT NULL with that
// default, which PostgreSQL applies to existing rows without a rewrite.
func (c *Changer) CreateExtra(ctx context.Context, t *tenancy.Tenant, in NewExtra) (*ExtraRow, int64, error) {
	if err := ValidateExtraName(in.Name); err != nil {
		return nil, 0, err
	}
	if err := validateDisplayName(in.DisplayName); err != nil {
		return nil, 0, err
	}
	typ, err := LookupType(in.Type)
	if err != nil {
		return nil, 0, err
	}
	var def *string
	if in.Default != nil {
		d, err := ParseDefault(typ, *in.Default)
		if err != nil {
			return nil, 0, err
		}
		def = &d
	}
	if in.Required && def == nil {
		return nil, 0, fmt.Errorf("%w: a required extra needs a default, given to the rows that exist", ErrInvalid)
	}

	var row ExtraRow
	v, err := c.change(ctx, t, func(tx *sqlx.Tx) error {
		if err := brandExists(ctx, tx, in.Brand); err != nil {
			return err
		}
		err := tx.GetContext(ctx, &row, `
			INSERT INTO extras (brand, name, display_name, type, required, default_value)
			VALUES ($1, $2, $3, $4, $5, $6)
			RETURNING `+extraReturning, in.Brand, in.Name, in.DisplayName, typ.Name, in.Required, def)
		if isUnique(err) {
			return fmt.Errorf("%w: brand %q already has an extra named %q (archived extras keep their names)", ErrConflict, in.Brand, in.Name)
		}
		if err != nil {
			return err
		}
		ddl := fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", pq.QuoteIdentifier(in.Brand), pq.QuoteIdentifier(in.Name), typ.SQL)
		if def != nil {
			ddl += " DEFAULT " + pq.QuoteLiteral(*def) + "::" + typ.SQL
		}
		if in.Required {
			ddl += " NOT NULL"
		}
		_, err = tx.ExecContext(ctx, ddl)
		if isDuplicateColumn(err) {
			return fmt.Errorf("%w: table %q already has a column named %q", ErrConflict, in.Brand, in.Name)
		}
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return &row, v, nil
}

// UpdateExtra renames an extra's column, keeping its data, and/or changes
// its display name. Archived extras must be restored first.
func (c *Changer) UpdateExtra(ctx context.Context, t *tenancy.Tenant, id int64, name, displayName *string) (*ExtraRow, int64, error) {
	if name != nil {
		if err := ValidateExtraName(*name); err != nil {
			return nil, 0, err
		}
	}
	if displayName != nil {
		if err := validateDisplayName(*displayName); err != nil {
			return nil, 0, err
		}
	}
	if name == nil && displayName == nil {
		return nil, 0, fmt.Errorf("%w: give a new name or displayName", ErrInvalid)
	}
	var row ExtraRow
	v, err := c.change(ctx, t, func(tx *sqlx.Tx) error {
		old, err := lockExtra(ctx, tx, id)
		if err != nil {
			return err
		}
		if old.Archived {
			return fmt.Errorf("%w: extra %q is archived; restore it before changing it", ErrInvalid, old.Name)
		}
		newName := old.Name
		if name != nil {
			newName = *name
		}
		newDisplay := old.DisplayName
		if displayName != nil {
			newDisplay = *displayName
		}
		if newName == old.Name && newDisplay == old.DisplayName {
			row = *old
			return errUnchanged
		}
		err = tx.GetContext(ctx, &row, `
			UPDATE extras SET name = $2, display_name = $3, updated_at = now()
			WHERE id = $1 RETURNING `+extraReturning, id, newName, newDisplay)
		if isUnique(err) {
			return fmt.Errorf("%w: brand %q already has an extra named %q", ErrConflict, old.Brand, newName)
		}
		if err != nil {
			return err
		}
		if newName != old.Name {
			_, err = tx.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s RENAME COLUMN %s TO %s",
				pq.QuoteIdentifier(old.Brand), pq.QuoteIdentifier(old.Name), pq.QuoteIdentifier(newName)))
			if isDuplicateColumn(err) {
				return fmt.Errorf("%w: table %q already has a column named %q", ErrConflict, old.Brand, newName)
			}
		}
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return &row, v, nil
}

// ArchiveExtra hides an extra from the API and keeps its column and data.
// confirm must equal the extra's name.
func (c *Changer) ArchiveExtra(ctx context.Context, t *tenancy.Tenant, id int64, confirm string) (*ExtraRow, int64, error) {
	return c.setArchived(ctx, t, id, &confirm, true)
}

// RestoreExtra brings an archived extra back with its data.
func (c *Changer) RestoreExtra(ctx context.Context, t *tenancy.Tenant, id int64) (*ExtraRow, int64, error) {
	return c.setArchived(ctx, t, id, nil, false)
}

func (c *Changer) setArchived(ctx context.Context, t *tenancy.Tenant, id int64, confirm *string, archive bool) (*ExtraRow, int64, error) {
	var row ExtraRow
	v, err := c.change(ctx, t, func(tx *sqlx.Tx) error {
		old, err := lockExtra(ctx, tx, id)
		if err != nil {
			return err
		}
		if confirm != nil && *confirm != old.Name {
			return fmt.Errorf("%w: confirm must repeat the extra's name %q", ErrInvalid, old.Name)
		}
		if old.Archived == archive {
			state := "active"
			if archive {
				state = "archived"
			}
			return fmt.Errorf("%w: extra %q is already %s", ErrInvalid, old.Name, state)
		}
		return tx.GetContext(ctx, &row, `
			UPDATE extras
			SET archived_at = CASE WHEN $2 THEN now() END, updated_at = now()
			WHERE id = $1 RETURNING `+extraReturning, id, archive)
	})
	if err != nil {
		return nil, 0, err
	}
	return &row, v, nil
}

// PurgeExtra drops an archived extra's column and its data for good.
// confirm must equal the extra's name.
func (c *Changer) PurgeExtra(ctx context.Context, t *tenancy.Tenant, id int64, confirm string) (*ExtraRow, int64, error) {
	var row ExtraRow
	v, err := c.change(ctx, t, func(tx *sqlx.Tx) error {
		old, err := lockExtra(ctx, tx, id)
		if err != nil {
			return err
		}
		if confirm != old.Name {
			return fmt.Errorf("%w: purging drops the column's data for good; confirm must repeat the extra's name %q", ErrInvalid, old.Name)
		}
		if !old.Archived {
			return fmt.Errorf("%w: extra %q is not archived; delete (archive) it before purging it", ErrInvalid, old.Name)
		}
		if err := tx.GetContext(ctx, &row, `DELETE FROM extras WHERE id = $1 RETURNING `+extraReturning, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s",
			pq.QuoteIdentifier(old.Brand), pq.QuoteIdentifier(old.Name)))
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return &row, v, nil
}

// NewBrand describes a brand to create.
type NewBrand struct {
	Name           string
	DisplayName    string
	FoundationYear *int
}

// CreateBrand records a brand and creates its table with the base columns.
func (c *Changer) CreateBrand(ctx context.Context, t *tenancy.Tenant, in NewBrand) (*BrandRow, int64, error) {
	if err := ValidateName("brand name", in.Name); err != nil {
		return nil, 0, err
	}
	if err := validateDisplayName(in.DisplayName); err != nil {
		return nil, 0, err
	}
	var row BrandRow
	v, err := c.change(ctx, t, func(tx *sqlx.Tx) error {
		var existing []string
		if err := tx.SelectContext(ctx, &existing, `SELECT name FROM brand`); err != nil {
			return err
		}
		if err := ValidateBrandName(in.Name, existing); err != nil {
			return err
		}
		var fy any
		if in.FoundationYear != nil {
			fy = *in.FoundationYear
		}
		if err := tx.GetContext(ctx, &row, `
			INSERT INTO brand (name, display_name, foundation_year) VALUES ($1, $2, $3)
			RETURNING id, name, display_name, foundation_year, created_at, updated_at`,
			in.Name, in.DisplayName, fy); err != nil {
			if isUnique(err) {
				return fmt.Errorf("%w: brand %q already exists", ErrConflict, in.Name)
			}
			return err
		}
		_, err := tx.ExecContext(ctx, fmt.Sprintf(`
			CREATE TABLE %s (
			    id         bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
			    user_id    bigint,
			    model      text NOT NULL,
			    created_at timestamptz NOT NULL DEFAULT now(),
			    updated_at timestamptz NOT NULL DEFAULT now()
			)`, pq.QuoteIdentifier(in.Name)))
		var pqErr *pq.Error
		if errors.As(err, &pqErr) && pqErr.Code == "42P07" {
			return fmt.Errorf("%w: the country already has a table named %q", ErrConflict, in.Name)
		}
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return &row, v, nil
}

// lockExtra reads an extras row and locks it for the rest of the change.
func lockExtra(ctx context.Context, tx *sqlx.Tx, id int64) (*ExtraRow, error) {
	var row ExtraRow
	err := tx.GetContext(ctx, &row, `SELECT `+extraReturning+` FROM extras WHERE id = $1 FOR UPDATE`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no extra has id %d", ErrNotFound, id)
	}
	return &row, err
}

func brandExists(ctx context.Context, tx *sqlx.Tx, brand string) error {
	var ok bool
	if err := tx.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM brand WHERE name = $1)`, brand); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: no brand is named %q", ErrNotFound, brand)
	}
	return nil
}

func isUnique(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "23505"
}

func isDuplicateColumn(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "42701"
}
