package iam

// Verify checks every rule of sc against the policy v answers from, as the
// Scoper's first use would, and fixes the outcome: a rule naming a role the
// policy does not declare, an exact permission it does not know, or a
// wildcard that covers no permission it knows is refused with a
// [*DataRuleError] wrapping [ErrInvalidInput], and every later use of sc
// fails with the same error. Call it at start-up with [Authorizer.View]
// so that a misconfigured rule stops the service before the first request.
// A Scoper already checked (by Verify or by use) returns the outcome of
// that first check. A view that cannot be used returns [View.Err].
func (sc *Scoper) Verify(v *View) error {
	if err := v.Err(); err != nil {
		return err
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if !sc.checked {
		sc.checked = true
		sc.refusal = sc.check(v.s.policy)
	}
	return sc.refusal
}
