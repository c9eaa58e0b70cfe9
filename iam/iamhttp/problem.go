package iamhttp

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/apikey"
	"github.com/civic-platform/security/session/signin"
)

// ProblemContentType is the media type of every error response.
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem detail. Every field is safe to show a
// client: it never carries a credential, a subject other than the caller's
// own, the request's input or an internal error's text.
type Problem struct {
	// Type is a URN naming the kind of problem (see the Problem* constants).
	Type string `json:"type"`
	// Title is a short, fixed summary of the type.
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail is a fixed sentence telling the client what to do.
	Detail string `json:"detail,omitempty"`
	// RequestID correlates the response with the server's log line.
	RequestID string `json:"request_id,omitempty"`
	// Revision is the policy revision a denial was decided on.
	Revision int64 `json:"policy_revision,omitempty"`
}

// Problem types.
const (
	ProblemUnauthenticated = "urn:civic-security:problem:unauthenticated"
	ProblemForbidden       = "urn:civic-security:problem:forbidden"
	ProblemStepUp          = "urn:civic-security:problem:step-up-required"
	ProblemCrossOrigin     = "urn:civic-security:problem:cross-origin"
	ProblemBadRequest      = "urn:civic-security:problem:bad-request"
	ProblemNotFound        = "urn:civic-security:problem:not-found"
	ProblemConflict        = "urn:civic-security:problem:conflict"
	ProblemTooManyAttempts = "urn:civic-security:problem:too-many-attempts"
	ProblemUnavailable     = "urn:civic-security:problem:unavailable"
	ProblemInternal        = "urn:civic-security:problem:internal"
	ProblemUnsupported     = "urn:civic-security:problem:unsupported-media-type"
	ProblemTooLarge        = "urn:civic-security:problem:too-large"
	ProblemNotImplemented  = "urn:civic-security:problem:not-implemented"
	ProblemReadOnly        = "urn:civic-security:problem:read-only"
)

// problemOf maps an error to a client-safe problem. Errors of package iam
// take their status and message from iam.HTTPStatus and iam.PublicMessage
// (iam's one table); this function adds only what iam does not know: the
// identity packages' errors (session, apikey, signin) and this package's
// own. The precise sentinel comes first (an apikey refusal is a 401, a
// lock a 429).
func problemOf(err error) Problem {
	switch {
	case err == nil:
		return Problem{Type: ProblemInternal, Title: "Internal error", Status: http.StatusInternalServerError}
	case errors.Is(err, signin.ErrLocked):
		return Problem{Type: ProblemTooManyAttempts, Title: "Too many attempts", Status: http.StatusTooManyRequests,
			Detail: "Too many failed attempts. Try again later."}
	case errors.Is(err, session.ErrUnavailable), errors.Is(err, apikey.ErrUnavailable),
		errors.Is(err, session.ErrClosed), errors.Is(err, apikey.ErrClosed):
		return Problem{Type: ProblemUnavailable, Title: "Service unavailable", Status: http.StatusServiceUnavailable,
			Detail: "Authentication is temporarily unavailable. Retry shortly."}
	case errors.Is(err, session.ErrInvalidToken), errors.Is(err, apikey.ErrInvalidKey),
		errors.Is(err, signin.ErrInvalidCredentials), errors.Is(err, signin.ErrInvalidCode), errors.Is(err, signin.ErrMFARequired),
		errors.Is(err, errUnauthenticated), errors.Is(err, errConflicting):
		return Problem{Type: ProblemUnauthenticated, Title: "Authentication required", Status: http.StatusUnauthorized,
			Detail: "Sign in, or present a valid session token or API key."}
	case errors.Is(err, errCrossOrigin):
		return Problem{Type: ProblemCrossOrigin, Title: "Cross-origin request refused", Status: http.StatusForbidden,
			Detail: "Requests that change state must come from this site."}
	case errors.Is(err, apikey.ErrDenied), errors.Is(err, apikey.ErrNarrowed):
		return Problem{Type: ProblemForbidden, Title: "Forbidden", Status: http.StatusForbidden,
			Detail: "You do not have permission for this action."}
	case errors.Is(err, ErrTooLarge):
		return Problem{Type: ProblemTooLarge, Title: "Request too large", Status: http.StatusRequestEntityTooLarge,
			Detail: "The request body is larger than this endpoint accepts."}
	case errors.Is(err, ErrUnsupportedMediaType):
		return Problem{Type: ProblemUnsupported, Title: "Unsupported media type", Status: http.StatusUnsupportedMediaType,
			Detail: "Send the body as application/json."}
	case errors.Is(err, ErrNotImplemented):
		return Problem{Type: ProblemNotImplemented, Title: "Not implemented", Status: http.StatusNotImplemented,
			Detail: "This endpoint is not available on this server."}
	case errors.Is(err, apikey.ErrExists), errors.Is(err, signin.ErrExists),
		errors.Is(err, apikey.ErrState), errors.Is(err, signin.ErrAlreadyEnrolled):
		return Problem{Type: ProblemConflict, Title: "Conflict", Status: http.StatusConflict,
			Detail: "The change conflicts with the current state."}
	case errors.Is(err, ErrNotFound), errors.Is(err, apikey.ErrNotFound), errors.Is(err, signin.ErrNotFound),
		errors.Is(err, session.ErrNotFound), errors.Is(err, signin.ErrNotEnrolled):
		return Problem{Type: ProblemNotFound, Title: "Not found", Status: http.StatusNotFound, Detail: "No such resource."}
	case errors.Is(err, ErrBadRequest), errors.Is(err, session.ErrInvalidInput), errors.Is(err, apikey.ErrInvalidInput),
		errors.Is(err, signin.ErrInvalidInput), errors.Is(err, apikey.ErrNarrowingExceeds):
		return Problem{Type: ProblemBadRequest, Title: "Bad request", Status: http.StatusBadRequest,
			Detail: "The request is malformed or names something invalid."}
	}
	// iam's own errors: its status and its client-safe message.
	status := iam.HTTPStatus(err)
	p := Problem{Status: status, Title: http.StatusText(status), Detail: iam.PublicMessage(err)}
	switch {
	case errors.Is(err, iam.ErrStepUp):
		p.Type, p.Title = ProblemStepUp, "Second factor required"
	case status == http.StatusForbidden:
		p.Type = ProblemForbidden
	case status == http.StatusBadRequest:
		p.Type = ProblemBadRequest
	case status == http.StatusNotFound:
		p.Type = ProblemNotFound
	case status == http.StatusConflict:
		p.Type = ProblemConflict
	case status == http.StatusServiceUnavailable:
		p.Type = ProblemUnavailable
	case status == http.StatusMethodNotAllowed:
		p.Type = ProblemReadOnly
	default:
		p = Problem{Type: ProblemInternal, Title: "Internal error", Status: http.StatusInternalServerError,
			Detail: "The server could not complete the request."}
	}
	return p
}

