package httpx

import (
	"errors"
	"net/url"
	"strings"
)

// RedactURL returns u without its query string and user info: signed URLs
// carry their credentials in the query, so only scheme, host and path are
// ever logged.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "REDACTED"
	}
	u.Fragment = ""
	return u.String()
}

// RedactError renders a transport error without the URL's query string.
// *url.Error prints the full URL, which for a signed S3 URL is a secret.
func RedactError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return strings.TrimSpace(ue.Op + " " + RedactURL(ue.URL) + ": " + ue.Err.Error())
	}
	return err.Error()
}
