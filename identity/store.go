package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"golang.org/x/crypto/bcrypt"
)

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 10

// Store reads and changes users, memberships and tokens in the
// administration schema.
type Store struct {
	db *sqlx.DB
	// BcryptCost is the cost of new password hashes; zero means
	// bcrypt.DefaultCost. Tests lower it.
	BcryptCost int

	cache *principalCache // nil until EnableCache

	// The lookups every authenticated request makes, prepared.
	tokenLookup, principalLookup *prepared
}

// NewStore returns a Store over db.
func NewStore(db *sqlx.DB) *Store {
	return &Store{
		db:              db,
		tokenLookup:     &prepared{db: db, text: tokenLookupSQL},
		principalLookup: &prepared{db: db, text: principalLookupSQL},
	}
}

// User is a row of administration.users, without its password hash.
type User struct {
	ID        int64     `db:"id" json:"id"`
	Email     string    `db:"email" json:"email"`
	Name      string    `db:"name" json:"name"`
	Active    bool      `db:"active" json:"active"`
	Admin     bool      `db:"admin" json:"admin"`
	CreatedAt time.Time `db:"created_at" json:"createdAt"`
}

const userColumns = `u.id, u.email, u.name, u.active, u.created_at,
	EXISTS (SELECT 1 FROM administration.memberships m WHERE m.user_id = u.id AND m.role = 'admin') AS admin`

// NormalizeEmail trims and lower-cases an email and checks its form.
func NormalizeEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email {
		return "", fmt.Errorf("%w: %q is not an email address", ErrInvalid, email)
	}
	return email, nil
}

// GeneratePassword returns a random password of 20 URL-safe characters.
func GeneratePassword() string {
	var b [15]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// CreateUser adds a user. password may be empty for users who only sign
// in through OpenID Connect; otherwise it needs MinPasswordLength
// characters. admin grants the global admin role.
func (s *Store) CreateUser(ctx context.Context, email, name, password string, admin bool) (*User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, fmt.Errorf("%w: name must not be empty", ErrInvalid)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return nil, fmt.Errorf("%w: name %q must not contain control characters such as newlines or tabs", ErrInvalid, name)
	}
	var hash *string
	if password != "" {
		if len([]rune(password)) < MinPasswordLength {
			return nil, fmt.Errorf("%w: password must have at least %d characters", ErrInvalid, MinPasswordLength)
		}
		if len(password) > 72 {
			return nil, fmt.Errorf("%w: password must be at most 72 bytes", ErrInvalid)
		}
		cost := s.BcryptCost
		if cost == 0 {
			cost = bcrypt.DefaultCost
		}
		h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
		if err != nil {
			return nil, fmt.Errorf("hash password: %w", err)
		}
		hs := string(h)
		hash = &hs
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var id int64
	err = tx.GetContext(ctx, &id, `
		INSERT INTO administration.users (email, name, password_hash) VALUES ($1, $2, $3) RETURNING id`,
		email, name, hash)
	if isUnique(err) {
		return nil, fmt.Errorf("%w: a user with email %q exists", ErrConflict, email)
	}
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	if admin {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO administration.memberships (user_id, role) VALUES ($1, 'admin')`, id); err != nil {
			return nil, fmt.Errorf("grant admin: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return s.User(ctx, id)
}

// User returns the user with id.
func (s *Store) User(ctx context.Context, id int64) (*User, error) {
	var u User
	err := s.db.GetContext(ctx, &u, `SELECT `+userColumns+` FROM administration.users u WHERE u.id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no user has id %d", ErrNotFound, id)
	}
	return &u, err
}

// UserByEmail returns the user with email, in any letter case.
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
	var u User
	err := s.db.GetContext(ctx, &u, `SELECT `+userColumns+` FROM administration.users u WHERE lower(u.email) = lower($1)`, email)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no user has email %q", ErrNotFound, email)
	}
	return &u, err
}

