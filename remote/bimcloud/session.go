package bimcloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// maxSessionRenewals bounds how often one call renews an expired ticket or
// session before giving up (workflow.py retries without bound).
const maxSessionRenewals = 2

// sessionPool keeps, per model server, the connection URL that answered
// and one open blob-server session.
//
// Lock order: pool.mu, then a modelServer's lock. pool.mu is never held
// during network calls.
type sessionPool struct {
	managerURL string
	mgr        *manager
	bs         *blobServer
	username   func(ctx context.Context) (string, error)
	log        *slog.Logger

	mu      sync.Mutex // protects servers
	servers map[string]*modelServer
}

// modelServer is one model server's connection state. lock serialises
// probing and session creation; it is a channel so waiting honours ctx.
type modelServer struct {
	id   string
	lock chan struct{}

	// Guarded by lock.
	name    string
	base    string // chosen connection URL; "" until probed
	session string // open session ID; "" when none
}

func (p *sessionPool) server(id string) *modelServer {
	p.mu.Lock()
	defer p.mu.Unlock()
	ms := p.servers[id]
	if ms == nil {
		ms = &modelServer{id: id, lock: make(chan struct{}, 1)}
		p.servers[id] = ms
	}
	return ms
}

func (ms *modelServer) acquire(ctx context.Context) error {
	select {
	case ms.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return &remote.Error{Kind: remote.Canceled, Op: "bimcloud.Session", Err: ctx.Err()}
	}
}

func (ms *modelServer) release() { <-ms.lock }

// open returns the base URL and an open session of model server id,
// choosing a URL and creating a session if needed.
func (p *sessionPool) open(ctx context.Context, id string) (base, session string, err error) {
	ms := p.server(id)
	if err := ms.acquire(ctx); err != nil {
		return "", "", err
	}
	defer ms.release()
	if ms.base == "" {
		if err := p.chooseURL(ctx, ms); err != nil {
			return "", "", err
		}
	}
	if ms.session != "" {
		return ms.base, ms.session, nil
	}
	user, err := p.username(ctx)
	if err != nil {
		return "", "", err
	}
	// A ticket only opens sessions for a short while; one that expired
	// on the way (blob error 4) is replaced once.
	for attempt := 0; ; attempt++ {
		ticket, err := p.mgr.GetTicket(ctx, id)
		if err != nil {
			return "", "", err
		}
		sid, err := p.bs.CreateSession(ctx, ms.base, user, ticket)
		if blobCode(err) == BlobAccessControlTicketExpired && attempt == 0 {
			continue
		}
		if err != nil {
			if unreachable(err) {
				ms.base = ""
			}
			return "", "", sessionError(err, attempt)
		}
		ms.session = sid
		p.log.Debug("blob server session opened", "modelServer", ms.name)
		return ms.base, sid, nil
	}
}

// chooseURL finds the first reachable connection URL of ms, in the order
// the Manager lists them. Callers hold ms.lock.
func (p *sessionPool) chooseURL(ctx context.Context, ms *modelServer) error {
	const op = "bimcloud.ModelServerURL"
	r, err := p.mgr.GetResource(ctx, ms.id)
	if err != nil {
		return err
	}
	ms.name = r.Name
	if len(r.ConnectionURLs) == 0 {
		return errorf(remote.Unavailable, op, "model server %q lists no connection URLs", r.Name)
	}
	var failures []string
	for _, tmpl := range r.ConnectionURLs {
		u, err := expandConnectionURL(tmpl, p.managerURL)
		if err == nil {
			err = p.bs.Probe(ctx, u)
		}
		if ctx.Err() != nil {
			return &remote.Error{Kind: remote.Canceled, Op: op, Err: ctx.Err()}
		}
		if err != nil {
			p.log.Debug("model server URL unreachable", "modelServer", r.Name, "url", tmpl, "err", err)
			failures = append(failures, err.Error())
			continue
		}
		ms.base = u
		p.log.Info("model server reachable", "modelServer", r.Name, "url", u)
		return nil
	}
	return errorf(remote.Unavailable, op, "model server %q is unreachable at all of its %d connection URLs (%s)",
		r.Name, len(r.ConnectionURLs), strings.Join(failures, "; "))
}

