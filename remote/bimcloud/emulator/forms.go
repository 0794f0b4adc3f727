package emulator

import (
	"net/http"
)

// Spec and demo forms of the same call.
//
// By default the emulator is as strict as the 2023.2 spec: a call with the
// verb the vendor demo uses instead of the spec's gets 404, like any route
// the server does not have. Options.AcceptDemoForms serves the demo's form
// as well; Options.RefuseSpecForms serves only the demo's form, playing a
// server the demo was written against, so that clients can test their
// fallback from the spec's form.

// form is which of the two forms a route is.
type form int

const (
	specForm form = iota
	demoForm
)

// formRoute wraps h, a handler of the given form, so that it answers only
// when the options in force serve that form; otherwise the route does not
// exist (404), which is what a server without it answers.
func (s *Server) formRoute(f form, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		o := s.Options()
		serve := o.AcceptDemoForms || o.RefuseSpecForms
		if f == specForm {
			serve = !o.RefuseSpecForms
		}
		if !serve {
			s.notFound(w, r)
			return
		}
		h(w, r)
	}
}

// notFound answers a request for a route the manager does not have, wrong
// verb included (the standard mux would say 405).
func (s *Server) notFound(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	s.counters["unknown-route"]++
	s.mu.Unlock()
	http.Error(w, "404 page not found", http.StatusNotFound)
}
