package gormstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session/sso"
)

// SSOLinksTable keeps external identity links.
const SSOLinksTable = "iam_sso_links"

// ssoLinksDDL runs on PostgreSQL and SQLite. A link belongs to a user and
// goes with it; (provider, subject_key) is the primary key, so an
// external identity maps to one user.
var ssoLinksDDL = []string{
	`CREATE TABLE IF NOT EXISTS ` + SSOLinksTable + ` (
		provider    varchar(64)  NOT NULL,
		subject_key varchar(256) NOT NULL,
		user_id     varchar(100) NOT NULL REFERENCES ` + UsersTable + ` (id) ON DELETE CASCADE,
		created_at  bigint       NOT NULL,
		mapped      text         NOT NULL DEFAULT '{}',
		PRIMARY KEY (provider, subject_key)
	)`,
	`CREATE INDEX IF NOT EXISTS ` + SSOLinksTable + `_user ON ` + SSOLinksTable + ` (user_id)`,
}

// MigrateSSOLinks creates the links table (after MigrateIdentity, whose
// users table it references) if it is missing, in one transaction.
func MigrateSSOLinks(ctx context.Context, db *gorm.DB, name string) error {
	if db == nil {
		return fmt.Errorf("%s: MigrateSSOLinks: nil *gorm.DB", name)
	}
	err := db.Session(&gorm.Session{NewDB: true, Context: ctx}).Transaction(func(tx *gorm.DB) error {
		for _, stmt := range ssoLinksDDL {
			if err := tx.Exec(stmt).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: migrate sso links: %w", name, err)
	}
	return nil
}

// SSOLinks is an sso.Links in SQL.
type SSOLinks struct {
	db   *gorm.DB
	name string
}

var _ sso.Links = (*SSOLinks)(nil)

// NewSSOLinks returns a links store on db. It runs no statement.
func NewSSOLinks(db *gorm.DB, name string) (*SSOLinks, error) {
	if db == nil {
		return nil, fmt.Errorf("%s: NewSSOLinks: nil *gorm.DB", name)
	}
	return &SSOLinks{db: db.Session(&gorm.Session{NewDB: true}), name: name}, nil
}

type linkRow struct {
	Provider   string
	SubjectKey string
	UserID     string
	CreatedAt  int64
	Mapped     string
}

type mapped struct {
	Grants []rbac.GrantKey `json:"grants,omitempty"`
	Groups []rbac.Subject  `json:"groups,omitempty"`
}

// Link implements sso.Links.
func (s *SSOLinks) Link(ctx context.Context, provider, key string) (sso.Link, error) {
	var rows []linkRow
	err := s.db.WithContext(ctx).Raw(`SELECT provider, subject_key, user_id, created_at, mapped FROM `+SSOLinksTable+
		` WHERE provider = ? AND subject_key = ?`, provider, key).Scan(&rows).Error
	if err != nil {
		return sso.Link{}, fmt.Errorf("%s: sso link: %w", s.name, err)
	}
	if len(rows) == 0 {
		return sso.Link{}, sso.ErrNotFound
	}
	r := rows[0]
	var m mapped
	if err := json.Unmarshal([]byte(r.Mapped), &m); err != nil {
		return sso.Link{}, fmt.Errorf("%s: sso link: stored mappings: %w", s.name, err)
	}
	return sso.Link{Provider: r.Provider, Key: r.SubjectKey, UserID: r.UserID, Created: time.Unix(0, r.CreatedAt).UTC(),
		Grants: m.Grants, Groups: m.Groups}, nil
}

// CreateLink implements sso.Links. A link to a user that does not exist is
// refused with sso.ErrNotFound.
func (s *SSOLinks) CreateLink(ctx context.Context, l sso.Link) error {
	b, err := json.Marshal(mapped{Grants: l.Grants, Groups: l.Groups})
	if err != nil {
		return fmt.Errorf("%s: create sso link: %w", s.name, err)
	}
	created := l.Created
	if created.IsZero() {
		created = time.Now()
	}
	// The user must exist: checked in the statement itself, since SQLite
	// enforces no foreign keys unless asked to.
	res := s.db.WithContext(ctx).Exec(`INSERT INTO `+SSOLinksTable+` (provider, subject_key, user_id, created_at, mapped) `+
		`SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM `+UsersTable+` WHERE id = ?)`,
		l.Provider, l.Key, l.UserID, created.UnixNano(), string(b), l.UserID)
	err = res.Error
	switch {
	case err == nil && res.RowsAffected == 0:
		return fmt.Errorf("%w: user %q", sso.ErrNotFound, l.UserID)
	case err == nil:
		return nil
	case isUnique(err):
		return sso.ErrExists
	case isForeignKey(err):
		return fmt.Errorf("%w: user %q", sso.ErrNotFound, l.UserID)
	}
	return fmt.Errorf("%s: create sso link: %w", s.name, err)
}

// SetMapped implements sso.Links.
func (s *SSOLinks) SetMapped(ctx context.Context, provider, key string, grants []rbac.GrantKey, groups []rbac.Subject) error {
	b, err := json.Marshal(mapped{Grants: grants, Groups: groups})
	if err != nil {
		return fmt.Errorf("%s: sso link mappings: %w", s.name, err)
	}
	res := s.db.WithContext(ctx).Exec(`UPDATE `+SSOLinksTable+` SET mapped = ? WHERE provider = ? AND subject_key = ?`, string(b), provider, key)
	if res.Error != nil {
		return fmt.Errorf("%s: sso link mappings: %w", s.name, res.Error)
	}
	if res.RowsAffected == 0 {
		return sso.ErrNotFound
	}
	return nil
}

// isForeignKey reports a foreign-key violation on PostgreSQL (23503) or
// SQLite.
func isForeignKey(err error) bool {
	var st sqlState
	if errors.As(err, &st) && st.SQLState() == "23503" {
		return true
	}
	return err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}
