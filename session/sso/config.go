package sso

import (
	"fmt"
	"slices"
	"strings"

	"github.com/civic-platform/security/rbac"
)

// Provider is the linking and mapping configuration of one identity
// provider. The zero value (apart from Name) links nothing: only
// identities already linked to a user can sign in.
type Provider struct {
	// Name identifies the provider in links and events ("entra", "adfs");
	// printable ASCII, at most 64 bytes. It must match [Identity.Provider].
	Name string
	// EmailDomains are the domains this provider is authoritative for: an
	// identity that is not linked yet, with a verified email in one of
	// them, is linked to the existing user with that email. Outside these
	// domains, or with an unverified email, an email never links.
	EmailDomains []string
	// JIT, when set, lets a first sign-in create the user.
	JIT *JIT
	// DepartmentAttribute names the attribute that carries the person's
	// department id ("department"); new users get it, and [UserDepartment]
	// mappings resolve to it. Empty: the user record's department.
	DepartmentAttribute string
	// Mappings turn claims into grants and group memberships, applied on
	// every sign-in.
	Mappings []Mapping
}

// JIT is the just-in-time provisioning rule of a provider. Every listed
// condition must hold; an empty list does not restrict.
type JIT struct {
	// Tenants are the directory (Entra tid) values allowed to provision.
	Tenants []string
	// Domains are the email domains allowed to provision; the email must
	// also be verified. Required: a provider that may create users for any
	// domain is a configuration mistake.
	Domains []string
	// Department is given to new users whose identity carries no
	// department attribute.
	Department string
}

// UserDepartment as a [Mapping] scope stands for the department of the
// user who signs in: "dept:<their department>". A user without a
// department gets no grant from such a mapping.
const UserDepartment rbac.Scope = "dept:{department}"

// Mapping grants a role at a scope, or a group membership, to everyone
// whose identity matches. Exactly one condition: Group (a value of the
// groups claim) or Attribute with Value.
type Mapping struct {
	Group            string
	Attribute, Value string

	// Role at Scope is granted (Scope may be [UserDepartment]); Role may
	// be a role template's id, such as "bylaw-officer".
	Role  rbac.RoleID
	Scope rbac.Scope
	// Member, when set, is a group subject the user joins ("group:bylaw").
	Member rbac.Subject
}

// dependsOnGroups reports whether m reads the groups claim.
func (m Mapping) dependsOnGroups() bool { return m.Group != "" }

func (m Mapping) matches(id Identity) bool {
	if m.Group != "" {
		return !id.GroupsUnknown && slices.Contains(id.Groups, m.Group)
	}
	return slices.Contains(id.Attributes[m.Attribute], m.Value)
}

func (p Provider) check() error {
	if !visibleASCII(p.Name, 64) {
		return fmt.Errorf("%w: provider name must be 1-64 bytes of printable ASCII", ErrInvalidConfig)
	}
	if p.JIT != nil && len(p.JIT.Domains) == 0 {
		return fmt.Errorf("%w: provider %s: just-in-time provisioning needs email domains", ErrInvalidConfig, p.Name)
	}
	for i, m := range p.Mappings {
		if (m.Group == "") == (m.Attribute == "") || (m.Attribute != "" && m.Value == "") {
			return fmt.Errorf("%w: provider %s: mapping %d needs exactly one of group or attribute=value", ErrInvalidConfig, p.Name, i)
		}
		if m.Role == "" && m.Member == "" {
			return fmt.Errorf("%w: provider %s: mapping %d grants nothing", ErrInvalidConfig, p.Name, i)
		}
		if m.Role != "" && m.Scope != UserDepartment {
			if err := m.Scope.Validate(); err != nil {
				return fmt.Errorf("%w: provider %s: mapping %d: %w", ErrInvalidConfig, p.Name, i, err)
			}
		}
		if m.Member != "" {
			if err := m.Member.Validate(); err != nil || m.Member.Kind() != rbac.Group {
				return fmt.Errorf("%w: provider %s: mapping %d: member must be a group subject", ErrInvalidConfig, p.Name, i)
			}
		}
	}
	return nil
}

func inDomains(email string, domains []string) bool {
	d := Domain(email)
	for _, x := range domains {
		if d != "" && strings.EqualFold(d, x) {
			return true
		}
	}
	return false
}
