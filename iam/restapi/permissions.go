package restapi

import "github.com/civic-platform/security/iam"

// The permissions that govern the API. Grant them through roles like any
// other permission; iam.* covers them all.
const (
	PermDecisionCheck   iam.Permission = "iam.decision.check"   // batch checks for any subject
	PermDecisionExplain iam.Permission = "iam.decision.explain" // explain a decision
	PermAccessReview    iam.Permission = "iam.access.review"    // who can, at the scope asked
	PermDecisionFilter  iam.Permission = "iam.decision.filter"  // a subject's data filter
	PermUserList        iam.Permission = "iam.user.list"
	PermUserView        iam.Permission = "iam.user.view"
	PermAssignmentList  iam.Permission = "iam.assignment.list"
	PermRoleList        iam.Permission = "iam.role.list"
	PermRoleAssign      iam.Permission = "iam.role.assign" // at the grant's scope
	PermRoleRevoke      iam.Permission = "iam.role.revoke" // at the grant's scope
	PermEmergencyStart  iam.Permission = "iam.emergency.activate"
	PermEmergencyEnd    iam.Permission = "iam.emergency.end"
	PermAccountCreate   iam.Permission = "iam.service_account.create"
	PermAccountList     iam.Permission = "iam.service_account.list"
	PermKeyCreate       iam.Permission = "iam.apikey.create"
	PermKeyList         iam.Permission = "iam.apikey.list"
	PermKeyRotate       iam.Permission = "iam.apikey.rotate"
	PermKeyRevoke       iam.Permission = "iam.apikey.revoke"
	PermKeyReport       iam.Permission = "iam.apikey.report"
)

// Permissions lists every permission the API requires, for a service's
// permission catalog.
var Permissions = []iam.Permission{
	PermDecisionCheck, PermDecisionExplain, PermAccessReview, PermDecisionFilter,
	PermUserList, PermUserView, PermAssignmentList, PermRoleList, PermRoleAssign, PermRoleRevoke,
	PermEmergencyStart, PermEmergencyEnd,
	PermAccountCreate, PermAccountList, PermKeyCreate, PermKeyList, PermKeyRotate, PermKeyRevoke, PermKeyReport,
}

// AdminRole is a role holding every permission of the API.
var AdminRole = iam.Role{ID: "iam-admin", Permissions: []iam.Permission{"iam.*"}}
