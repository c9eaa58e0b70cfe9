package session_test

import (
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/session"
)

// iam's sinks are session event sinks.
var (
	_ session.EventSink = iam.AuditSink(nil)
	_ session.EventSink = (*iamtest.Recorder)(nil)
)