// Status returns the HTTP status for an error returned by the iam, session,
// apikey or signin packages (or by this one): iam.HTTPStatus for iam's
// errors, and 401, 403, 400, 404, 409, 413, 415, 429, 501 or 503 for the
// others; 500 for anything none of them knows. A nil error is 500: a
// caller that has no error has nothing to report.
func Status(err error) int { return problemOf(err).Status }

// Sentinel errors for handlers that answer through [Middleware.Error].
var (
	// ErrBadRequest answers 400.
	ErrBadRequest = errors.New("iamhttp: bad request")
	// ErrNotFound answers 404: a record a scope lookup needed is absent.
	ErrNotFound = errors.New("iamhttp: not found")
	// ErrTooLarge answers 413.
	ErrTooLarge = errors.New("iamhttp: request body too large")
	// ErrUnsupportedMediaType answers 415.
	ErrUnsupportedMediaType = errors.New("iamhttp: unsupported media type")
	// ErrNotImplemented answers 501.
	ErrNotImplemented = errors.New("iamhttp: not implemented")

	errUnauthenticated = errors.New("iamhttp: no credential")
	errCrossOrigin     = errors.New("iamhttp: cross-origin request with a session cookie")
	errConflicting     = errors.New("iamhttp: credentials name different subjects")
	errPanic           = errors.New("iamhttp: handler panicked")
)

// Error answers err as a problem: the status from [Status], a client-safe
// title and detail, and the request id; err itself is logged, not sent. It
// replaces the errors.Is switch a handler would otherwise need. A refusal
// decided by the policy (an [iam.DeniedError]) carries the revision in
// X-Policy-Revision and in the problem.
func (m *Middleware) Error(w http.ResponseWriter, r *http.Request, err error) {
	m.fail(w, r, err, 0)
}

func (m *Middleware) fail(w http.ResponseWriter, r *http.Request, err error, revision int64) {
	p := problemOf(err)
	if errors.Is(err, errConflicting) {
		p.Detail = "Present one credential per request."
	}
	p.RequestID = requestID(r)
	var denied *iam.DeniedError
	if revision == 0 && errors.As(err, &denied) {
		revision = denied.Revision
	}
	p.Revision = revision
	h := w.Header()
	if revision > 0 {
		// A refusal names the revision it was decided on, like an allowed
		// request, so the client can wait for a grant it has just made.
		h.Set(RevisionHeader, strconv.FormatInt(revision, 10))
	}
	switch p.Status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="`+m.o.realm+`"`)
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", strconv.Itoa(m.o.retryAfter))
	case http.StatusTooManyRequests:
		h.Set("Retry-After", strconv.Itoa(retryAfterLocked(err, m.o.now())))
	case http.StatusForbidden:
		if p.Type == ProblemStepUp {
			h.Set("WWW-Authenticate", `Bearer realm="`+m.o.realm+`", error="insufficient_user_authentication", acr_values="mfa"`)
		}
	}
	level := slog.LevelInfo
	if p.Status >= 500 {
		level = slog.LevelError
	}
	m.o.logger.LogAttrs(r.Context(), level, "iamhttp: request refused",
		slog.Int("status", p.Status), slog.String("request_id", p.RequestID),
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
	WriteProblem(w, p)
}

// WriteProblem writes p as application/problem+json with p.Status.
func WriteProblem(w http.ResponseWriter, p Problem) {
	h := w.Header()
	h.Set("Content-Type", ProblemContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// requestID returns the request's X-Request-Id when it is a short token of
// safe characters (it is echoed), else a fresh random id.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 && safeToken(id) {
		return id
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func safeToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
