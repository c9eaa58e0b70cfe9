package gormstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/civic-platform/security/session/signin"
)

// Identity table names.
const (
	UsersTable     = "iam_users"
	PasswordsTable = "iam_passwords"
	TOTPTable      = signin.TOTPTable // "iam_totp"
	RecoveryTable  = "iam_recovery_codes"
	CountersTable  = "iam_login_counters"
)

// identityDDL creates the identity tables; every statement runs on both
// PostgreSQL and SQLite. Times are Unix nanoseconds in bigint columns, so
// that they round-trip exactly on both. Flags are integers (0/1).
var identityDDL = []string{
	`CREATE TABLE IF NOT EXISTS ` + UsersTable + ` (
		id           varchar(100) PRIMARY KEY,
		employee_id  varchar(254) UNIQUE,
		email        varchar(254) NOT NULL UNIQUE,
		display_name varchar(254) NOT NULL DEFAULT '',
		language     varchar(2)   NOT NULL CHECK (language IN ('en', 'fr')),
		department   varchar(254) NOT NULL DEFAULT '',
		status       varchar(16)  NOT NULL CHECK (status IN ('active', 'suspended', 'offboarded')),
		created_at   bigint       NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS ` + PasswordsTable + ` (
		user_id varchar(100) PRIMARY KEY REFERENCES ` + UsersTable + ` (id) ON DELETE CASCADE,
		hash    varchar(512) NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS ` + TOTPTable + ` (
		user_id   varchar(100) PRIMARY KEY REFERENCES ` + UsersTable + ` (id) ON DELETE CASCADE,
		secret    text    NOT NULL,
		confirmed integer NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
		last_step bigint  NOT NULL DEFAULT 0
	)`,
	`CREATE TABLE IF NOT EXISTS ` + RecoveryTable + ` (
		user_id   varchar(100) NOT NULL REFERENCES ` + UsersTable + ` (id) ON DELETE CASCADE,
		code_hash varchar(64)  NOT NULL,
		used_at   bigint,
		PRIMARY KEY (user_id, code_hash)
	)`,
	`CREATE TABLE IF NOT EXISTS ` + CountersTable + ` (
		counter_key  varchar(400) PRIMARY KEY,
		failures     integer NOT NULL,
		window_start bigint  NOT NULL,
		locked_until bigint  NOT NULL,
		level        integer NOT NULL,
		version      bigint  NOT NULL
	)`,
}

