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

// forbiddenNameChars are the characters the Data Management spec tells
// clients to avoid in folder, item and version names.
const forbiddenNameChars = "<>:\"/\\|?*'\n\r\t\x00\f¢™$®"

// MaxFolderDepth is how deep folders may nest in a project ("up to 25
// levels"); the project's top folders are level 1.
const MaxFolderDepth = 25

// ValidateName checks name against the spec's naming rules (1–255
// characters, none of < > : " / \ | ? * ' \n \r \t \0 \f ¢ ™ $ ®) so a bad
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
		return remote.Errorf(remote.Invalid, op, "name %q contains %s, which BIM 360 does not allow in names (forbidden: < > : \" / \\ | ? * ' newline, carriage return, tab, NUL, form feed, ¢ ™ $ ®)", name, describeRune(r))
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
