package abac

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on rule text. They keep parsing and the rendered SQL small.
const (
	MaxRuleLen    = 4096 // bytes of rule text
	MaxConditions = 32   // conditions joined by "and"
	MaxNameLen    = 64   // bytes in a field or attribute name
	MaxListLen    = 256  // literals in one "in (...)" list
)

// A Rule is a parsed data-scope rule: conditions joined by "and", each
// comparing a record field with a subject attribute or with constants.
// Bind it to a subject with [Rule.Bind] or [FilterFor].
//
// The zero Rule has no conditions and binds to nothing. A Rule is immutable
// and safe for concurrent use.
type Rule struct {
	conds []ruleCond
}

type ruleCond struct {
	field string
	op    Op
	attr  string // subject attribute; "" when the operand is lits (or none)
	lits  []any  // literals: all string or all int64
}

// Attributes are a subject's attributes: name to values. An attribute used
// with = or != must have exactly one value; one used with "in" may have
// several. Values are strings or integers (any Go integer type); give them
// the type of the column they are compared with (see the package
// documentation).
//
//	abac.Attributes{"id": {"u-17"}, "ward": {7}, "departments": {"roads", "parks"}}
type Attributes map[string][]any

// ParseRule parses rule text. The grammar, with keywords in any case and
// names matching [a-z_][a-z0-9_]* (at most [MaxNameLen] bytes):
//
//	rule    = cond { "and" cond }
//	cond    = field ( ("=" | "==" | "!=") operand
//	                | "in" ( attr | "(" literal { "," literal } ")" )
//	                | "is" [ "not" ] "null" )
//	operand = attr | literal
//	attr    = "subject" "." name
//	literal = string | integer
//	string  = "'" { any character but a control character; '' for ' } "'"
//	integer = [ "-" ] digit { digit }        (fits in int64)
//
// Examples:
//
//	ward = subject.ward
//	department in subject.departments and status in ('open', 'pending')
//	owner = subject.id and facility is null
//	ward = 7 and status != 'closed'
//
// The field names and, in, is, not, null, or and subject are reserved. A
// list may not mix strings and integers. Whitespace is space, tab, CR and
// LF; anything else outside a string literal, text longer than
// [MaxRuleLen] (as given, or as [Rule.String] would write it) and rules
// with more than [MaxConditions] conditions are rejected with a
// [*ParseError] that wraps [ErrInvalidRule].
func ParseRule(text string) (Rule, error) {
	if len(text) > MaxRuleLen {
		return Rule{}, &ParseError{Offset: MaxRuleLen, Reason: fmt.Sprintf("rule longer than %d bytes", MaxRuleLen)}
	}
	p := parser{s: text}
	conds, err := p.rule()
	if err != nil {
		return Rule{}, err
	}
	r := Rule{conds: conds}
	// The canonical form can be longer than the input ("a=1" becomes
	// "a = 1"); keep it within the limit so that String always parses.
	if n := len(r.String()); n > MaxRuleLen {
		return Rule{}, &ParseError{Offset: 0, Reason: fmt.Sprintf("rule longer than %d bytes when written as by Rule.String (%d)", MaxRuleLen, n)}
	}
	return r, nil
}

// String returns the rule in canonical syntax: lower-case keywords, single
// spaces, "=" for "==". ParseRule(r.String()) returns a rule equal to r.
func (r Rule) String() string {
	var b []byte
	for i, c := range r.conds {
		if i > 0 {
			b = append(b, " and "...)
		}
		b = append(b, c.field...)
		b = append(b, ' ')
		b = append(b, c.op.String()...)
		switch {
		case c.attr != "":
			b = append(b, " subject."...)
			b = append(b, c.attr...)
		case c.op == OpIn:
			b = append(b, " ("...)
			for j, x := range c.lits {
				if j > 0 {
					b = append(b, ", "...)
				}
				b = appendLiteral(b, x)
			}
			b = append(b, ')')
		case len(c.lits) == 1:
			b = append(b, ' ')
			b = appendLiteral(b, c.lits[0])
		}
	}
	return string(b)
}