// MigrateIdentity creates the identity tables (users, password hashes,
// TOTP enrolments, recovery codes, lockout counters) if they are missing,
// in one transaction. It is idempotent; name is the calling package for
// errors ("pgstore").
func MigrateIdentity(ctx context.Context, db *gorm.DB, name string) error {
	if db == nil {
		return fmt.Errorf("%s: MigrateIdentity: nil *gorm.DB", name)
	}
	err := db.Session(&gorm.Session{NewDB: true, Context: ctx}).Transaction(func(tx *gorm.DB) error {
		for _, stmt := range identityDDL {
			if err := tx.Exec(stmt).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: migrate identity tables: %w", name, err)
	}
	return nil
}

// IdentityStore is a signin.Store in SQL. Every compare-and-set is one
// UPDATE whose WHERE clause holds the expected state, so the database's
// row lock (PostgreSQL) or write lock (SQLite) makes it atomic across
// goroutines and processes.
type IdentityStore struct {
	db   *gorm.DB
	name string
}

var _ signin.Store = (*IdentityStore)(nil)

// NewIdentityStore returns a store on db. It runs no statement.
func NewIdentityStore(db *gorm.DB, name string) (*IdentityStore, error) {
	if db == nil {
		return nil, fmt.Errorf("%s: NewIdentityStore: nil *gorm.DB", name)
	}
	return &IdentityStore{db: db.Session(&gorm.Session{NewDB: true}), name: name}, nil
}

func (s *IdentityStore) conn(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// wrap adds the package name and classifies unique violations and missing
// tables.
func (s *IdentityStore) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case isUnique(err):
		what := "user"
		switch {
		case strings.Contains(msg, "email"):
			what = "email"
		case strings.Contains(msg, "employee_id"):
			what = "employee id"
		}
		return fmt.Errorf("%s: %s: %w: %s", s.name, op, signin.ErrExists, what)
	case strings.Contains(msg, "no such table") || strings.Contains(msg, "does not exist") && strings.Contains(msg, "relation"):
		return fmt.Errorf("%s: %s: %w: %w", s.name, op, ErrNotMigrated, err)
	}
	return fmt.Errorf("%s: %s: %w", s.name, op, err)
}

type sqlState interface{ SQLState() string }

func isUnique(err error) bool {
	var st sqlState
	if errors.As(err, &st) && st.SQLState() == "23505" {
		return true
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

type userRow struct {
	ID          string
	EmployeeID  *string
	Email       string
	DisplayName string
	Language    string
	Department  string
	Status      string
	CreatedAt   int64
}

func (r userRow) user() signin.User {
	u := signin.User{ID: r.ID, Email: r.Email, DisplayName: r.DisplayName, Language: r.Language,
		Department: r.Department, Status: signin.Status(r.Status), Created: fromNanos(r.CreatedAt)}
	if r.EmployeeID != nil {
		u.EmployeeID = *r.EmployeeID
	}
	return u
}

const userCols = "id, employee_id, email, display_name, language, department, status, created_at"

// CreateUser implements signin.Users.
func (s *IdentityStore) CreateUser(ctx context.Context, u signin.User) error {
	if u.Created.IsZero() {
		u.Created = time.Now()
	}
	err := s.conn(ctx).Exec("INSERT INTO "+UsersTable+" ("+userCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		u.ID, nullable(u.EmployeeID), u.Email, u.DisplayName, u.Language, u.Department, string(u.Status), nanos(u.Created)).Error
	return s.wrap("create user", err)
}

// UpdateUser implements signin.Users. Created is not changed.
func (s *IdentityStore) UpdateUser(ctx context.Context, u signin.User) error {
	res := s.conn(ctx).Exec("UPDATE "+UsersTable+" SET employee_id = ?, email = ?, display_name = ?, language = ?, department = ?, status = ? WHERE id = ?",
		nullable(u.EmployeeID), u.Email, u.DisplayName, u.Language, u.Department, string(u.Status), u.ID)
	if res.Error != nil {
		return s.wrap("update user", res.Error)
	}
	if res.RowsAffected == 0 {
		return signin.ErrNotFound
	}
	return nil
}

func (s *IdentityStore) userWhere(ctx context.Context, col, v string) (signin.User, error) {
	var rows []userRow
	if err := s.conn(ctx).Raw("SELECT "+userCols+" FROM "+UsersTable+" WHERE "+col+" = ?", v).Scan(&rows).Error; err != nil {
		return signin.User{}, s.wrap("read user", err)
	}
	if len(rows) == 0 {
		return signin.User{}, signin.ErrNotFound
	}
	return rows[0].user(), nil
}

// User implements signin.Users.
func (s *IdentityStore) User(ctx context.Context, id string) (signin.User, error) {
	return s.userWhere(ctx, "id", id)
}

// UserByEmail implements signin.Users.
func (s *IdentityStore) UserByEmail(ctx context.Context, email string) (signin.User, error) {
	return s.userWhere(ctx, "email", email)
}

// lockUser takes the write lock on user id's row (a no-op UPDATE: a row
// lock in PostgreSQL, the database write lock in SQLite) and reports
// whether the user exists. Every transaction that reads and then writes a
// user's credential rows takes it first, so that parallel ones run one
// after the other instead of interleaving their DELETEs and INSERTs.
func lockUser(tx *gorm.DB, id string) (bool, error) {
	res := tx.Exec("UPDATE "+UsersTable+" SET created_at = created_at WHERE id = ?", id)
	return res.RowsAffected > 0, res.Error
}

// SetPasswordHash implements signin.Credentials.
func (s *IdentityStore) SetPasswordHash(ctx context.Context, userID, hash string) error {
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if ok, err := lockUser(tx, userID); err != nil || !ok {
			if err == nil {
				err = signin.ErrNotFound
			}
			return err
		}
		res := tx.Exec("UPDATE "+PasswordsTable+" SET hash = ? WHERE user_id = ?", hash, userID)
		if res.Error != nil || res.RowsAffected > 0 {
			return res.Error
		}
		return tx.Exec("INSERT INTO "+PasswordsTable+" (user_id, hash) VALUES (?, ?)", userID, hash).Error
	})
	if errors.Is(err, signin.ErrNotFound) {
		return err
	}
	return s.wrap("set password hash", err)
}

// PasswordHash implements signin.Credentials.
func (s *IdentityStore) PasswordHash(ctx context.Context, userID string) (string, error) {
	var hs []string
	if err := s.conn(ctx).Raw("SELECT hash FROM "+PasswordsTable+" WHERE user_id = ?", userID).Scan(&hs).Error; err != nil {
		return "", s.wrap("read password hash", err)
	}
	if len(hs) == 0 {
		return "", signin.ErrNotFound
	}
	return hs[0], nil
}

// ReplacePasswordHash implements signin.Credentials.
func (s *IdentityStore) ReplacePasswordHash(ctx context.Context, userID, prev, next string) (bool, error) {
	res := s.conn(ctx).Exec("UPDATE "+PasswordsTable+" SET hash = ? WHERE user_id = ? AND hash = ?", next, userID, prev)
	return res.RowsAffected == 1, s.wrap("replace password hash", res.Error)
}

// PutTOTP implements signin.Credentials.
func (s *IdentityStore) PutTOTP(ctx context.Context, userID, sealed string) error {
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if ok, err := lockUser(tx, userID); err != nil || !ok {
			if err == nil {
				err = signin.ErrNotFound
			}
			return err
		}
		res := tx.Exec("UPDATE "+TOTPTable+" SET secret = ?, last_step = 0 WHERE user_id = ? AND confirmed = 0", sealed, userID)
		if res.Error != nil || res.RowsAffected > 0 {
			return res.Error
		}
		var confirmed []int
		if err := tx.Raw("SELECT confirmed FROM "+TOTPTable+" WHERE user_id = ?", userID).Scan(&confirmed).Error; err != nil {
			return err
		}
		if len(confirmed) > 0 {
			return signin.ErrAlreadyEnrolled
		}
		return tx.Exec("INSERT INTO "+TOTPTable+" (user_id, secret, confirmed, last_step) VALUES (?, ?, 0, 0)", userID, sealed).Error
	})
	if errors.Is(err, signin.ErrAlreadyEnrolled) || errors.Is(err, signin.ErrNotFound) {
		return err
	}
	return s.wrap("put TOTP", err)
}

