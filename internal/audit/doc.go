// Package audit makes the ids of domain events (iam.Event) for every
// package that makes events: the facade, the session layer and the API-key
// manager.
package audit
