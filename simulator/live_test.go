package simulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func liveRequest(t *testing.T, s *Server, method, path, body, jti string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("auth", token(t, "secret", "cs", jti, t0.Add(time.Minute)))
	req.Header.Set("accountId", "acc")
	req.Header.Set("iId", "st")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// TestQueuePerformanceAsDocumented: rows sorted by queue name, paged by
// rows, SLA "N/A" on outbound and email rows, ASA/AHT in milliseconds, the
// projection honoured, the 24-hour range enforced, and 404 on request.
func TestQueuePerformanceAsDocumented(t *testing.T) {
	s := New(Options{AccountID: "acc", StreamID: "st", ClientID: "cs", ClientSecret: "secret", Seed: 3, Now: func() time.Time { return t0 }})
	s.Generate(t0.Add(-2*time.Hour), t0, Profile{PerHour: 400})
	path := "/agentassist/api/public/analytics/account/acc/queue-performance?sortBy=queueName:asc"
	body := `{"startDate":"2026-03-10T00:00:00.000Z","endDate":"2026-03-10T12:00:00.000Z","limit":10,"offset":0}`
	rec := liveRequest(t, s, http.MethodPost, path, body, "q1")
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var page struct {
		FinalResult  []map[string]any `json:"finalResult"`
		HasMore      bool             `json:"hasMore"`
		TotalResults int              `json:"totalResults"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.FinalResult) != 10 || !page.HasMore || page.TotalResults != 16 {
		t.Fatalf("%d rows, hasMore %v, total %d; want 10 of 16 and more", len(page.FinalResult), page.HasMore, page.TotalResults)
	}
	if page.FinalResult[0]["queueName"] != "Billing" {
		t.Errorf("first row %v, want Billing (sorted by name)", page.FinalResult[0]["queueName"])
	}
	sawNA, sawASA := false, false
	for _, r := range page.FinalResult {
		sla := r["SLA"]
		na := r["direction"] == "Outbound" || r["channel"] == "emailInst-support"
		if na != (sla == "N/A") {
			t.Errorf("row %v/%v: SLA %v", r["channel"], r["direction"], sla)
		}
		sawNA = sawNA || sla == "N/A"
		if asa, _ := r["ASA"].(float64); asa >= 1000 {
			sawASA = true // seconds of wait, in ms
		}
	}
	if !sawNA || !sawASA {
		t.Errorf("no SLA N/A (%v) or no ASA in milliseconds (%v) in the first page", sawNA, sawASA)
	}
	projected := liveRequest(t, s, http.MethodPost, path, `{"startDate":"2026-03-10T11:00:00Z","endDate":"2026-03-10T12:00:00Z","projection":["waiting"]}`, "q2")
	if strings.Contains(projected.Body.String(), `"SLA"`) || !strings.Contains(projected.Body.String(), `"waiting"`) {
		t.Errorf("projection not honoured: %.300s", projected.Body)
	}
	if rec := liveRequest(t, s, http.MethodPost, path, `{"startDate":"2026-03-08T00:00:00Z","endDate":"2026-03-10T00:00:00Z"}`, "q3"); rec.Code != 400 {
		t.Errorf("a 48h range: %d", rec.Code)
	}
	s.SetLive(LiveOptions{QueuePerformanceMissing: true})
	if rec := liveRequest(t, s, http.MethodPost, path, body, "q4"); rec.Code != 404 {
		t.Errorf("missing Queue Performance answered %d", rec.Code)
	}
	// Queue Size and the list still answer.
	if rec := liveRequest(t, s, http.MethodGet, "/agentassist/api/v1/public/st/queues?page=1&limit=2", "", "q5"); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"hasMore":true`) {
		t.Errorf("queues list: %d %s", rec.Code, rec.Body)
	}
	if rec := liveRequest(t, s, http.MethodPost, "/agentassist/api/v1/public/st/monitor/queueStatsById/"+queues[0].id, "{}", "q6"); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"maxWait"`) {
		t.Errorf("queue size: %d %s", rec.Code, rec.Body)
	}
	if rec := liveRequest(t, s, http.MethodPost, "/agentassist/api/v1/public/st/monitor/queueStatsById/qu-nope", "{}", "q7"); rec.Code != 404 {
		t.Errorf("unknown queue: %d", rec.Code)
	}
}

// TestDemoBurst: with the demo's profile and staffing, contacts waiting
// (calls and chats) rise during a burst and fall after it, and the
// available agents do the opposite: what -demo's Live dashboard shows.
func TestDemoBurst(t *testing.T) {
	burst := time.Date(2026, 3, 10, 14, 10, 0, 0, time.UTC) // bursts at minutes 0-2 of every 10
	s := New(Options{AccountID: "acc", StreamID: "st", ClientID: "cs", ClientSecret: "secret", Seed: 11})
	s.SetLive(LiveOptions{Staff: DemoStaff, RosterSize: DemoRoster})
	s.Generate(burst.Add(-2*time.Hour), burst.Add(10*time.Minute), DemoProfile)
	// Waiting calls and chats, and available agents, over every queue;
	// averaged over a minute of 15 s polls to smooth the Poisson noise.
	at := func(from time.Time) (waiting, available float64) {
		for i := range 4 {
			now := from.Add(time.Duration(i) * 15 * time.Second)
			s.mu.Lock()
			rows, _ := s.liveStateAt(now, now.Add(-time.Hour))
			s.mu.Unlock()
			for k, r := range rows {
				if k.channel != "emailInst-support" {
					waiting += float64(r.waiting) / 4
				}
			}
			for _, q := range s.LiveQueues(now) {
				available += float64(q.Agents["available"]) / 4
			}
		}
		return waiting, available
	}
	wBefore, aBefore := at(burst.Add(-90 * time.Second))
	wPeak, aPeak := at(burst.Add(time.Minute))
	wAfter, aAfter := at(burst.Add(7 * time.Minute))
	t.Logf("waiting before %.1f, in the burst %.1f, after %.1f; available %.1f, %.1f, %.1f", wBefore, wPeak, wAfter, aBefore, aPeak, aAfter)
	if !(wPeak > 2*wBefore && wPeak > 2*wAfter) {
		t.Errorf("waiting does not rise in the burst and fall after: %.1f, %.1f, %.1f", wBefore, wPeak, wAfter)
	}
	if !(aPeak < aBefore && aPeak < aAfter) {
		t.Errorf("available agents do not dip in the burst: %.1f, %.1f, %.1f", aBefore, aPeak, aAfter)
	}
}