// TOTP implements signin.Credentials.
func (s *IdentityStore) TOTP(ctx context.Context, userID string) (signin.TOTPRecord, error) {
	var rows []struct {
		Secret    string
		Confirmed int
		LastStep  int64
	}
	if err := s.conn(ctx).Raw("SELECT secret, confirmed, last_step FROM "+TOTPTable+" WHERE user_id = ?", userID).Scan(&rows).Error; err != nil {
		return signin.TOTPRecord{}, s.wrap("read TOTP", err)
	}
	if len(rows) == 0 {
		return signin.TOTPRecord{}, signin.ErrNotFound
	}
	r := rows[0]
	return signin.TOTPRecord{Sealed: r.Secret, Confirmed: r.Confirmed == 1, LastStep: r.LastStep}, nil
}

// ConfirmTOTP implements signin.Credentials with one conditional UPDATE.
func (s *IdentityStore) ConfirmTOTP(ctx context.Context, userID, sealed string, step int64) (bool, error) {
	res := s.conn(ctx).Exec("UPDATE "+TOTPTable+" SET confirmed = 1, last_step = ? WHERE user_id = ? AND secret = ? AND confirmed = 0 AND last_step < ?", step, userID, sealed, step)
	return res.RowsAffected == 1, s.wrap("confirm TOTP", res.Error)
}

// AdvanceTOTP implements signin.Credentials with one conditional UPDATE:
// last_step moves only forward, so of any number of requests carrying
// codes for one step, one succeeds.
func (s *IdentityStore) AdvanceTOTP(ctx context.Context, userID string, step int64) (bool, error) {
	res := s.conn(ctx).Exec("UPDATE "+TOTPTable+" SET last_step = ? WHERE user_id = ? AND confirmed = 1 AND last_step < ?", step, userID, step)
	return res.RowsAffected == 1, s.wrap("advance TOTP", res.Error)
}

