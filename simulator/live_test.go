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
