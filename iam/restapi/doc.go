// Package restapi serves the iam library over HTTP and JSON at /api/v1, for
// services not written in Go: sign-in and sessions, decisions (check,
// explain, who-can, data filters), users, roles and assignments, emergency
// access, and service accounts with their API keys.
//
// The API is governed by the policy it serves: every endpoint that reads or
// changes access requires a permission of the iam module itself
// ([PermUserList], [PermRoleAssign], [PermKeyRotate], ...), checked by
// iam/iamhttp before the handler runs, so an administrator is simply someone
// granted a role holding iam.* (see [AdminRole]). The authentication
// endpoints are the exception: login and the SSO callbacks create the
// caller's identity, and MFA verification, logout and the session endpoint
// act only on the caller's own session.
//
// Requests are JSON (Content-Type application/json), bounded in size
// ([MaxBody]); unknown fields, trailing data and other media types are
// refused. Every error is an RFC 9457 problem with a client-safe message.
// The OpenAPI 3.1 description is served at /api/v1/openapi.json and kept in
// this package (openapi.json); a test holds the router and the document to
// each other.
//
// An API is safe for concurrent use.
package restapi
