// Command privacy plays the Privacy Officer's review of who can see Social
// Insurance Numbers, on the embedded SQLite store in a temporary directory:
//
//  1. list the roles and the people that hold crm.citizen.sin.view, with the
//     path that gives each one;
//
//  2. remove the permission from the Tax Assessment Officer role, in one
//     audited change;
//
//  3. list again, and show a citizen record as a former Tax Assessment
//     Officer sees it (SIN masked) and as a Payroll Processor sees it (SIN
//     shown, and the view recorded as a pii.viewed event).
//
//     go run ./examples/privacy
package main
