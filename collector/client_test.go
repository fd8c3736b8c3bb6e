package collector

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smartassist-exporter/smartassist_exporter/simulator"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// pageServer answers every call-details request with one record and
// remembers what it was asked.
type pageServer struct {
	mu      sync.Mutex
	headers []http.Header
	bodies  []string
	queries []string
	paths   []string
}

func (s *pageServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, _ := io.ReadAll(r.Body)
	s.headers = append(s.headers, r.Header.Clone())
	s.bodies = append(s.bodies, string(b))
	s.queries = append(s.queries, r.URL.RawQuery)
	s.paths = append(s.paths, r.URL.Path)
	io.WriteString(w, `{"numResults":1,"data":[{"conversationId":"c-1","sessionStartTime":"2026-01-01T07:00:00","finalStatus":"CLOSED"}]}`)
}

var testWindow = Window{Start: time.Date(2026, 1, 1, 15, 0, 0, 0, time.UTC), End: time.Date(2026, 1, 1, 17, 0, 0, 0, time.UTC)}

func TestRequestShape(t *testing.T) {
	up := &pageServer{}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	c := NewClient(ClientConfig{AccountID: "acc", StreamID: "st-1", Endpoint: "calldetails", TimezoneOffset: 300},
		newTestUpstream(t, srv.URL, prometheus.NewRegistry(), time.Now, 6000))
	p, err := c.FetchPage(context.Background(), testWindow, 3)
	if err != nil {
		t.Fatal(err)
	}
	// New York (offset 300): 15:00 UTC is 10:00 local; the record's 07:00
	// local is 12:00 UTC.
	if len(p.Records) != 1 || !p.Records[0].Start.Equal(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("records: %+v", p.Records)
	}
	h := up.headers[0]
	if h.Get("auth") == "" || h.Get("accountId") != "acc" || h.Get("iId") != "st-1" || h.Get("content-type") != "application/json" {
		t.Errorf("headers: %v", h)
	}
	if up.paths[0] != "/agentassist/api/public/analytics/account/acc/v2/calldetails" {
		t.Errorf("path: %s", up.paths[0])
	}
	if up.queries[0] != "limit=100&offset=3" {
		t.Errorf("query: %s", up.queries[0])
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(up.bodies[0]), &body); err != nil {
		t.Fatal(err)
	}
	if body["startDate"] != "2026-01-01 10:00:00" || body["endDate"] != "2026-01-01 12:00:00" || body["timeZoneOffset"] != float64(300) {
		t.Errorf("body: %s", up.bodies[0])
	}
	if strings.Contains(up.bodies[0], "customerinfo") {
		t.Error("asked for customer details")
	}
	if _, err := c.FetchPage(context.Background(), Window{testWindow.Start, testWindow.Start.Add(MaxWindow + time.Second)}, 0); err == nil {
		t.Error("sent a range over 7 days")
	}
	if _, err := c.FetchPage(context.Background(), testWindow, 11); err == nil {
		t.Error("sent offset 11")
	}
}

// TestSimulatorAgreesOnLimits: the simulator models the platform's longest
// query range on its own; the client's limit must be the same rule.
func TestSimulatorAgreesOnLimits(t *testing.T) {
	if simulator.MaxRange != MaxWindow {
		t.Errorf("simulator serves ranges up to %v, the client sends up to %v", simulator.MaxRange, MaxWindow)
	}
}