// expandConnectionURL substitutes the placeholders of a connection URL
// template from the manager URL: $protocol becomes its scheme plus ":"
// ("https:") and $hostname its host name (workflow.py
// find_working_model_server_url).
func expandConnectionURL(tmpl, managerURL string) (string, error) {
	m, err := url.Parse(managerURL)
	if err != nil {
		return "", err
	}
	host := m.Hostname()
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6 literal
	}
	s := strings.ReplaceAll(tmpl, "$protocol", m.Scheme+":")
	s = strings.ReplaceAll(s, "$hostname", host)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("connection URL %q is not an http(s) URL", tmpl)
	}
	return s, nil
}

// do runs fn with an open session of model server id. When the blob
// server reports the ticket or session expired (blob errors 4 and 11) the
// session is dropped and fn runs again with a new one; when the chosen URL
// stops answering, the URLs are probed again.
func (p *sessionPool) do(ctx context.Context, id string, fn func(base, session string) error) error {
	for attempt := 0; ; attempt++ {
		base, sid, err := p.open(ctx, id)
		if err != nil {
			return err
		}
		err = fn(base, sid)
		if err == nil {
			return nil
		}
		code := blobCode(err)
		renew := code == BlobAccessControlTicketExpired || code == BlobSessionNotFound
		lost := unreachable(err)
		if (!renew && !lost) || attempt >= maxSessionRenewals || ctx.Err() != nil {
			if renew {
				return sessionError(err, attempt)
			}
			return err
		}
		p.log.Debug("renewing blob server session", "code", code, "unreachable", lost)
		p.forget(id, sid, lost)
	}
}

// forget drops session sid of model server id (if it is still the current
// one) and, when lost, the chosen URL too.
func (p *sessionPool) forget(id, sid string, lost bool) {
	ms := p.server(id)
	ms.lock <- struct{}{}
	defer ms.release()
	if ms.session == sid {
		ms.session = ""
		if lost {
			ms.base = ""
		}
	}
}

// unreachable reports whether err means the server could not be reached
// (no HTTP answer at all).
func unreachable(err error) bool {
	var re *remote.Error
	return errors.As(err, &re) && re.Kind == remote.Unavailable && re.Status == 0 && re.Err == nil
}

// closeAll closes every open session, best effort, within a bounded time.
func (p *sessionPool) closeAll() {
	p.mu.Lock()
	servers := make([]*modelServer, 0, len(p.servers))
	for _, ms := range p.servers {
		servers = append(servers, ms)
	}
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ms := range servers {
		if ms.acquire(ctx) != nil {
			return
		}
		if ms.session != "" {
			if err := p.bs.CloseSession(ctx, ms.base, ms.session); err != nil {
				p.log.Debug("closing blob server session", "modelServer", ms.name, "err", err)
			}
			ms.session = ""
		}
		ms.release()
	}
}

// sessionError reports a ticket or session refusal of a blob server that
// renewing did not cure. The Manager login is valid (it has just issued
// the ticket), so telling the user to log in again would be wrong: the
// error is Unavailable and keeps the blob server's code and status.
func sessionError(err error, renewals int) error {
	var re *remote.Error
	if !errors.As(err, &re) {
		return err
	}
	switch blobCode(err) {
	case BlobAuthenticationRequired, BlobAuthenticationFailed, BlobAccessControlTicketExpired, BlobSessionNotFound:
	default:
		return err
	}
	cp := *re
	cp.Kind = remote.Unavailable
	cp.Message = fmt.Sprintf("the blob server refuses its sessions (%s) after %d renewals; the BIMcloud login is valid, the blob server is at fault", re.Message, renewals)
	return &cp
}