// Fields returns the record fields r reads, in order, without duplicates.
// Use it to check when rules are loaded that every field has a column.
func (r Rule) Fields() []string {
	var out []string
	for _, c := range r.conds {
		dup := false
		for _, f := range out {
			if f == c.field {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, c.field)
		}
	}
	return out
}

// Bind substitutes the subject's attributes into r. It returns false, and
// the rule matches nothing for this subject, when r has no conditions, an
// attribute r uses is missing or has no values, an attribute used with = or
// != has more than one value, or a value is neither a string nor an
// integer. A missing attribute never widens a rule.
//
// The returned Conj does not share memory with r or subject.
func (r Rule) Bind(subject Attributes) (Conj, bool) {
	if len(r.conds) == 0 {
		return nil, false
	}
	n := 0
	for _, c := range r.conds {
		if c.attr != "" {
			vals := subject[c.attr]
			if len(vals) == 0 || (len(vals) > 1 && c.op != OpIn) {
				return nil, false
			}
			n += len(vals)
		} else {
			n += len(c.lits)
		}
	}
	conj := make(Conj, len(r.conds))
	backing := make([]any, n)
	for i, c := range r.conds {
		src := c.lits
		if c.attr != "" {
			src = subject[c.attr]
		}
		vals := backing[:len(src):len(src)]
		backing = backing[len(src):]
		for j, x := range src {
			v, ok := canonical(x)
			if !ok {
				return nil, false
			}
			vals[j] = v
		}
		if len(vals) == 0 {
			vals = nil
		}
		conj[i] = Cond{Field: c.field, Op: c.op, Values: vals}
	}
	return conj, true
}

// FilterFor binds every rule to the subject and returns the Filter matching
// records that any bound rule matches. Rules that do not bind (see
// [Rule.Bind]) contribute nothing; with none left the result is [None].
func FilterFor(subject Attributes, rules ...Rule) Filter {
	var alts []Conj
	for _, r := range rules {
		if c, ok := r.Bind(subject); ok {
			if alts == nil {
				alts = make([]Conj, 0, len(rules))
			}
			alts = append(alts, c)
		}
	}
	return Filter{Any: alts}
}

// parser is a recursive-descent parser over the rule text.
type parser struct {
	s   string
	pos int
}

func (p *parser) fail(off int, format string, args ...any) error {
	return &ParseError{Offset: off, Reason: fmt.Sprintf(format, args...)}
}

