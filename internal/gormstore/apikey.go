package gormstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session/apikey"
)

// API key table names.
const (
	ServiceAccountsTable = "iam_service_accounts"
	APIKeysTable         = "iam_api_keys"
)

// apiKeyDDL creates the service account and API key tables; every
// statement runs on both PostgreSQL and SQLite. Times are Unix
// nanoseconds (0 for none); the secret is stored only as the hex HMAC.
var apiKeyDDL = []string{
	`CREATE TABLE IF NOT EXISTS ` + ServiceAccountsTable + ` (
		id          varchar(100) PRIMARY KEY,
		owner       varchar(256) NOT NULL,
		department  varchar(254) NOT NULL,
		description varchar(254) NOT NULL DEFAULT '',
		status      varchar(16)  NOT NULL CHECK (status IN ('active', 'disabled')),
		created_at  bigint       NOT NULL,
		changed_at  bigint       NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS ` + APIKeysTable + ` (
		id           varchar(16)  PRIMARY KEY,
		account      varchar(100) NOT NULL REFERENCES ` + ServiceAccountsTable + ` (id) ON DELETE CASCADE,
		name         varchar(254) NOT NULL,
		hash         varchar(64)  NOT NULL,
		created_at   bigint       NOT NULL,
		expires_at   bigint       NOT NULL DEFAULT 0,
		permissions  text         NOT NULL DEFAULT '',
		scopes       text         NOT NULL DEFAULT '',
		rotated_from varchar(16)  NOT NULL DEFAULT '',
		replaced_by  varchar(16)  NOT NULL DEFAULT '',
		retires_at   bigint       NOT NULL DEFAULT 0,
		revoked_at   bigint       NOT NULL DEFAULT 0,
		last_used    bigint       NOT NULL DEFAULT 0
	)`,
	`CREATE INDEX IF NOT EXISTS ` + APIKeysTable + `_account ON ` + APIKeysTable + ` (account)`,
}

// MigrateAPIKeys creates the service account and API key tables if they
// are missing, in one transaction. It is idempotent; name is the calling
// package for errors.
func MigrateAPIKeys(ctx context.Context, db *gorm.DB, name string) error {
	if db == nil {
		return fmt.Errorf("%s: MigrateAPIKeys: nil *gorm.DB", name)
	}
	err := db.Session(&gorm.Session{NewDB: true, Context: ctx}).Transaction(func(tx *gorm.DB) error {
		for _, stmt := range apiKeyDDL {
			if err := tx.Exec(stmt).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: migrate API key tables: %w", name, err)
	}
	return nil
}

// APIKeyStore is an apikey.Store in SQL. Every change is one transaction;
// a rotation's conditional UPDATE makes two concurrent rotations of one
// key end with one winner.
type APIKeyStore struct {
	db   *gorm.DB
	name string
}

var _ apikey.Store = (*APIKeyStore)(nil)

// NewAPIKeyStore returns a store on db. It runs no statement.
func NewAPIKeyStore(db *gorm.DB, name string) (*APIKeyStore, error) {
	if db == nil {
		return nil, fmt.Errorf("%s: NewAPIKeyStore: nil *gorm.DB", name)
	}
	return &APIKeyStore{db: db.Session(&gorm.Session{NewDB: true}), name: name}, nil
}

func (s *APIKeyStore) conn(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

func (s *APIKeyStore) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, apikey.ErrNotFound) || errors.Is(err, apikey.ErrState) || errors.Is(err, apikey.ErrExists) {
		return err
	}
	msg := err.Error()
	switch {
	case isUnique(err):
		return fmt.Errorf("%s: %s: %w", s.name, op, apikey.ErrExists)
	case strings.Contains(msg, "no such table") || strings.Contains(msg, "does not exist") && strings.Contains(msg, "relation"):
		return fmt.Errorf("%s: %s: %w: run MigrateAPIKeys: %w", s.name, op, ErrNotMigrated, err)
	}
	return fmt.Errorf("%s: %s: %w", s.name, op, err)
}

type accountRow struct {
	ID          string
	Owner       string
	Department  string
	Description string
	Status      string
	CreatedAt   int64
	ChangedAt   int64
}

func (r accountRow) account() apikey.Account {
	return apikey.Account{ID: r.ID, Owner: rbac.Subject(r.Owner), Department: r.Department, Description: r.Description,
		Status: apikey.AccountStatus(r.Status), Created: fromNanos(r.CreatedAt), Changed: fromNanos(r.ChangedAt)}
}

const accountCols = "id, owner, department, description, status, created_at, changed_at"

// CreateAccount implements apikey.Store.
func (s *APIKeyStore) CreateAccount(ctx context.Context, a apikey.Account) error {
	err := s.conn(ctx).Exec("INSERT INTO "+ServiceAccountsTable+" ("+accountCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		a.ID, string(a.Owner), a.Department, a.Description, string(a.Status), nanos(a.Created), nanos(a.Changed)).Error
	return s.wrap("create service account", err)
}

// SetAccountStatus implements apikey.Store.
func (s *APIKeyStore) SetAccountStatus(ctx context.Context, id string, st apikey.AccountStatus, at time.Time) error {
	res := s.conn(ctx).Exec("UPDATE "+ServiceAccountsTable+" SET status = ?, changed_at = ? WHERE id = ?", string(st), nanos(at), id)
	if res.Error != nil {
		return s.wrap("set service account status", res.Error)
	}
	if res.RowsAffected == 0 {
		return apikey.ErrNotFound
	}
	return nil
}

// DeleteAccount implements apikey.Store: the account and its keys, in one
// transaction.
func (s *APIKeyStore) DeleteAccount(ctx context.Context, id string) error {
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("DELETE FROM "+APIKeysTable+" WHERE account = ?", id).Error; err != nil {
			return err
		}
		res := tx.Exec("DELETE FROM "+ServiceAccountsTable+" WHERE id = ?", id)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return apikey.ErrNotFound
		}
		return nil
	})
	return s.wrap("delete service account", err)
}

