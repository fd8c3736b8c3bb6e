package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smartassist-exporter/smartassist_exporter/config"
	"github.com/smartassist-exporter/smartassist_exporter/simulator"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHandler: the HTTP surface, in-process: health, readiness going from
// 503 to 200 after the first poll, the landing page's links, the bundled
// dashboards and /metrics.
func TestHandler(t *testing.T) {
	var ready atomic.Bool
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "smartassist_test_total", Help: "test"}))
	h, err := newHandler(reg, ready.Load, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	if code, body := get(t, srv.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, _ := get(t, srv.URL+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before the first poll: %d, want 503", code)
	}
	ready.Store(true)
	if code, _ := get(t, srv.URL+"/readyz"); code != 200 {
		t.Errorf("/readyz after the first poll: %d", code)
	}
	code, page := get(t, srv.URL+"/")
	if code != 200 {
		t.Errorf("landing page: %d", code)
	}
	for _, link := range []string{`href="/metrics"`, `href="/healthz"`, `href="/readyz"`, `href="/dashboards/"`} {
		if !strings.Contains(page, link) {
			t.Errorf("landing page lacks %s", link)
		}
	}
	if code, body := get(t, srv.URL+"/dashboards/overview.json"); code != 200 || !strings.Contains(body, `"uid": "smartassist-overview"`) {
		t.Errorf("/dashboards/overview.json: %d", code)
	}
	if code, body := get(t, srv.URL+"/metrics"); code != 200 || !strings.Contains(body, "smartassist_test_total 0") {
		t.Errorf("/metrics: %d %q", code, body)
	}
}

// blockingCollector holds every scrape until released: scrapes in flight.
type blockingCollector struct {
	desc    *prometheus.Desc
	entered chan struct{}
	release chan struct{}
}

func (b *blockingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- b.desc }
func (b *blockingCollector) Collect(ch chan<- prometheus.Metric) {
	b.entered <- struct{}{}
	<-b.release
	ch <- prometheus.MustNewConstMetric(b.desc, prometheus.GaugeValue, 1)
}

// TestScrapesInFlightBounded: past maxScrapesInFlight concurrent scrapes,
// the next is answered 503 at once instead of adding a goroutine and a
// registry walk per client (1000 clients that never read once held a
// thousand goroutines and 174 MB).
func TestScrapesInFlightBounded(t *testing.T) {
	block := &blockingCollector{desc: prometheus.NewDesc("smartassist_test_blocking", "test", nil, nil),
		entered: make(chan struct{}, maxScrapesInFlight), release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	reg.MustRegister(block)
	h, err := newHandler(reg, func() bool { return true }, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	var wg sync.WaitGroup
	for range maxScrapesInFlight {
		wg.Go(func() {
			if resp, err := http.Get(srv.URL + "/metrics"); err == nil {
				resp.Body.Close()
			}
		})
	}
	for range maxScrapesInFlight {
		<-block.entered
	}
	began := time.Now()
	code, _ := get(t, srv.URL+"/metrics")
	if code != http.StatusServiceUnavailable || time.Since(began) > 2*time.Second {
		t.Errorf("scrape %d past the limit: %d after %v, want 503 at once", maxScrapesInFlight+1, code, time.Since(began))
	}
	close(block.release)
	wg.Wait()
	s := newServer(h)
	if s.ReadHeaderTimeout == 0 || s.ReadTimeout == 0 || s.WriteTimeout == 0 || s.IdleTimeout == 0 || s.MaxHeaderBytes == 0 {
		t.Errorf("server without timeouts or a header limit: %+v", s)
	}
}

// failingListener accepts nothing: the server's Serve fails at once.
type failingListener struct{ net.Listener }

func (failingListener) Accept() (net.Conn, error) { return nil, errors.New("listener broken") }

// TestServerFailureStopsPolling: when the HTTP server stops serving, serve
// returns at once with the error (main exits non-zero), and polling stops
// with it: nothing is counted that nobody can scrape.
func TestServerFailureStopsPolling(t *testing.T) {
	sim := simulator.New(simulator.Options{AccountID: "acc-1", StreamID: "st-1", ClientID: testClientID, ClientSecret: testSecret, Seed: 1})
	api := httptest.NewServer(sim)
	defer api.Close()
	t.Setenv("SMARTASSIST_BASE_URL", api.URL)
	t.Setenv("SMARTASSIST_ACCOUNT_ID", "acc-1")
	t.Setenv("SMARTASSIST_STREAM_ID", "st-1")
	t.Setenv("SMARTASSIST_CLIENT_ID", testClientID)
	t.Setenv("SMARTASSIST_CLIENT_SECRET", testSecret)
	t.Setenv("SMARTASSIST_POLL_INTERVAL", "1s")
	t.Setenv("SMARTASSIST_RECHECK_2H_PERIOD", "1s")
	t.Setenv("SMARTASSIST_STATE_PATH", filepath.Join(t.TempDir(), "state.db"))
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve(context.Background(), cfg, failingListener{l}, quietLog) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "HTTP server stopped") {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve still polls 10s after its HTTP server failed")
	}
}
