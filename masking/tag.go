package masking

import "reflect"

// Struct tag keys read by the Engine.
const (
	tagIAM  = "iam"
	tagMask = "mask"
	tagPII  = "pii"

	// keyTag is the iam tag value that marks a record's key field.
	keyTag = "key"
)

// tagSpec is what the tags of one struct field say, before the field's type
// is taken into account.
type tagSpec struct {
	key  bool   // iam:"key"
	rule bool   // iam or mask present: the field is masked
	perm string // unmasking permission, "" for always masked
	mask string // mask name; "redact" when only iam is given
	pii  bool   // report unmasked reads to the viewed callback
}

// parseTag reads the iam, mask and pii keys of a struct tag. On failure it
// returns a reason for a TagError.
func parseTag(tag reflect.StructTag) (tagSpec, string) {
	iam, hasIAM := tag.Lookup(tagIAM)
	mask, hasMask := tag.Lookup(tagMask)
	pii, hasPII := tag.Lookup(tagPII)

	if hasIAM && iam == keyTag {
		if hasMask || hasPII {
			return tagSpec{}, `the key field cannot also have a mask or pii tag`
		}
		return tagSpec{key: true}, ""
	}
	if !hasIAM && !hasMask {
		if hasPII {
			return tagSpec{}, `pii tag without an iam or mask tag`
		}
		return tagSpec{}, ""
	}
	spec := tagSpec{rule: true, pii: true, mask: MaskRedact}
	if hasIAM {
		if !validPermission(iam) {
			return tagSpec{}, `iam must be "key" or a permission of 3 or 4 dot-separated segments of [a-z0-9_]`
		}
		spec.perm = iam
	}
	if hasMask {
		if !validName(mask) {
			return tagSpec{}, `mask must be a name of [a-z0-9_]`
		}
		spec.mask = mask
	}
	if hasPII {
		switch pii {
		case "true":
		case "false":
			spec.pii = false
		default:
			return tagSpec{}, `pii must be "true" or "false"`
		}
	}
	return spec, ""
}

// validPermission reports whether p is 3 or 4 non-empty dot-separated
// segments of lower-case ASCII letters, digits and underscores:
// "crm.citizen.view", "crm.citizen.sin.view".
func validPermission(p string) bool {
	segs, n := 1, 0
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '.':
			if n == 0 {
				return false
			}
			segs++
			n = 0
		case isNameByte(c):
			n++
		default:
			return false
		}
	}
	return n > 0 && (segs == 3 || segs == 4)
}

// validName reports whether s is a non-empty mask name of [a-z0-9_].
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

func isNameByte(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
}
