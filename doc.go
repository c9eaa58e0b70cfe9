// Package security is the root of the Civic platform's identity and
// authorization module; it holds no code. A service imports its
// subpackages:
//
//   - iam: the facade most services use. iam.New builds an Authorizer over
//     a policy store; Check, Require, Explain, Filter and the masking
//     helpers answer "may this subject do this, here?", and an Admin built
//     from the Authorizer and a writer changes the policy.
//   - rbac, abac, masking: the pure rules behind those answers (roles,
//     scopes and grants; data-scope filters; field masking).
//   - session and its subpackages: session tokens, password and TOTP
//     sign-in, OpenID Connect and SAML single sign-on, API keys and
//     onboarding from HR records.
//   - adapters: policy and session stores (memstore, sqlitestore, pgstore,
//     redisstore) and the PostgreSQL notifier and outbox relay.
//   - iamtest: a test kit for services that build on iam.
//
// The module root's tests hold the package boundaries (the core imports no
// database driver, Casbin or adapter) and check that a service on one store
// links only that store's driver.
package security
