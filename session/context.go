package session

import "context"

type ctxKey struct{}

// NewContext returns a copy of ctx carrying s, for the handlers behind an
// authentication middleware.
func NewContext(ctx context.Context, s Session) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// FromContext returns the session NewContext put in ctx, and whether there
// was one.
func FromContext(ctx context.Context) (Session, bool) {
	s, ok := ctx.Value(ctxKey{}).(Session)
	return s, ok
}