func (p *parser) skipSpace() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func isWordByte(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// word scans a run of ASCII letters, digits and underscores at the current
// position (after whitespace) without consuming it.
func (p *parser) word() (w string, start int) {
	p.skipSpace()
	start = p.pos
	end := start
	for end < len(p.s) && isWordByte(p.s[end]) {
		end++
	}
	return p.s[start:end], start
}

// describe names what is at off, for error messages.
func (p *parser) describe(off int) string {
	if off >= len(p.s) {
		return "end of rule"
	}
	c := p.s[off]
	if isWordByte(c) {
		end := off
		for end < len(p.s) && isWordByte(p.s[end]) && end-off < 32 {
			end++
		}
		return strconv.Quote(p.s[off:end])
	}
	if c < utf8.RuneSelf {
		return fmt.Sprintf("%q", rune(c))
	}
	r, size := utf8.DecodeRuneInString(p.s[off:])
	if r == utf8.RuneError && size <= 1 {
		return "invalid UTF-8"
	}
	return fmt.Sprintf("%q (%U)", r, r)
}

func isKeyword(w, kw string) bool { return strings.EqualFold(w, kw) }

var reserved = [...]string{"and", "in", "is", "not", "null", "or", "subject"}

func isReserved(w string) bool {
	for _, r := range reserved {
		if strings.EqualFold(w, r) {
			return true
		}
	}
	return false
}

// name consumes a field or attribute name.
func (p *parser) name(what string) (string, error) {
	w, start := p.word()
	if w == "" {
		return "", p.fail(start, "expected %s name, found %s", what, p.describe(start))
	}
	if len(w) > MaxNameLen {
		return "", p.fail(start, "%s name longer than %d bytes", what, MaxNameLen)
	}
	if c := w[0]; '0' <= c && c <= '9' {
		return "", p.fail(start, "%s name %q starts with a digit", what, w)
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; 'A' <= c && c <= 'Z' {
			return "", p.fail(start+i, "%s name %q must be lower-case", what, w)
		}
	}
	p.pos = start + len(w)
	return w, nil
}

func (p *parser) rule() ([]ruleCond, error) {
	p.skipSpace()
	if p.pos == len(p.s) {
		return nil, p.fail(p.pos, "empty rule")
	}
	var conds []ruleCond
	for {
		if len(conds) == MaxConditions {
			return nil, p.fail(p.pos, "more than %d conditions", MaxConditions)
		}
		c, err := p.cond()
		if err != nil {
			return nil, err
		}
		conds = append(conds, c)
		w, start := p.word()
		switch {
		case start == len(p.s):
			return conds, nil
		case isKeyword(w, "and"):
			p.pos = start + len(w)
		case isKeyword(w, "or"):
			return nil, p.fail(start, `"or" is not supported; write each alternative as its own rule`)
		default:
			return nil, p.fail(start, `expected "and" or end of rule, found %s`, p.describe(start))
		}
	}
}

func (p *parser) cond() (ruleCond, error) {
	w, start := p.word()
	if w != "" && isReserved(w) {
		return ruleCond{}, p.fail(start, "expected field name, found keyword %q", w)
	}
	field, err := p.name("field")
	if err != nil {
		return ruleCond{}, err
	}
	c := ruleCond{field: field}
	p.skipSpace()
	start = p.pos
	switch {
	case strings.HasPrefix(p.s[p.pos:], "!="):
		p.pos += 2
		c.op = OpNe
		return c, p.operand(&c)
	case strings.HasPrefix(p.s[p.pos:], "=="):
		p.pos += 2
		c.op = OpEq
		return c, p.operand(&c)
	case strings.HasPrefix(p.s[p.pos:], "="):
		p.pos++
		c.op = OpEq
		return c, p.operand(&c)
	}
	w, start = p.word()
	switch {
	case isKeyword(w, "in"):
		p.pos = start + len(w)
		c.op = OpIn
		return c, p.inOperand(&c)
	case isKeyword(w, "is"):
		p.pos = start + len(w)
		w, start = p.word()
		c.op = OpIsNull
		if isKeyword(w, "not") {
			c.op = OpIsNotNull
			p.pos = start + len(w)
			w, start = p.word()
		}
		if !isKeyword(w, "null") {
			return c, p.fail(start, `expected "null", found %s`, p.describe(start))
		}
		p.pos = start + len(w)
		return c, nil
	}
	return c, p.fail(start, `expected "=", "!=", "in" or "is" after field %q, found %s`, field, p.describe(start))
}

// operand parses the right-hand side of = or !=.
func (p *parser) operand(c *ruleCond) error {
	w, start := p.word()
	switch {
	case w == "subject":
		return p.attr(c)
	case isKeyword(w, "null"):
		return p.fail(start, `compare with null using "is null" or "is not null"`)
	}
	lit, err := p.literal()
	if err != nil {
		return err
	}
	c.lits = []any{lit}
	return nil
}

// attr parses "subject.name" (the caller has seen "subject").
func (p *parser) attr(c *ruleCond) error {
	p.pos += len("subject")
	if p.pos >= len(p.s) || p.s[p.pos] != '.' {
		return p.fail(p.pos, `expected "." after "subject", found %s`, p.describe(p.pos))
	}
	p.pos++
	if p.pos < len(p.s) && !isWordByte(p.s[p.pos]) {
		return p.fail(p.pos, "expected attribute name, found %s", p.describe(p.pos))
	}
	name, err := p.name("attribute")
	if err != nil {
		return err
	}
	c.attr = name
	return nil
}

// inOperand parses the right-hand side of "in".
func (p *parser) inOperand(c *ruleCond) error {
	w, start := p.word()
	if w == "subject" {
		return p.attr(c)
	}
	if start >= len(p.s) || p.s[start] != '(' {
		return p.fail(start, `expected "(" or subject.<attribute> after "in", found %s`, p.describe(start))
	}
	p.pos = start + 1
	p.skipSpace()
	if p.pos < len(p.s) && p.s[p.pos] == ')' {
		return p.fail(p.pos, "empty list")
	}
	for {
		if len(c.lits) == MaxListLen {
			return p.fail(p.pos, "list longer than %d values", MaxListLen)
		}
		litStart := p.pos
		lit, err := p.literal()
		if err != nil {
			return err
		}
		if len(c.lits) > 0 {
			if _, isStr := c.lits[0].(string); isStr != isString(lit) {
				return p.fail(litStart, "list mixes strings and integers")
			}
		}
		c.lits = append(c.lits, lit)
		p.skipSpace()
		if p.pos >= len(p.s) {
			return p.fail(p.pos, `unterminated list: expected "," or ")"`)
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
			p.skipSpace()
		case ')':
			p.pos++
			return nil
		default:
			return p.fail(p.pos, `expected "," or ")", found %s`, p.describe(p.pos))
		}
	}
}

func isString(x any) bool {
	_, ok := x.(string)
	return ok
}

// literal parses a string or integer literal.
func (p *parser) literal() (any, error) {
	p.skipSpace()
	start := p.pos
	if start >= len(p.s) {
		return nil, p.fail(start, "expected a value, found end of rule")
	}
	switch c := p.s[start]; {
	case c == '\'':
		return p.stringLit()
	case c == '-' || ('0' <= c && c <= '9'):
		end := start
		if c == '-' {
			end++
		}
		digits := end
		for end < len(p.s) && '0' <= p.s[end] && p.s[end] <= '9' {
			end++
		}
		if end == digits {
			return nil, p.fail(start, "expected a value, found %s", p.describe(start))
		}
		if end < len(p.s) && isWordByte(p.s[end]) {
			return nil, p.fail(end, "invalid integer")
		}
		n, err := strconv.ParseInt(p.s[start:end], 10, 64)
		if err != nil {
			return nil, p.fail(start, "integer out of range")
		}
		p.pos = end
		return n, nil
	}
	return nil, p.fail(start, "expected subject.<attribute>, a quoted string or an integer, found %s", p.describe(start))
}

// stringLit parses a single-quoted string in which a quote is doubled. Control
// characters, bidirectional formatting characters and invalid UTF-8 are
// rejected so that a rule reads the same to a reviewer as to the parser.
func (p *parser) stringLit() (string, error) {
	start := p.pos
	i := start + 1
	var b strings.Builder
	for {
		if i >= len(p.s) {
			return "", p.fail(start, "unterminated string literal")
		}
		r, size := utf8.DecodeRuneInString(p.s[i:])
		switch {
		case r == '\'':
			if i+1 < len(p.s) && p.s[i+1] == '\'' {
				b.WriteByte('\'')
				i += 2
				continue
			}
			p.pos = i + 1
			return b.String(), nil
		case r == utf8.RuneError && size <= 1:
			return "", p.fail(i, "invalid UTF-8 in string literal")
		case r < 0x20 || (0x7f <= r && r < 0xa0):
			return "", p.fail(i, "control character %U in string literal", r)
		case isBidi(r):
			return "", p.fail(i, "bidirectional formatting character %U in string literal", r)
		}
		b.WriteString(p.s[i : i+size])
		i += size
	}
}

func isBidi(r rune) bool {
	return r == 0x061c || r == 0x200e || r == 0x200f ||
		(0x202a <= r && r <= 0x202e) || (0x2066 <= r && r <= 0x2069)
}
