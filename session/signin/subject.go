package signin

import "github.com/civic-platform/security/rbac"

func subjectOf(userID string) rbac.Subject {
	if userID == "" {
		return ""
	}
	return rbac.Subject("user:" + userID)
}
