package dataconnector

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bim360/dataconnector/emulator"
	"github.com/bimfs/bimfs/remote/httpx"
)

func newClient(t *testing.T, s *emulator.Service) (*Client, *atomic.Int64) {
	t.Helper()
	mux := http.NewServeMux()
	calls := new(atomic.Int64)
	s.Routes(func(pattern, op string, public bool, h http.HandlerFunc) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { calls.Add(1); h(w, r) })
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL, &httpx.Client{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}, "")
	if err != nil {
		t.Fatal(err)
	}
	return c, calls
}

func TestClientPaging(t *testing.T) {
	s := emulator.New(emulator.Options{}, nil)
	for i := range 2*PageLimit + 3 {
		s.AddRequest("acc", "", fmt.Sprintf("request %d", i))
	}
	c, calls := newClient(t, s)
	reqs, err := c.Requests.List(context.Background(), "acc")
	if err != nil || len(reqs) != 2*PageLimit+3 || calls.Load() != 3 {
		t.Fatalf("%d requests in %d calls, %v", len(reqs), calls.Load(), err)
	}
	if reqs[2*PageLimit+2].Description != fmt.Sprintf("request %d", 2*PageLimit+2) {
		t.Errorf("last request %+v", reqs[2*PageLimit+2])
	}
}

func TestClientForbiddenAndRetry(t *testing.T) {
	s := emulator.New(emulator.Options{}, nil)
	s.Demo("acc", nil)
	s.Forbid("nope")
	c, _ := newClient(t, s)
	if _, err := c.Requests.List(context.Background(), "nope"); !remote.IsKind(err, remote.Permission) {
		t.Errorf("forbidden account: %v", err)
	}
	s.FailNext(http.StatusServiceUnavailable, 2)
	reqs, err := c.Requests.List(context.Background(), "acc")
	if err != nil || len(reqs) != 2 {
		t.Fatalf("after 503s: %d, %v", len(reqs), err)
	}
	jobs, err := c.Jobs.ListByRequest(context.Background(), &JobsRequest{AccountID: "acc", RequestID: reqs[0].ID, Sort: "desc"})
	if err != nil || len(jobs) != 4 {
		t.Fatalf("jobs %d, %v", len(jobs), err)
	}
	done := 0
	for _, j := range jobs {
		if j.Succeeded() {
			done++
		}
	}
	if done != 3 || jobs[0].Succeeded() {
		t.Errorf("%d completed jobs; newest first should be the running one: %+v", done, jobs[0])
	}
}

func TestParseNode(t *testing.T) {
	for _, n := range []node{
		{hub: "b.h"}, {kind: nodeRequest, hub: "b.h", request: "r"}, {kind: nodeLatest, hub: "b.h", request: "r"},
		{kind: nodeJob, hub: "b.h", request: "r", job: "j"}, {kind: nodeFile, hub: "b.h", request: "r", job: "j", name: "a|b.csv"},
		{kind: nodeLatestFile, hub: "b.h", request: "r", job: "j", name: "x"},
	} {
		got, ok := parseNode(n.id())
		if !ok || got != n {
			t.Errorf("%q parses to %+v, %v", n.id(), got, ok)
		}
	}
	for _, bad := range []remote.ID{"dc:", "dc:h|j|r", "dc:h|f|r|j", "dc:h|x|r", "h|b.x"} {
		if _, ok := parseNode(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestServerRefusesPageSize(t *testing.T) {
	s := emulator.New(emulator.Options{}, nil)
	for i := range 45 {
		s.AddRequest("acc", "", fmt.Sprintf("request %d", i))
	}
	mux := http.NewServeMux()
	s.Routes(func(pattern, op string, public bool, h http.HandlerFunc) { mux.HandleFunc(pattern, h) })
	var refused, calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Query().Has("limit") {
			refused.Add(1)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, _ := NewClient(srv.URL, &httpx.Client{}, "")
	for range 2 {
		reqs, err := c.Requests.List(context.Background(), "acc")
		if err != nil || len(reqs) != 45 {
			t.Fatalf("%d requests, %v", len(reqs), err)
		}
	}
	// 45 requests at the default 20 a page: 3 calls a listing, plus the
	// one refusal.
	if refused.Load() != 1 || calls.Load() != 7 {
		t.Errorf("%d refusals, %d calls; want 1 and 7", refused.Load(), calls.Load())
	}
}
