// Package reports builds the reviews a city's auditors and managers ask
// for, from a read-only [iam.View] of the policy snapshot an Authorizer
// answers from:
//
//   - [Compliance]: every violation of a segregation-of-duties rule, waived
//     ones marked, exported as CSV or JSON;
//   - [Certification]: every grant in a department, for its manager to
//     confirm or revoke;
//   - [AccessReview]: who may use a permission, and through which path;
//   - [DryRunRemove]: who would lose what if a rule were removed from a
//     role;
//   - [Assignments]: the grants that reach a subject and the roles it holds
//     through them, with their paths;
//   - [EmergencyReview]: the post-incident review of an emergency
//     activation, from the events the audit sink collected;
//   - [PIIAccess]: the Privacy Officer's field-access review: which roles
//     and people hold each field-level permission guarding personal
//     information, through which path, and the pii.viewed counts per role
//     and field over a period, for a PIPEDA or MFIPPA file.
//
// # What a report evidences
//
// Every report document carries a [Header]: the controls it is evidence
// for ([Controls]; SOC 2, NIST CSF 2.0 and ISO/IEC 27001:2022, each
// listed only where the report is what an auditor tests the control
// with), the period it covers, the policy revision it read, when it was
// generated and by whom (the caller fills GeneratedBy), and the schema
// version of its JSON form. JSON documents have it under "header"; CSV
// exports end with "evidence,<name>,<value>" rows, padded to the table's
// width, so the first row stays the column header.
//
// A report reads the view only, never the store: it describes exactly the
// policy checks decide on, at the view's revision and instant, and costs no
// database round trip. What the policy means — inheritance, composites,
// deny rules, wildcards, grant windows, memberships and the scope tree — is
// asked of the compiled policy (package rbac), so a report and a check
// never disagree. A view of a closed or stale Authorizer is refused with
// its error ([iam.ErrClosed], [iam.ErrStale]).
//
// Every report type marshals to JSON with lower-case snake_case keys and
// RFC 3339 times; the CSV exports neutralise spreadsheet formulas.
package reports
