// Command permits is the service a city team would write with this module:
// a permits API on net/http and gorm, over the embedded SQLite store (or
// PostgreSQL with -dsn), protected by iam/iamhttp.
//
//   - POST /login signs a clerk in (session cookie, id rotated at sign-in);
//   - GET /permits lists the permits the caller may read, filtered in SQL by
//     data scope, with each applicant's SIN shown only to callers who hold
//     permits.applicant.sin.view for that permit's department;
//   - POST /permits/{id}/approve requires permits.application.approve at the
//     permit's department, looked up from the permit;
//   - POST /admin/departments/{dept}/roles/{role}/members/{user} assigns a
//     role in a department, for holders of iam.role.assign there.
//
// The authorization code is the routes' declarations in app.go; the rest is
// the service. The same service written with Casbin alone is sketched in
// CASBIN.md, with line counts.
//
//	go run ./examples/permits            # prints demo accounts, serves on 127.0.0.1:8081
package main