// Users lists every user by email.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	var us []User
	err := s.db.SelectContext(ctx, &us, `SELECT `+userColumns+` FROM administration.users u ORDER BY u.email`)
	return us, err
}

// dummyHash is compared against when the email is unknown, so a wrong
// email costs as much time as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("tenantgraph-dummy-password"), bcrypt.DefaultCost)

// Authenticate checks an email and password and returns the user.
func (s *Store) Authenticate(ctx context.Context, email, password string) (*User, error) {
	var row struct {
		ID     int64          `db:"id"`
		Hash   sql.NullString `db:"password_hash"`
		Active bool           `db:"active"`
	}
	err := s.db.GetContext(ctx, &row, `
		SELECT id, password_hash, active FROM administration.users WHERE lower(email) = lower($1)`,
		strings.TrimSpace(email))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !row.Hash.Valid) {
		bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return nil, ErrBadPassword
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(row.Hash.String), []byte(password)) != nil {
		return nil, ErrBadPassword
	}
	if !row.Active {
		return nil, ErrInactive
	}
	return s.User(ctx, row.ID)
}

// SignInOIDC returns the user with a verified email from an OpenID
// Connect provider, creating them on first sign-in: without any role,
// unless makeAdmin.
func (s *Store) SignInOIDC(ctx context.Context, email, name string, makeAdmin bool) (*User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	u, err := s.UserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		// The provider's display name may hold anything; a line break
		// would be refused, so control characters become spaces.
		name = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, name)
		if strings.TrimSpace(name) == "" {
			name = email
		}
		u, err = s.CreateUser(ctx, email, name, "", makeAdmin)
		if errors.Is(err, ErrConflict) {
			u, err = s.UserByEmail(ctx, email)
		}
	}
	if err != nil {
		return nil, err
	}
	if !u.Active {
		return nil, ErrInactive
	}
	return u, nil
}

const principalLookupSQL = `
	SELECT u.email, u.name, u.active, m.country_id, m.role
	FROM administration.users u
	LEFT JOIN administration.memberships m ON m.user_id = u.id
	WHERE u.id = $1`

