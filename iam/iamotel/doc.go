// Package iamotel records what the iam library does with OpenTelemetry:
// spans for HTTP requests (through iam/iamhttp), sign-ins and policy
// reloads, and metrics for decisions, reloads, staleness, the session
// cache, sign-in failures and lockouts.
//
// It uses the OpenTelemetry API only; a service (or cmd/iamd) installs the
// SDK and exporters and hands their providers to [New]. Nothing is
// recorded by a library component that was not given a [Telemetry], and
// then the hot paths neither read the clock nor allocate for it.
//
//	tel, err := iamotel.New(tracerProvider, meterProvider)
//	authz, err := iam.New(ctx, store, iam.WithObserver(tel))
//	sessions, err := session.New(store, keys, session.WithObserver(tel))
//	signins, err := signin.New(users, sealer, signin.WithEvents(tel.Sink(audit)))
//	mw, err := iamhttp.New(authz, iamhttp.WithTelemetry(tel))
//	stop, err := tel.WatchAuthorizer(authz) // staleness and revision gauges
//
// # Metrics
//
// Instrument names and attributes (never a subject, a scope or a
// credential; the permission's module is the finest label, and at most
// [MaxModules] distinct modules are labelled before the rest are counted
// as "other"):
//
//	iam.decisions              counter   module, outcome (allowed|denied|error)
//	iam.check.duration         histogram module (seconds)
//	iam.policy.reloads         counter   outcome (ok|error)
//	iam.policy.reload.duration histogram (seconds)
//	iam.policy.staleness       gauge     seconds since the policy was confirmed current
//	iam.policy.revision        gauge     revision in use
//	iam.session.lookups        counter   cache (hit|miss), outcome (ok|refused); hit rate = hit / all
//	iam.signin.failures        counter   reason (bad_password, unknown_user, locked, ...)
//	iam.signin.lockouts        counter   scope (client|account)
//	iam.http.requests          counter   method, status class (2xx..5xx)
//
// A Telemetry is safe for concurrent use.
package iamotel