// Account implements apikey.Store.
func (s *APIKeyStore) Account(ctx context.Context, id string) (apikey.Account, error) {
	var rows []accountRow
	if err := s.conn(ctx).Raw("SELECT "+accountCols+" FROM "+ServiceAccountsTable+" WHERE id = ?", id).Scan(&rows).Error; err != nil {
		return apikey.Account{}, s.wrap("read service account", err)
	}
	if len(rows) == 0 {
		return apikey.Account{}, apikey.ErrNotFound
	}
	return rows[0].account(), nil
}

// Accounts implements apikey.Store.
func (s *APIKeyStore) Accounts(ctx context.Context) ([]apikey.Account, error) {
	var rows []accountRow
	if err := s.conn(ctx).Raw("SELECT " + accountCols + " FROM " + ServiceAccountsTable + " ORDER BY id").Scan(&rows).Error; err != nil {
		return nil, s.wrap("list service accounts", err)
	}
	out := make([]apikey.Account, len(rows))
	for i, r := range rows {
		out[i] = r.account()
	}
	return out, nil
}

type keyRow struct {
	ID          string
	Account     string
	Name        string
	Hash        string
	CreatedAt   int64
	ExpiresAt   int64
	Permissions string
	Scopes      string
	RotatedFrom string
	ReplacedBy  string
	RetiresAt   int64
	RevokedAt   int64
	LastUsed    int64
}

const keyCols = "id, account, name, hash, created_at, expires_at, permissions, scopes, rotated_from, replaced_by, retires_at, revoked_at, last_used"

func (r keyRow) key() (apikey.Key, error) {
	k := apikey.Key{ID: r.ID, Account: r.Account, Name: r.Name, Created: fromNanos(r.CreatedAt), Expires: fromNanos(r.ExpiresAt),
		RotatedFrom: r.RotatedFrom, ReplacedBy: r.ReplacedBy, Retires: fromNanos(r.RetiresAt), Revoked: fromNanos(r.RevokedAt),
		LastUsed: fromNanos(r.LastUsed)}
	h, err := hex.DecodeString(r.Hash)
	if err != nil || len(h) != len(k.Hash) {
		return apikey.Key{}, fmt.Errorf("key %s: stored hash is not 32 bytes of hex", r.ID)
	}
	copy(k.Hash[:], h)
	for _, p := range strings.Fields(r.Permissions) {
		k.Narrowing.Permissions = append(k.Narrowing.Permissions, rbac.Permission(p))
	}
	for _, sc := range strings.Fields(r.Scopes) {
		k.Narrowing.Scopes = append(k.Narrowing.Scopes, rbac.Scope(sc))
	}
	return k, nil
}

func join[T ~string](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	return strings.Join(s, " ")
}

func insertKey(tx *gorm.DB, k apikey.Key) error {
	return tx.Exec("INSERT INTO "+APIKeysTable+" ("+keyCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		k.ID, k.Account, k.Name, hex.EncodeToString(k.Hash[:]), nanos(k.Created), nanos(k.Expires),
		join(k.Narrowing.Permissions), join(k.Narrowing.Scopes), k.RotatedFrom, k.ReplacedBy,
		nanos(k.Retires), nanos(k.Revoked), nanos(k.LastUsed)).Error
}

func accountExists(tx *gorm.DB, id string) (bool, error) {
	var n int64
	err := tx.Raw("SELECT count(*) FROM "+ServiceAccountsTable+" WHERE id = ?", id).Scan(&n).Error
	return n > 0, err
}

// CreateKey implements apikey.Store.
func (s *APIKeyStore) CreateKey(ctx context.Context, k apikey.Key) error {
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if ok, err := accountExists(tx, k.Account); err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("%w: service account %q", apikey.ErrNotFound, k.Account)
			}
			return err
		}
		return insertKey(tx, k)
	})
	return s.wrap("create key", err)
}

