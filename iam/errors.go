package iam

import (
	"context"
	"errors"
	"net/http"
)

// errorClass is one row of the table in the package documentation: a
// sentinel, the HTTP status it stands for, and the message a client may
// see. The order matters only for refinements (ErrStepUp is a kind of
// ErrDenied; rbac.ErrEmergency a kind of ErrInvalidInput), listed before
// their umbrella.
type errorClass struct {
	err     error
	status  int
	message string
}

var errorClasses = []errorClass{
	{ErrStepUp, http.StatusForbidden, "multi-factor authentication required: verify a second factor and retry"},
	{ErrDenied, http.StatusForbidden, "access denied"},
	{ErrInvalidInput, http.StatusBadRequest, "invalid request"},
	{ErrNotFound, http.StatusNotFound, "not found"},
	{ErrExists, http.StatusConflict, "already exists"},
	{ErrConflict, http.StatusConflict, "refused by a segregation-of-duties rule"},
	{ErrChanged, http.StatusConflict, "changed since it was read: read it again and retry"},
	{ErrReadOnly, http.StatusMethodNotAllowed, "policy changes are not accepted here"},
	{ErrStale, http.StatusServiceUnavailable, "authorization is temporarily unavailable: retry shortly"},
	{ErrClosed, http.StatusServiceUnavailable, "authorization is temporarily unavailable: retry shortly"},
}

// classOf returns the row of err, or nil for an error iam does not know.
func classOf(err error) *errorClass {
	for i := range errorClasses {
		if errors.Is(err, errorClasses[i].err) {
			return &errorClasses[i]
		}
	}
	return nil
}

// HTTPStatus returns the HTTP status that stands for err, following the
// table in the package documentation: 403 for a denial (and a step-up),
// 400 for invalid input, 404, 409 for an existing grant, a
// segregation-of-duties refusal or a change made since reading, 405 for a
// write without a writer, 503 for a stale or closed Authorizer or a done
// context, and 500 for any error iam does not know (a store failure, a
// bug). A nil error is 200.
func HTTPStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	if c := classOf(err); c != nil {
		return c.status
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// PublicMessage returns a message about err that is safe to show a
// client: a fixed text per sentinel from the table in the package
// documentation, never the error's own text, which may name subjects,
// roles, scopes, paths, revisions or store details. Log err itself for
// operators. An error iam does not know gets "internal error"; nil gets
// "".
func PublicMessage(err error) string {
	if err == nil {
		return ""
	}
	if c := classOf(err); c != nil {
		return c.message
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "authorization is temporarily unavailable: retry shortly"
	}
	return "internal error"
}
