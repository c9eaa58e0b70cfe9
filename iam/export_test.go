package iam

// AdminOf returns an Admin that writes through the store a was built on and
// sends events to a's sink, as NewAdmin does. Tests of write semantics use
// it so that each need not keep the store beside the Authorizer; tests of
// where events go build their Admin with NewAdmin or NewOutboxAdmin.
func AdminOf(a *Authorizer) *Admin {
	w, _ := a.src.(PolicyWriter)
	return NewAdmin(a, w)
}
