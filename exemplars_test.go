package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smartassist-exporter/smartassist_exporter/conversation"
	"github.com/smartassist-exporter/smartassist_exporter/metrics"
)

// exemplarDurationFamilies are the histograms that carry exemplars.
var exemplarDurationFamilies = []string{
	"smartassist_conversation_duration_seconds", "smartassist_first_response_seconds", "smartassist_interaction_seconds",
	"smartassist_hold_seconds", "smartassist_after_call_work_seconds", "smartassist_handle_seconds",
	"smartassist_queue_wait_seconds", "smartassist_consult_seconds",
}

// seedHandler serves /metrics through the exporter's own handler, from a
// registry fed every finished sample record, with or without exemplars.
func seedHandler(t *testing.T, exemplars bool) (http.Handler, map[string]bool) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, metrics.Options{MaxChannels: 20, MaxQueues: 50, MaxDispositions: 50, MaxCampaigns: 50,
		MaxStatuses: 20, MaxAgents: 500, Exemplars: exemplars})
	ids := map[string]bool{}
	var recs []conversation.Conversation
	for _, name := range []string{"calldetails_2024.json", "calldetails_2026.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		p, err := conversation.DecodePage(b, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, p.Records...)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Key() < recs[j].Key() })
	for i := range recs {
		if recs[i].Finished() {
			m.Observe(&recs[i])
			ids[string(recs[i].ConversationID)] = true
		}
	}
	h, err := newHandler(reg, func() bool { return true }, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	return h, ids
}

func scrapeWith(t *testing.T, h http.Handler, accept string) (contentType, body string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics (Accept %q): %d", accept, rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return rec.Header().Get("Content-Type"), string(b)
}

const openMetricsAccept = "application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5"

var exemplarRE = regexp.MustCompile(`^(\w+)_bucket\{[^}]*\} \S+ # \{conversation_id="([^"]*)"\} (\S+) (\S+)$`)

// TestExemplarsInOpenMetrics is issue 13's "done means", in-process: an
// OpenMetrics scrape finds exemplars with the sample conversations' ids on
// every duration histogram, and only there.
func TestExemplarsInOpenMetrics(t *testing.T) {
	h, ids := seedHandler(t, true)
	ct, body := scrapeWith(t, h, openMetricsAccept)
	if !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Fatalf("content type %q, want OpenMetrics", ct)
	}
	found := map[string]int{}
	for line := range strings.SplitSeq(body, "\n") {
		if !strings.Contains(line, " # {") {
			continue
		}
		m := exemplarRE.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("exemplar line not of the expected shape: %s", line)
			continue
		}
		if !ids[m[2]] {
			t.Errorf("exemplar id %q is not a finished sample conversation", m[2])
		}
		found[m[1]]++
	}
	for _, f := range exemplarDurationFamilies {
		if found[f] == 0 {
			t.Errorf("%s: no exemplar in the OpenMetrics scrape", f)
		}
		delete(found, f)
	}
	if len(found) != 0 {
		t.Errorf("exemplars outside the duration histograms: %v", found)
	}
	// OpenMetrics spells bucket bounds as floats: le="20.0", which the
	// rules and dashboards match (TestPrometheusQueries runs them).
	if !strings.Contains(body, `le="20.0"`) {
		t.Error(`OpenMetrics scrape without le="20.0"`)
	}
}

// TestExemplarsOnlyWhenAsked: a scraper that does not ask for OpenMetrics
// gets byte for byte what it gets with exemplars off: the same families,
// the classic text format, no exemplar; and with exemplars off, an
// OpenMetrics scrape carries none.
func TestExemplarsOnlyWhenAsked(t *testing.T) {
	on, _ := seedHandler(t, true)
	off, _ := seedHandler(t, false)
	for _, accept := range []string{"", "text/plain", "text/plain;version=0.0.4", "*/*"} {
		ctOn, bodyOn := scrapeWith(t, on, accept)
		ctOff, bodyOff := scrapeWith(t, off, accept)
		if ctOn != ctOff || !strings.HasPrefix(ctOn, "text/plain") {
			t.Errorf("Accept %q: content type %q with exemplars, %q without", accept, ctOn, ctOff)
		}
		if stable(bodyOn) != stable(bodyOff) {
			t.Errorf("Accept %q: the text scrape differs with exemplars on", accept)
		}
		if strings.Contains(bodyOn, "conversation_id") || !strings.Contains(bodyOn, `le="20"`) {
			t.Errorf("Accept %q: exemplar or OpenMetrics spelling in a text scrape", accept)
		}
	}
	if _, body := scrapeWith(t, off, openMetricsAccept); strings.Contains(body, "conversation_id") {
		t.Error("exemplars in an OpenMetrics scrape with SMARTASSIST_EXEMPLARS off")
	}
}

// stable drops the samples that differ for reasons other than the format:
// the handler's own instrumentation, which moves between two scrapes, and
// the count of exemplars skipped (0 with exemplars off; its HELP and TYPE
// stay).
func stable(body string) string {
	var keep []string
	for line := range strings.SplitSeq(body, "\n") {
		if strings.Contains(line, "promhttp_metric_handler") || strings.HasPrefix(line, "smartassist_exporter_exemplars_skipped_total ") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}