// Key implements apikey.Store: the key and its account in one statement.
func (s *APIKeyStore) Key(ctx context.Context, id string) (apikey.Key, apikey.Account, error) {
	var rows []struct {
		ID           string
		Account      string
		Name         string
		Hash         string
		CreatedAt    int64
		ExpiresAt    int64
		Permissions  string
		Scopes       string
		RotatedFrom  string
		ReplacedBy   string
		RetiresAt    int64
		RevokedAt    int64
		LastUsed     int64
		AOwner       string
		ADepartment  string
		ADescription string
		AStatus      string
		ACreatedAt   int64
		AChangedAt   int64
	}
	q := "SELECT k.id, k.account, k.name, k.hash, k.created_at, k.expires_at, k.permissions, k.scopes, k.rotated_from, " +
		"k.replaced_by, k.retires_at, k.revoked_at, k.last_used, a.owner AS a_owner, a.department AS a_department, " +
		"a.description AS a_description, a.status AS a_status, a.created_at AS a_created_at, a.changed_at AS a_changed_at " +
		"FROM " + APIKeysTable + " k JOIN " + ServiceAccountsTable + " a ON a.id = k.account WHERE k.id = ?"
	if err := s.conn(ctx).Raw(q, id).Scan(&rows).Error; err != nil {
		return apikey.Key{}, apikey.Account{}, s.wrap("read key", err)
	}
	if len(rows) == 0 {
		return apikey.Key{}, apikey.Account{}, apikey.ErrNotFound
	}
	r := rows[0]
	k, err := keyRow{ID: r.ID, Account: r.Account, Name: r.Name, Hash: r.Hash, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt,
		Permissions: r.Permissions, Scopes: r.Scopes, RotatedFrom: r.RotatedFrom, ReplacedBy: r.ReplacedBy,
		RetiresAt: r.RetiresAt, RevokedAt: r.RevokedAt, LastUsed: r.LastUsed}.key()
	if err != nil {
		return apikey.Key{}, apikey.Account{}, fmt.Errorf("%s: read key: %w", s.name, err)
	}
	a := accountRow{ID: r.Account, Owner: r.AOwner, Department: r.ADepartment, Description: r.ADescription,
		Status: r.AStatus, CreatedAt: r.ACreatedAt, ChangedAt: r.AChangedAt}.account()
	return k, a, nil
}

// Keys implements apikey.Store.
func (s *APIKeyStore) Keys(ctx context.Context, account string) ([]apikey.Key, error) {
	var rows []keyRow
	q := s.conn(ctx).Raw("SELECT " + keyCols + " FROM " + APIKeysTable + " ORDER BY account, created_at, id")
	if account != "" {
		q = s.conn(ctx).Raw("SELECT "+keyCols+" FROM "+APIKeysTable+" WHERE account = ? ORDER BY account, created_at, id", account)
	}
	if err := q.Scan(&rows).Error; err != nil {
		return nil, s.wrap("list keys", err)
	}
	out := make([]apikey.Key, 0, len(rows))
	for _, r := range rows {
		k, err := r.key()
		if err != nil {
			return nil, fmt.Errorf("%s: list keys: %w", s.name, err)
		}
		out = append(out, k)
	}
	return out, nil
}

// Rotate implements apikey.Store.
func (s *APIKeyStore) Rotate(ctx context.Context, old, next apikey.Key) error {
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		// Write first, so that SQLite takes its write lock at once.
		res := tx.Exec("UPDATE "+APIKeysTable+" SET replaced_by = ?, retires_at = ? WHERE id = ? AND revoked_at = 0 AND replaced_by = ''",
			next.ID, nanos(old.Retires), old.ID)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			var n int64
			if err := tx.Raw("SELECT count(*) FROM "+APIKeysTable+" WHERE id = ?", old.ID).Scan(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				return apikey.ErrNotFound
			}
			return fmt.Errorf("%w: key %s was revoked or rotated meanwhile", apikey.ErrState, old.ID)
		}
		return insertKey(tx, next)
	})
	return s.wrap("rotate key", err)
}

// RevokeKey implements apikey.Store.
func (s *APIKeyStore) RevokeKey(ctx context.Context, id string, at time.Time) (apikey.Key, error) {
	var k apikey.Key
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("UPDATE "+APIKeysTable+" SET revoked_at = ? WHERE id = ? AND revoked_at = 0", nanos(at), id).Error; err != nil {
			return err
		}
		var rows []keyRow
		if err := tx.Raw("SELECT "+keyCols+" FROM "+APIKeysTable+" WHERE id = ?", id).Scan(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return apikey.ErrNotFound
		}
		var err error
		k, err = rows[0].key()
		return err
	})
	return k, s.wrap("revoke key", err)
}

// TouchKeys implements apikey.Store: one transaction for the batch, each
// UPDATE raising last_used only.
func (s *APIKeyStore) TouchKeys(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		for id, t := range used {
			if err := tx.Exec("UPDATE "+APIKeysTable+" SET last_used = ? WHERE id = ? AND last_used < ?", nanos(t), id, nanos(t)).Error; err != nil {
				return err
			}
		}
		return nil
	})
	return s.wrap("record last use", err)
}
