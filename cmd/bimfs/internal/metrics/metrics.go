// Package metrics serves a mount's state as Prometheus metrics. Values are
// read from the mount's StatusSource at scrape time, so nothing is counted
// twice and an idle mount costs nothing.
package metrics

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/control"
)

var (
	apiRequests = prometheus.NewDesc("bimfs_api_requests_total", "HTTP requests sent to the services, retries included, per API operation.", []string{"endpoint"}, nil)
	apiRetries  = prometheus.NewDesc("bimfs_api_retries_total", "Requests that repeated an earlier attempt, per API operation.", []string{"endpoint"}, nil)
	apiErrors   = prometheus.NewDesc("bimfs_api_errors_total", "Requests that failed or got a status of 400 or more, per API operation.", []string{"endpoint"}, nil)
	apiThrottle = prometheus.NewDesc("bimfs_api_throttled_total", "429 Too Many Requests answers, per API operation.", []string{"endpoint"}, nil)
	apiSent     = prometheus.NewDesc("bimfs_api_sent_bytes_total", "Request body bytes sent (uploads), per API operation.", []string{"endpoint"}, nil)
	apiReceived = prometheus.NewDesc("bimfs_api_received_bytes_total", "Response body bytes received, per API operation.", []string{"endpoint"}, nil)
	apiSeconds  = prometheus.NewDesc("bimfs_api_seconds_total", "Time to response headers, per API operation.", []string{"endpoint"}, nil)

	cacheHits    = prometheus.NewDesc("bimfs_cache_hits_total", "Block lookups served from the cache.", nil, nil)
	cacheMisses  = prometheus.NewDesc("bimfs_cache_misses_total", "Block lookups that fetched from the service.", nil, nil)
	cacheFetched = prometheus.NewDesc("bimfs_read_bytes_total", "File bytes fetched from the services.", nil, nil)
	cacheBytes   = prometheus.NewDesc("bimfs_cache_bytes", "Bytes held by a cache tier.", []string{"tier"}, nil)

	uploads        = prometheus.NewDesc("bimfs_uploads", "Staged uploads by state (open, pending, uploading, failed).", []string{"state"}, nil)
	uploadBytes    = prometheus.NewDesc("bimfs_upload_staged_bytes", "Bytes of staged uploads not yet committed.", nil, nil)
	uploadProgress = prometheus.NewDesc("bimfs_upload_progress_bytes", "Bytes of staged uploads already sent.", nil, nil)
	accounts       = prometheus.NewDesc("bimfs_accounts", "Accounts of the mount.", nil, nil)
)

// collector turns one Status snapshot into metrics.
type collector struct{ src control.StatusSource }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{apiRequests, apiRetries, apiErrors, apiThrottle, apiSent, apiReceived, apiSeconds,
		cacheHits, cacheMisses, cacheFetched, cacheBytes, uploads, uploadBytes, uploadProgress, accounts} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Status()
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, e := range s.API {
		counter(apiRequests, float64(e.Requests), e.Name)
		counter(apiRetries, float64(e.Retries), e.Name)
		counter(apiErrors, float64(e.Errors), e.Name)
		counter(apiThrottle, float64(e.Throttled), e.Name)
		counter(apiSent, float64(e.BytesSent), e.Name)
		counter(apiReceived, float64(e.BytesReceived), e.Name)
		counter(apiSeconds, e.Seconds, e.Name)
	}
	if s.Cache != nil {
		counter(cacheHits, float64(s.Cache.Hits))
		counter(cacheMisses, float64(s.Cache.Misses))
		counter(cacheFetched, float64(s.Cache.BytesFetched))
		gauge(cacheBytes, float64(s.Cache.MemoryBytes), "memory")
		gauge(cacheBytes, float64(s.Cache.DiskBytes), "disk")
	}
	byState := map[string]int{"open": 0, "pending": 0, "uploading": 0, "failed": 0}
	var staged, sent int64
	for _, u := range s.Uploads {
		byState[u.State]++
		staged += u.Size
		sent += u.Uploaded
	}
	for state, n := range byState {
		gauge(uploads, float64(n), state)
	}
	gauge(uploadBytes, float64(staged))
	gauge(uploadProgress, float64(sent))
	gauge(accounts, float64(len(s.Accounts)))
}

// Server serves /metrics.
type Server struct {
	srv  *http.Server
	addr net.Addr
	done chan struct{}
}

// Serve listens on addr (validated as loopback by mountopts) and serves
// the mount's metrics plus the Go runtime's and the process's.
func Serve(addr string, src control.StatusSource) (*Server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{src},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, addr: ln.Addr(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		// Serve ends with ErrServerClosed after Close; any other error
		// means the listener broke, and scrapes will fail visibly.
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Addr is the address actually listened on.
func (s *Server) Addr() net.Addr { return s.addr }

// Close stops serving.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}
