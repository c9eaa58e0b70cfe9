package onboard

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"

	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/rbac/templates"
	"golang.org/x/text/unicode/norm"
)

// Positions maps position titles, as an HR system writes them, to the
// roles an employee in that position receives. Titles match without
// regard to case, accents (Trésorière, Tresoriere: many HR exports drop
// them), surrounding, repeated or non-breaking spaces, the form of an
// apostrophe (d'application, d’application) or of a hyphen (By-law,
// By‑law). Letters must match: a title written with look-alike letters
// from another script (a Cyrillic О in Officer) matches nothing and is
// refused. Two titles that would match each other are refused when the
// mapping is made, so folding never makes a title ambiguous. A Positions
// is immutable and safe for concurrent use.
type Positions struct {
	byTitle map[string][]rbac.RoleID
}

// NewPositions returns a mapping from titles to roles. Every title must
// be non-empty and map to at least one valid role id; two titles that
// match each other (they differ only in case or spacing) are an error.
// Emergency roles are refused when the policy is read (see [Service]):
// they are granted only for a window, never by position.
func NewPositions(titles map[string][]rbac.RoleID) (*Positions, error) {
	p := &Positions{byTitle: make(map[string][]rbac.RoleID, len(titles))}
	for _, title := range slices.Sorted(maps.Keys(titles)) {
		key, why := positionKey(title)
		if why != "" {
			return nil, fmt.Errorf("%w: position title %q: %s", ErrInvalidInput, title, why)
		}
		roles := titles[title]
		if len(roles) == 0 {
			return nil, fmt.Errorf("%w: position title %q maps to no role", ErrInvalidInput, title)
		}
		for _, r := range roles {
			if err := r.Validate(); err != nil {
				return nil, fmt.Errorf("%w: position title %q: %w", ErrInvalidInput, title, err)
			}
		}
		if _, dup := p.byTitle[key]; dup {
			return nil, fmt.Errorf("%w: position title %q is listed twice", ErrInvalidInput, title)
		}
		rs := slices.Clone(roles)
		slices.Sort(rs)
		p.byTitle[key] = slices.Compact(rs)
	}
	return p, nil
}

// extraTitles are the titles municipal HR systems use besides the
// templates' own labels, in English and French (both genders).
var extraTitles = map[rbac.RoleID][]string{
	"ap-clerk":         {"AP Clerk", "Accounts Payable Clerk", "Commis comptes fournisseurs", "Commis aux comptes à payer"},
	"bylaw-officer":    {"Bylaw Officer", "By-law Officer", "Bylaw Enforcement Officer", "Municipal Law Enforcement Officer", "Agente d'application des règlements municipaux", "Agent de la réglementation", "Agente de la réglementation", "Inspecteur municipal", "Inspectrice municipale"},
	"cao":              {"CAO", "City Manager", "Directrice générale", "DG"},
	"cbo":              {"CBO", "Chief Building Officer", "Cheffe du service du bâtiment", "Chef du bâtiment", "Cheffe du bâtiment"},
	"clerk":            {"Clerk", "City Clerk", "Town Clerk", "Greffière municipale", "Greffier", "Greffière"},
	"finance-director": {"Director of Finance", "Directrice des finances"},
	"fire-chief":       {"Chief of Fire Services", "Directrice du service d'incendie", "Chef pompier", "Cheffe pompière"},
	"it-admin":         {"IT Admin", "Systems Administrator", "Administratrice des TI", "Administrateur des systèmes", "Administratrice des systèmes"},
	"planner":          {"Urban Planner", "Land Use Planner", "Urbaniste principal", "Urbaniste principale"},
	"purchasing-agent": {"Buyer", "Procurement Officer", "Agente d'approvisionnement", "Acheteur", "Acheteuse"},
	"treasurer":        {"City Treasurer", "Trésorière"},
}

// DefaultPositions maps the titles of the shipped role templates
// (package rbac/templates) to them: each template's English and French
// labels, its id, and the usual variants (feminine French forms, short
// forms such as CAO and CBO). Emergency templates are left out.
func DefaultPositions() (*Positions, error) {
	set, err := templates.Default()
	if err != nil {
		return nil, err
	}
	return PositionsFromTemplates(set, extraTitles)
}

// PositionsFromTemplates maps each non-emergency template of set by its
// id and its labels in every language, plus the titles in extra.
func PositionsFromTemplates(set *templates.Set, extra map[rbac.RoleID][]string) (*Positions, error) {
	titles := map[string][]rbac.RoleID{}
	seen := map[string]string{}
	add := func(title string, id rbac.RoleID) error {
		key, _ := positionKey(title)
		if prev, ok := seen[key]; ok {
			if titles[prev][0] != id {
				return fmt.Errorf("%w: position title %q names two templates", ErrInvalidInput, title)
			}
			return nil
		}
		seen[key] = title
		titles[title] = []rbac.RoleID{id}
		return nil
	}
	for _, id := range set.IDs() {
		t, _ := set.Template(id)
		if t.Emergency {
			continue
		}
		names := []string{string(id)}
		for _, lang := range slices.Sorted(maps.Keys(t.Labels)) {
			names = append(names, t.Labels[lang])
		}
		names = append(names, extra[id]...)
		for _, n := range names {
			if err := add(n, id); err != nil {
				return nil, err
			}
		}
	}
	return NewPositions(titles)
}

// Roles returns the roles of the position with the given title.
func (p *Positions) Roles(title string) ([]rbac.RoleID, bool) {
	key, why := positionKey(title)
	if why != "" {
		return nil, false
	}
	rs, ok := p.byTitle[key]
	return slices.Clone(rs), ok
}

// Titles returns the mapped titles in their matching form (lower case),
// sorted.
func (p *Positions) Titles() []string { return slices.Sorted(maps.Keys(p.byTitle)) }

func positionKey(title string) (string, string) {
	s, why := cleanText(title, MaxPosition, true)
	if why != "" {
		return "", why
	}
	var b strings.Builder
	for _, c := range norm.NFD.String(strings.ToLower(s)) {
		switch {
		case unicode.Is(unicode.Mn, c): // an accent, decomposed
		case strings.ContainsRune("\u2018\u2019\u02bc\u02b9\u0060\u00b4\u2032\uff07", c):
			b.WriteByte('\'')
		case strings.ContainsRune("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", c):
			b.WriteByte('-')
		default:
			b.WriteRune(c)
		}
	}
	return norm.NFC.String(b.String()), ""
}
