package rbac

import "strings"

// ID returns the part of the subject after the colon ("alice" for
// "user:alice"), or "" if it has no colon. With [Subject.Kind] it takes a
// subject apart; it does not validate.
func (s Subject) ID() string {
	_, id, _ := strings.Cut(string(s), ":")
	return id
}
