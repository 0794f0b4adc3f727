package bim360

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/bimfs/bimfs/remote"
)

// MaxNameLength is the longest folder or file name the Data Management API
// accepts, in characters.
const MaxNameLength = 255

// forbiddenNameChars are the characters BIM 360 and ACC Docs refuse in
// file and folder names (Autodesk's product table), plus control
// characters. The Data Management spec also tells clients to *avoid*
// ' $ ¢ ™ ®, but real names carry apostrophes and dollar signs ("Owner's
// Manual.pdf") and the service accepts them: those are left for the
// service to judge, and a refusal comes back as its 400 (EINVAL).
const forbiddenNameChars = "<>:\"/\\|?*`\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\f\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f"

// MaxFolderDepth is how deep folders may nest in a project ("up to 25
// levels"); the project's top folders are level 1.
const MaxFolderDepth = 25

// ValidateName checks name against the rules the service enforces (1–255
// characters, none of < > : " / \ | ? * ` or a control character) so a bad
// name fails before any request, with an Invalid error naming the rule.
func ValidateName(op, name string) error {
	if name == "" {
		return remote.Errorf(remote.Invalid, op, "a name must have 1 to %d characters; it is empty", MaxNameLength)
	}
	if !utf8.ValidString(name) {
		return remote.Errorf(remote.Invalid, op, "name %q is not valid UTF-8", name)
	}
	if n := utf8.RuneCountInString(name); n > MaxNameLength {
		return remote.Errorf(remote.Invalid, op, "a name must have 1 to %d characters; %q has %d", MaxNameLength, abbreviate(name), n)
	}
	if i := strings.IndexAny(name, forbiddenNameChars); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		return remote.Errorf(remote.Invalid, op, "name %q contains %s, which BIM 360 does not allow in names (forbidden: < > : \" / \\ | ? * ` and control characters)", name, describeRune(r))
	}
	return nil
}

func describeRune(r rune) string {
	switch r {
	case '\n':
		return "a newline"
	case '\r':
		return "a carriage return"
	case '\t':
		return "a tab"
	case 0:
		return "a NUL character"
	case '\f':
		return "a form feed"
	}
	return fmt.Sprintf("%q", r)
}

func abbreviate(s string) string {
	if utf8.RuneCountInString(s) <= 40 {
		return s
	}
	r := []rune(s)
	return string(r[:37]) + "…"
}

// CheckName implements remote.NameChecker: the filesystem refuses a name
// the service would refuse when the name is given (create, mkdir, rename),
// not when an upload fails later.
func (b *Backend) CheckName(name string) error { return ValidateName("bim360.CheckName", name) }
