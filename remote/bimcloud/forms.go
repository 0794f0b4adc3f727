package bimcloud

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/bimfs/bimfs/remote"
)

// The spec's form of a call first, the demo's only when the server has no
// route for the spec's.
//
// Where the 2023.2 spec and the vendor's Python demo send a call in
// different forms (verb, body), the client sends the spec's form. A server
// that lacks that route answers 404 (or 405); only then does the client
// try the demo's form, and it remembers per Manager which form answered so
// later calls go straight to it. Each such call is marked "Spec vs demo:".

// callForm is which form of a call a server takes.
type callForm int

const (
	formUnknown callForm = iota // not tried yet: spec first
	formSpec
	formDemo
)

// forms remembers, per call, the form one Manager takes.
type forms struct {
	mu   sync.Mutex // protects byOp
	byOp map[string]callForm
}

func (f *forms) get(op string) callForm {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byOp[op]
}

func (f *forms) set(op string, v callForm) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byOp == nil {
		f.byOp = map[string]callForm{}
	}
	f.byOp[op] = v
}

// routeMissing reports whether err is a server's refusal of the route
// itself (404 or 405 without a BIMcloud error body), not of the resource:
// the Manager reports missing resources with 430 error 6.
func routeMissing(err error) bool {
	var re *remote.Error
	return errors.As(err, &re) && (re.Status == http.StatusNotFound || re.Status == http.StatusMethodNotAllowed) && re.Code == ""
}

// withFallback runs call op in the spec's form, or in the demo's when this
// Manager is known to need it or refuses the spec's route. Each function
// sends one form of the call; neither is run twice.
func (m *manager) withFallback(ctx context.Context, op string, spec, demo func(ctx context.Context) error) error {
	if m.forms.get(op) == formDemo {
		return demo(ctx)
	}
	err := spec(ctx)
	switch {
	case err == nil:
		m.forms.set(op, formSpec)
		return nil
	case !routeMissing(err):
		return err
	}
	m.cfg.Logger.Info("the Manager has no route for the spec's form of a call; trying the vendor demo's form",
		"op", op, "err", err)
	derr := demo(ctx)
	switch {
	case derr == nil:
		m.forms.set(op, formDemo)
		m.cfg.Logger.Info("the Manager takes the vendor demo's form of this call; using it from now on", "op", op)
		return nil
	case routeMissing(derr):
		return unsupported(op, derr)
	}
	return derr
}

// unsupported turns a missing route into an Unsupported error: a 404 that
// names no resource is a call this server lacks, never a missing file.
func unsupported(op string, cause error) *remote.Error {
	e := errorf(remote.Unsupported, op, "unsupported by this server")
	var re *remote.Error
	if errors.As(cause, &re) {
		e.Status = re.Status
	}
	return e
}