// Principal loads an active user and every role they hold, in one query.
func (s *Store) Principal(ctx context.Context, userID int64) (*Principal, error) {
	if p := s.cache.user(userID); p != nil {
		return p, nil
	}
	rows, err := s.principalLookup.query(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("load principal: %w", err)
	}
	defer rows.Close()
	p := &Principal{UserID: userID, Countries: map[int64]Role{}}
	found, active := false, false
	for rows.Next() {
		var country sql.NullInt64
		var role sql.NullString
		if err := rows.Scan(&p.Email, &p.Name, &active, &country, &role); err != nil {
			return nil, err
		}
		found = true
		switch {
		case role.String == string(RoleAdmin):
			p.Admin = true
		case country.Valid:
			p.Countries[country.Int64] = Role(role.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: no user has id %d", ErrNotFound, userID)
	}
	if !active {
		return nil, ErrInactive
	}
	s.cache.putUser(userID, p)
	return p, nil
}

// SetActive activates or deactivates a user. A deactivated user's sessions
// and tokens stop working at their next request. Deactivating the last
// active admin is refused with ErrLastAdmin.
func (s *Store) SetActive(ctx context.Context, userID int64, active bool) (*User, error) {
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if !active {
			if err := keepAnAdmin(ctx, tx, userID); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `
			UPDATE administration.users SET active = $2, updated_at = now() WHERE id = $1`, userID, active)
		if err != nil {
			return fmt.Errorf("set active: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: no user has id %d", ErrNotFound, userID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.changed(ctx, s.db); err != nil {
		return nil, err
	}
	return s.User(ctx, userID)
}

// lockAdminRole takes the admin role's row, which every change that may
// remove an admin locks first. Without it, two admins removing each other
// at once would each see the other one stay. FOR NO KEY UPDATE leaves
// alone the FOR KEY SHARE lock a new membership's foreign key takes, so
// grants do not wait for it.
const lockAdminRole = `
	SELECT name FROM administration.roles WHERE name = 'admin' FOR NO KEY UPDATE`

// lastAdmin returns the email of user $1 when they are the only active
// user with the admin role, and no row otherwise.
const lastAdmin = `
	SELECT u.email FROM administration.users u
	WHERE u.id = $1 AND u.active
	  AND EXISTS (SELECT 1 FROM administration.memberships m
	              WHERE m.user_id = u.id AND m.role = 'admin')
	  AND NOT EXISTS (SELECT 1 FROM administration.memberships m
	                  JOIN administration.users o ON o.id = m.user_id
	                  WHERE m.role = 'admin' AND o.active AND o.id <> u.id)`

// keepAnAdmin refuses with ErrLastAdmin, before tx takes the admin role
// away from user userID or deactivates them, when they are the last
// active admin. The lock it takes is held until tx ends, so the check
// stays true until the change commits.
func keepAnAdmin(ctx context.Context, tx *sqlx.Tx, userID int64) error {
	if _, err := tx.ExecContext(ctx, lockAdminRole); err != nil {
		return fmt.Errorf("lock admin role: %w", err)
	}
	// A new statement: under READ COMMITTED it sees what a change that
	// held the lock before us committed.
	var email string
	err := tx.GetContext(ctx, &email, lastAdmin, userID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	return fmt.Errorf("%w: %s is the only active admin; make another user admin first, "+
		"or nobody could manage countries and users any more", ErrLastAdmin, email)
}

// inTx runs fn in a transaction, committed when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Membership is one role a user holds.
type Membership struct {
	ID           int64  `db:"id"`
	UserID       int64  `db:"user_id"`
	Email        string `db:"email"`
	CountryAlias string `db:"alias"`
	Role         Role   `db:"role"`
}

// Grant gives the user with email a role in the country with alias:
// editor or viewer, replacing any role they hold there. Role admin is
// global and takes no alias.
func (s *Store) Grant(ctx context.Context, email, alias string, role Role) (*Membership, error) {
	if !role.Valid() {
		return nil, fmt.Errorf("%w: role %q is not admin, editor or viewer", ErrInvalid, role)
	}
	if role == RoleAdmin && alias != "" {
		return nil, fmt.Errorf("%w: admin is a global role; grant it without a country", ErrInvalid)
	}
	if role != RoleAdmin && alias == "" {
		return nil, fmt.Errorf("%w: role %s needs a country alias", ErrInvalid, role)
	}
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	var countryID sql.NullInt64
	if alias != "" {
		if countryID, err = countryByAlias(ctx, s.db, alias); err != nil {
			return nil, err
		}
	}
	_, err = s.db.ExecContext(ctx, `
		INSERT INTO administration.memberships (user_id, country_id, role) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, coalesce(country_id, 0)) DO UPDATE SET role = EXCLUDED.role`,
		u.ID, countryID, string(role))
	if err != nil {
		return nil, fmt.Errorf("grant: %w", err)
	}
	if err := s.changed(ctx, s.db); err != nil {
		return nil, err
	}
	return s.membership(ctx, u.ID, countryID)
}

// Revoke removes the role the user with email holds in the country with
// alias ("" for the global admin role). Revoking the admin role of the
// last active admin is refused with ErrLastAdmin.
func (s *Store) Revoke(ctx context.Context, email, alias string) error {
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		var country sql.NullInt64
		if alias != "" {
			c, err := countryByAlias(ctx, tx, alias)
			if err != nil {
				return err
			}
			country = c
		} else if err := keepAnAdmin(ctx, tx, u.ID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `
			DELETE FROM administration.memberships
			WHERE user_id = $1 AND coalesce(country_id, 0) = coalesce($2::bigint, 0)`, u.ID, country)
		if err != nil {
			return fmt.Errorf("revoke: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		if alias == "" {
			return fmt.Errorf("%w: %s is not an admin", ErrNotFound, u.Email)
		}
		return fmt.Errorf("%w: %s holds no role in country %q", ErrNotFound, u.Email, alias)
	})
	if err != nil {
		return err
	}
	return s.changed(ctx, s.db)
}

// countryByAlias returns the id of the ready country with alias, in any
// letter case.
func countryByAlias(ctx context.Context, q sqlx.QueryerContext, alias string) (sql.NullInt64, error) {
	var id sql.NullInt64
	err := sqlx.GetContext(ctx, q, &id, `
		SELECT id FROM administration.countries WHERE lower(alias) = lower($1) AND ready`, alias)
	if errors.Is(err, sql.ErrNoRows) {
		return id, fmt.Errorf("%w: no country has alias %q", ErrNotFound, alias)
	}
	if err != nil {
		return id, fmt.Errorf("find country %q: %w", alias, err)
	}
	return id, nil
}

func (s *Store) membership(ctx context.Context, userID int64, country sql.NullInt64) (*Membership, error) {
	var m Membership
	err := s.db.GetContext(ctx, &m, `
		SELECT m.id, m.user_id, u.email, coalesce(c.alias, '') AS alias, m.role
		FROM administration.memberships m
		JOIN administration.users u ON u.id = m.user_id
		LEFT JOIN administration.countries c ON c.id = m.country_id
		WHERE m.user_id = $1 AND coalesce(m.country_id, 0) = coalesce($2, 0)`, userID, country)
	return &m, err
}

// Memberships lists every role of the user with id.
func (s *Store) Memberships(ctx context.Context, userID int64) ([]Membership, error) {
	var ms []Membership
	err := s.db.SelectContext(ctx, &ms, `
		SELECT m.id, m.user_id, u.email, coalesce(c.alias, '') AS alias, m.role
		FROM administration.memberships m
		JOIN administration.users u ON u.id = m.user_id
		LEFT JOIN administration.countries c ON c.id = m.country_id
		WHERE m.user_id = $1 ORDER BY alias`, userID)
	return ms, err
}

// TokenPrefix starts every API token, so a leaked one is easy to spot.
const TokenPrefix = "tg_"

// Token is an API token's record; its secret is never stored.
type Token struct {
	ID         int64      `db:"id"`
	UserID     int64      `db:"user_id"`
	Name       string     `db:"name"`
	CreatedAt  time.Time  `db:"created_at"`
	ExpiresAt  *time.Time `db:"expires_at"`
	RevokedAt  *time.Time `db:"revoked_at"`
	LastUsedAt *time.Time `db:"last_used_at"`
}

func hashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// CreateToken makes an API token for the user and returns its secret,
// which is shown once: only its SHA-256 hash is stored. The secret carries
// 256 random bits, so a fast hash is enough.
func (s *Store) CreateToken(ctx context.Context, userID int64, name string, expiresAt *time.Time) (string, *Token, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", nil, fmt.Errorf("%w: a token needs a name", ErrInvalid)
	}
	if expiresAt != nil && !expiresAt.After(time.Now()) {
		return "", nil, fmt.Errorf("%w: expiresAt must be in the future", ErrInvalid)
	}
	var b [32]byte
	rand.Read(b[:])
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	var t Token
	err := s.db.GetContext(ctx, &t, `
		INSERT INTO administration.api_tokens (user_id, name, token_hash, expires_at)
		VALUES ($1, $2, $3, $4)
		RETURNING id, user_id, name, created_at, expires_at, revoked_at, last_used_at`,
		userID, name, hashToken(secret), expiresAt)
	if err != nil {
		return "", nil, fmt.Errorf("create token: %w", err)
	}
	return secret, &t, nil
}

const tokenLookupSQL = `
	SELECT t.id, u.id, u.email, u.name, t.expires_at,
	       t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute',
	       coalesce((SELECT json_agg(json_build_object('country', m.country_id, 'role', m.role))
	                 FROM administration.memberships m WHERE m.user_id = u.id), '[]')
	FROM administration.api_tokens t
	JOIN administration.users u ON u.id = t.user_id
	WHERE t.token_hash = $1 AND t.revoked_at IS NULL
	  AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.active`

// TokenPrincipal returns the principal an API token stands for, with the
// user's roles, in one query; revoked, expired or unknown tokens and
// inactive users get ErrBadToken. last_used_at is written at most once a
// minute per token, in a second statement, so a busy token does not turn
// every read into a write.
func (s *Store) TokenPrincipal(ctx context.Context, secret string) (*Principal, error) {
	if !strings.HasPrefix(secret, TokenPrefix) {
		return nil, ErrBadToken
	}
	if p := s.cache.token(secret); p != nil {
		return p, nil
	}
	var (
		tokenID, userID int64
		email, name     string
		stale           bool
		rolesJSON       []byte
		expires         sql.NullTime
	)
	err := scanOne(s.tokenLookup.query(ctx, hashToken(secret)))(
		&tokenID, &userID, &email, &name, &expires, &stale, &rolesJSON)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrBadToken
	}
	if err != nil {
		return nil, fmt.Errorf("check token: %w", err)
	}
	var roles []struct {
		Country *int64 `json:"country"`
		Role    Role   `json:"role"`
	}
	if err := json.Unmarshal(rolesJSON, &roles); err != nil {
		return nil, fmt.Errorf("decode roles: %w", err)
	}
	p := &Principal{UserID: userID, Email: email, Name: name, Countries: map[int64]Role{}, TokenID: tokenID}
	for _, r := range roles {
		switch {
		case r.Role == RoleAdmin:
			p.Admin = true
		case r.Country != nil:
			p.Countries[*r.Country] = r.Role
		}
	}
	if stale {
		if _, err := s.db.ExecContext(ctx, `
			UPDATE administration.api_tokens SET last_used_at = now() WHERE id = $1`, tokenID); err != nil {
			return nil, fmt.Errorf("record token use: %w", err)
		}
	}
	s.cache.putToken(secret, p, expires)
	return p, nil
}

// Tokens lists the user's tokens, newest first.
func (s *Store) Tokens(ctx context.Context, userID int64) ([]Token, error) {
	var ts []Token
	err := s.db.SelectContext(ctx, &ts, `
		SELECT id, user_id, name, created_at, expires_at, revoked_at, last_used_at
		FROM administration.api_tokens WHERE user_id = $1 ORDER BY id DESC`, userID)
	return ts, err
}

// RevokeToken revokes token id. Unless asAdmin, only the token's owner may.
// It takes effect on the token's next request.
func (s *Store) RevokeToken(ctx context.Context, id, userID int64, asAdmin bool) (*Token, error) {
	var t Token
	err := s.db.GetContext(ctx, &t, `
		UPDATE administration.api_tokens SET revoked_at = coalesce(revoked_at, now())
		WHERE id = $1 AND ($3 OR user_id = $2)
		RETURNING id, user_id, name, created_at, expires_at, revoked_at, last_used_at`, id, userID, asAdmin)
	switch {
	case errors.Is(err, sql.ErrNoRows) && asAdmin:
		return nil, fmt.Errorf("%w: no token has id %d", ErrNotFound, id)
	case errors.Is(err, sql.ErrNoRows):
		// Whether someone else's token has this id is not the caller's
		// business, so the message is the same either way.
		return nil, fmt.Errorf("%w: you have no token with id %d", ErrNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	if err := s.changed(ctx, s.db); err != nil {
		return nil, err
	}
	return &t, nil
}

func isUnique(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "23505"
}
