package rbac

import (
	"slices"
	"strconv"
)

// QuarantinedRow is a stored policy row that a store could not load as
// part of the model: written by another tool (a plain Casbin enforcer, a
// hand-written SQL statement) with a value this package refuses, without
// the twin or the declaration it needs, or in a shape the model has no
// place for. A quarantined row grants nothing. So that the policy never
// allows what the same rows would make Casbin deny, every subject in
// Blocks is denied every permission while the row stays (members of a
// blocked group or unit too). A store loads the rest of the policy and
// reports the row; an administrator removes it with [Change.DeleteRows].
type QuarantinedRow struct {
	// ID is the row's primary key in the store (casbin_rule.id).
	ID int64
	// PType and Values are the row as stored ("p", "g", "g2", "g3").
	PType  string
	Values []string
	// Reason says why the row was not loaded.
	Reason string
	// Blocks lists the subjects the row could make Casbin deny: every
	// check for them denies with [ReasonQuarantined].
	Blocks []Subject
}

func (q QuarantinedRow) clone() QuarantinedRow {
	q.Values = slices.Clone(q.Values)
	q.Blocks = slices.Clone(q.Blocks)
	return q
}

// Quarantine returns the rows the policy was loaded without, in model
// order. It is empty for a policy whose rows all loaded.
func (p *Policy) Quarantine() []QuarantinedRow {
	out := make([]QuarantinedRow, len(p.quarantine))
	for i, q := range p.quarantine {
		out[i] = q.clone()
	}
	return out
}

// Quarantined reports whether every check for sub denies because a
// quarantined row blocks it, or a group or unit it belongs to.
func (p *Policy) Quarantined(sub Subject) bool {
	if si, ok := p.subject(sub); ok {
		return p.blocked != nil && p.blocked[si]
	}
	for _, q := range p.quarantine {
		if slices.Contains(q.Blocks, sub) {
			return true
		}
	}
	return false
}

// markBlocked sets the blocked flag of every subject that a quarantined
// row blocks, and of every member of a blocked group or unit.
func (p *Policy) markBlocked(rows []QuarantinedRow) {
	p.quarantine = make([]QuarantinedRow, len(rows))
	blocked := map[Subject]bool{}
	for i, q := range rows {
		p.quarantine[i] = q.clone()
		for _, s := range q.Blocks {
			blocked[s] = true
		}
	}
	if len(blocked) == 0 {
		return
	}
	p.blocked = make([]bool, len(p.subjects))
	for i := range p.subjects {
		s := &p.subjects[i]
		if blocked[s.name] {
			p.blocked[i] = true
			continue
		}
		for _, c := range p.members[s.mstart:s.mend] {
			if blocked[p.subjects[c].name] {
				p.blocked[i] = true
				break
			}
		}
	}
}

// deleteRows removes the quarantined rows ids names from m.
func (m *Model) deleteRows(ids []int64) error {
	for _, id := range ids {
		i := slices.IndexFunc(m.Quarantine, func(q QuarantinedRow) bool { return q.ID == id })
		if i < 0 {
			return &NotFoundError{Kind: "quarantined row", Name: strconv.FormatInt(id, 10)}
		}
		m.Quarantine = slices.Delete(m.Quarantine, i, i+1)
	}
	return nil
}
