package httpx

import (
	"net/http"
)

// BearerTransport adds "Authorization: Bearer <token>" to every request and,
// when the server answers 401 although the token looked valid, forces one
// refresh and repeats the request once. Requests must have a replayable body
// (GetBody set, as http.NewRequest does for byte readers) to be repeated.
type BearerTransport struct {
	Source *TokenSource
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *BearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, tok, err := t.send(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	if req.Body != nil && req.GetBody == nil {
		return resp, nil
	}
	t.Source.Invalidate(tok)
	retry := req.Clone(req.Context())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return resp, nil
		}
		retry.Body = body
	}
	resp.Body.Close()
	resp, _, err = t.send(retry)
	return resp, err
}

func (t *BearerTransport) send(req *http.Request) (*http.Response, string, error) {
	tok, err := t.Source.Token(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, "", err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(r)
	return resp, tok, err
}
