// Package httpx is the HTTP plumbing shared by the service clients: retries
// with backoff and jitter that honour 429 Retry-After, bearer-token
// transport with a forced refresh on 401, typed errors from error bodies, and
// redaction so secrets never reach the log.
package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// Defaults for Client fields left zero.
const (
	DefaultMaxAttempts   = 6
	DefaultBaseDelay     = 250 * time.Millisecond
	DefaultMaxDelay      = 20 * time.Second
	DefaultMaxRetryAfter = 2 * time.Minute
	maxErrorBody         = 64 << 10
)

// ErrorDecoder turns a non-2xx response into an error. body holds at most
// 64 KiB of the response body. It should return a *remote.Error.
type ErrorDecoder func(op string, resp *http.Response, body []byte) error

// Client sends requests with bounded retries. The zero value is usable.
type Client struct {
	// HTTP sends the requests; its transport normally adds authentication.
	// nil means http.DefaultClient.
	HTTP *http.Client
	// MaxAttempts bounds the tries per call, the first one included.
	MaxAttempts int
	// BaseDelay and MaxDelay shape exponential backoff with full jitter.
	BaseDelay, MaxDelay time.Duration
	// MaxRetryAfter caps how long a Retry-After header, on any status,
	// can make one attempt wait; a longer wait fails at once with the
	// server's error. Zero means DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
	// DecodeError maps error responses; nil means DefaultDecodeError.
	DecodeError ErrorDecoder
	// Logger receives one line per retry and per final failure.
	Logger *slog.Logger
}

// Do sends the request made by newReq, calling it again for every attempt so
// bodies are fresh. It retries on 429 and 503 (after Retry-After, up to
// MaxRetryAfter), on other 5xx and on
// transport errors; requests that are not idempotent (POST, PATCH) are
// retried only when the server cannot have acted on them (429, refused
// connections, and 503 which the services document as "try later").
// A 2xx or 3xx response is returned open; anything else becomes an error
// from DecodeError with the body consumed.
func (c *Client) Do(ctx context.Context, op string, newReq func(ctx context.Context) (*http.Request, error)) (*http.Response, error) {
	attempts := c.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		req, err := newReq(WithCall(ctx, Call{Op: op, Attempt: attempt}))
		if err != nil {
			return nil, &remote.Error{Kind: remote.Invalid, Op: op, Err: err}
		}
		resp, err := c.httpClient().Do(req)
		var wait time.Duration
		retry := false
		if err != nil {
			if ctx.Err() != nil {
				return nil, &remote.Error{Kind: remote.Canceled, Op: op, Err: ctx.Err()}
			}
			// Errors raised below the client (a failed token refresh) are
			// already typed; only transport failures and a throttled token
			// request (the request itself was never sent) are worth
			// repeating, the latter after the wait it asked for.
			var re *remote.Error
			switch {
			case errors.As(err, &re) && re.Kind == remote.Throttled:
				lastErr, retry, wait = re, true, re.RetryAfter
				if wait > c.maxRetryAfter() {
					c.logger().Warn("not retrying: the server asks for a longer wait than allowed",
						"op", op, "retry_after", wait.Round(time.Second), "max_retry_wait", c.maxRetryAfter(), "err", lastErr)
					return nil, lastErr
				}
			case errors.As(err, &re) && re.Kind != remote.Unavailable:
				return nil, re
			default:
				lastErr = &remote.Error{Kind: remote.Unavailable, Op: op, Message: RedactError(err)}
				retry = idempotent(req.Method) || refused(err)
			}
		} else if resp.StatusCode < 400 {
			return resp, nil
		} else {
			lastErr = c.decode(op, resp)
			switch {
			case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusServiceUnavailable:
				retry = true
			case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
				retry = idempotent(req.Method)
			}
			if retry {
				// Every status gets the same cap: a server asking for an
				// hour would otherwise park the caller for an hour per
				// attempt.
				wait = RetryAfter(resp.Header, time.Now())
				if wait > c.maxRetryAfter() {
					c.logger().Warn("not retrying: the server asks for a longer wait than allowed",
						"op", op, "retry_after", wait.Round(time.Second), "max_retry_wait", c.maxRetryAfter(), "err", lastErr)
					return nil, lastErr
				}
			}
		}
		if !retry || attempt >= attempts {
			if retry {
				c.logger().Warn("giving up after retries", "op", op, "attempts", attempt, "err", lastErr)
			}
			return nil, lastErr
		}
		if d := c.backoff(attempt); d > wait {
			wait = d
		}
		c.logger().Info("retrying", "op", op, "attempt", attempt, "wait", wait.Round(time.Millisecond), "err", lastErr)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, &remote.Error{Kind: remote.Canceled, Op: op, Err: ctx.Err()}
		case <-t.C:
		}
	}
}

// JSON sends a request with an optional JSON body (in, marshalled with the
// given content type; "" means application/json) and decodes a JSON
// response into out (skipped when out is nil).
func (c *Client) JSON(ctx context.Context, op, method, url, contentType string, hdr http.Header, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return &remote.Error{Kind: remote.Invalid, Op: op, Err: err}
		}
		if contentType == "" {
			contentType = "application/json"
		}
	}
	resp, err := c.Do(ctx, op, func(ctx context.Context) (*http.Request, error) {
		var r io.Reader
		if body != nil {
			r = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, url, r)
		if err != nil {
			return nil, err
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		if body != nil {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("Accept", "application/json")
		return req, nil
	})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return &remote.Error{Kind: remote.Canceled, Op: op, Err: ctx.Err()}
		}
		return &remote.Error{Kind: remote.Unavailable, Op: op, Message: "malformed JSON response", Err: err}
	}
	return nil
}

func (c *Client) decode(op string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	dec := c.DecodeError
	if dec == nil {
		dec = DefaultDecodeError
	}
	err := dec(op, resp, body)
	var re *remote.Error
	if errors.As(err, &re) && re.RetryAfter == 0 {
		re.RetryAfter = RetryAfter(resp.Header, time.Now())
	}
	return err
}

// DefaultDecodeError classifies by status and keeps a short, single-line
// excerpt of the body as the message.
func DefaultDecodeError(op string, resp *http.Response, body []byte) error {
	return &remote.Error{
		Kind:    remote.KindForStatus(resp.StatusCode),
		Op:      op,
		Status:  resp.StatusCode,
		Message: Excerpt(body),
	}
}

// Excerpt returns a printable one-line prefix of an error body.
func Excerpt(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// RetryAfter parses a Retry-After header given in seconds or as an HTTP
// date; it returns 0 when absent or unparsable.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func (c *Client) backoff(attempt int) time.Duration {
	base, max := c.BaseDelay, c.MaxDelay
	if base <= 0 {
		base = DefaultBaseDelay
	}
	if max <= 0 {
		max = DefaultMaxDelay
	}
	d := base << (attempt - 1)
	if d > max || d <= 0 {
		d = max
	}
	// Full jitter keeps many handles retrying after one outage from
	// arriving together.
	return d/2 + rand.N(d/2+1)
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

func (c *Client) maxRetryAfter() time.Duration {
	if c.MaxRetryAfter > 0 {
		return c.MaxRetryAfter
	}
	return DefaultMaxRetryAfter
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// refused reports whether err happened before the request could reach the
// server, so even a POST is safe to repeat.
func refused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// StatusError is a convenience for service code that checks a status itself.
func StatusError(op string, status int, format string, args ...any) *remote.Error {
	return &remote.Error{Kind: remote.KindForStatus(status), Op: op, Status: status, Message: fmt.Sprintf(format, args...)}
}