// DeleteTOTP implements signin.Credentials.
func (s *IdentityStore) DeleteTOTP(ctx context.Context, userID string) error {
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("DELETE FROM "+TOTPTable+" WHERE user_id = ?", userID).Error; err != nil {
			return err
		}
		return tx.Exec("DELETE FROM "+RecoveryTable+" WHERE user_id = ?", userID).Error
	})
	return s.wrap("delete TOTP", err)
}

// ReplaceRecoveryCodes implements signin.Credentials in one transaction.
func (s *IdentityStore) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string) error {
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if ok, err := lockUser(tx, userID); err != nil || !ok {
			if err == nil {
				err = signin.ErrNotFound
			}
			return err
		}
		if err := tx.Exec("DELETE FROM "+RecoveryTable+" WHERE user_id = ?", userID).Error; err != nil {
			return err
		}
		for _, h := range hashes {
			if err := tx.Exec("INSERT INTO "+RecoveryTable+" (user_id, code_hash) VALUES (?, ?)", userID, h).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, signin.ErrNotFound) {
		return err
	}
	return s.wrap("replace recovery codes", err)
}

// UseRecoveryCode implements signin.Credentials with one conditional
// UPDATE.
func (s *IdentityStore) UseRecoveryCode(ctx context.Context, userID, hash string, at time.Time) (bool, error) {
	res := s.conn(ctx).Exec("UPDATE "+RecoveryTable+" SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL", nanos(at), userID, hash)
	return res.RowsAffected == 1, s.wrap("use recovery code", res.Error)
}

// RecoveryCodesLeft implements signin.Credentials.
func (s *IdentityStore) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	var n int64
	err := s.conn(ctx).Raw("SELECT count(*) FROM "+RecoveryTable+" WHERE user_id = ? AND used_at IS NULL", userID).Scan(&n).Error
	return int(n), s.wrap("count recovery codes", err)
}

// LoadCounter implements signin.Counters.
func (s *IdentityStore) LoadCounter(ctx context.Context, key string) (signin.Counter, int64, error) {
	var rows []struct {
		Failures    int
		WindowStart int64
		LockedUntil int64
		Level       int
		Version     int64
	}
	if err := s.conn(ctx).Raw("SELECT failures, window_start, locked_until, level, version FROM "+CountersTable+" WHERE counter_key = ?", key).Scan(&rows).Error; err != nil {
		return signin.Counter{}, 0, s.wrap("read counter", err)
	}
	if len(rows) == 0 {
		return signin.Counter{}, 0, nil
	}
	r := rows[0]
	return signin.Counter{Failures: r.Failures, WindowStart: fromNanos(r.WindowStart), LockedUntil: fromNanos(r.LockedUntil), Level: r.Level}, r.Version, nil
}

// SaveCounter implements signin.Counters: an INSERT that does nothing on
// conflict for version 0, otherwise an UPDATE conditioned on the version.
func (s *IdentityStore) SaveCounter(ctx context.Context, key string, c signin.Counter, version int64) (bool, error) {
	var res *gorm.DB
	if version == 0 {
		res = s.conn(ctx).Exec("INSERT INTO "+CountersTable+" (counter_key, failures, window_start, locked_until, level, version) VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (counter_key) DO NOTHING",
			key, c.Failures, nanos(c.WindowStart), nanos(c.LockedUntil), c.Level)
	} else {
		res = s.conn(ctx).Exec("UPDATE "+CountersTable+" SET failures = ?, window_start = ?, locked_until = ?, level = ?, version = version + 1 WHERE counter_key = ? AND version = ?",
			c.Failures, nanos(c.WindowStart), nanos(c.LockedUntil), c.Level, key, version)
	}
	return res.RowsAffected == 1, s.wrap("save counter", res.Error)
}

// DeleteCounter implements signin.Counters.
func (s *IdentityStore) DeleteCounter(ctx context.Context, key string) error {
	return s.wrap("delete counter", s.conn(ctx).Exec("DELETE FROM "+CountersTable+" WHERE counter_key = ?", key).Error)
}

// PruneCounters implements signin.Counters.
func (s *IdentityStore) PruneCounters(ctx context.Context, before time.Time) (int, error) {
	b := before.UnixNano()
	res := s.conn(ctx).Exec("DELETE FROM "+CountersTable+" WHERE window_start < ? AND locked_until < ?", b, b)
	return int(res.RowsAffected), s.wrap("prune counters", res.Error)
}
