package masking_test

import (
	"testing"

	"github.com/civic-platform/security/masking"
)

type sharedPart struct {
	Email string `iam:"crm.citizen.email.view" mask:"email"`
	Next  *sharedPart
	Owner *sharedRec
}

type sharedRec struct {
	ID   string `iam:"key"`
	Part *sharedPart
	Mail string `iam:"crm.citizen.email.view" mask:"email"`
}

// TestMaskRecordsSharedPart checks that a part two records share, in a
// value graph with cycles (part to part, part back to its record), is shown
// only if both records may show it, whichever comes first, and that each
// record's own fields are still decided for it alone.
func TestMaskRecordsSharedPart(t *testing.T) {
	t.Parallel()
	var eng masking.Engine
	may := func(_ string, rec any) bool {
		r, ok := rec.(sharedRec)
		return ok && r.ID == "yes"
	}
	for _, yesFirst := range []bool{true, false} {
		part := &sharedPart{Email: "jane@example.ca"}
		part.Next = part
		yes := &sharedRec{ID: "yes", Part: part, Mail: "jane@example.ca"}
		no := &sharedRec{ID: "no", Part: part, Mail: "jane@example.ca"}
		part.Owner = yes
		list := []*sharedRec{yes, no}
		if !yesFirst {
			list = []*sharedRec{no, yes}
		}
		cp, err := eng.MaskCopyRecords(list, may, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.MaskRecords(&list, may, nil); err != nil {
			t.Fatal(err)
		}
		for _, l := range [][]*sharedRec{list, cp.([]*sharedRec)} {
			for _, r := range l {
				if r.Part.Email == "jane@example.ca" {
					t.Errorf("yes first = %v: the part shared with record %q shows its email", yesFirst, r.ID)
				}
				if got := r.Mail == "jane@example.ca"; got != (r.ID == "yes") {
					t.Errorf("yes first = %v: record %q own field shown = %v", yesFirst, r.ID, got)
				}
			}
		}
	}
}
