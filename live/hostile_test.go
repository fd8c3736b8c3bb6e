package live

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smartassist-exporter/smartassist_exporter/simulator"
)

// answerQueuePerformance answers every Queue Performance request with body
// (after the simulator checked nothing: the point is the answer).
func answerQueuePerformance(body string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/queue-performance") {
				w.Header().Set("content-type", "application/json")
				_, _ = io.WriteString(w, body)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// docsRows is the documentation's sample answer, made worse the ways a
// real one can be: SLA "N/A", ASA/AHT in milliseconds (ignored: the live
// projections do not include them), counts as strings, a negative count, a
// NaN, a row that is not an object, a queue with only an id, a queue name
// with stray white space, the same row twice, and agent counts repeated on
// every row of a queue.
const docsRows = `{"finalResult":[
 {"queueId":"qu-1","queueName":"Support Queue","channel":"Voice","direction":"Inbound",
  "agentStatusCount":{"available":3,"away":1,"busy":2,"offline":0},"waiting":2,"ongoing":4,"overdue":0,"queueLoad":4,
  "ASA":14000,"AHT":321000,"SLA":92},
 {"queueId":"qu-1","queueName":"Support Queue","channel":"emailInst-support","direction":"Outbound",
  "agentStatusCount":{"available":3,"away":1,"busy":2,"offline":0},"waiting":"1","ongoing":-3,"overdue":"NaN","queueLoad":0,
  "ASA":0,"AHT":0,"SLA":"N/A"},
 {"queueId":"qu-1","queueName":"Support Queue","channel":"Voice","direction":"Inbound","waiting":99},
 "not a row",
 {"queueId":"qu-2","queueName":"","channel":"rtm","direction":"Inbound","waiting":5,
  "agentStatusCount":{"available":"x","busy":1}},
 {"queueId":"qu-3","queueName":"  Billing \t Desk ","channel":"rtm","direction":"Inbound","waiting":1}
],"hasMore":false,"offset":0,"limit":1000,"totalResults":6}`

func TestHostileQueuePerformanceAnswer(t *testing.T) {
	r := newRig(t, simulator.LiveOptions{}, answerQueuePerformance(docsRows))
	c := r.collector(Options{})
	if err := c.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	waiting := r.gauges(t, "smartassist_queue_waiting")
	want := map[string]float64{
		"Support Queue/Voice/Inbound":              2, // the repeated row counts once
		"Support Queue/emailInst-support/Outbound": 1, // "1" is a count
		"qu-2/rtm/Inbound":                         5, // no name: the id, as call details does
		"Billing Desk/rtm/Inbound":                 1,
	}
	if len(waiting) != len(want) {
		t.Errorf("waiting %v, want %v", waiting, want)
	}
	for k, v := range want {
		if waiting[k] != v {
			t.Errorf("waiting %s = %v, want %v", k, waiting[k], v)
		}
	}
	if _, ok := r.gauges(t, "smartassist_queue_ongoing")["Support Queue/emailInst-support/Outbound"]; ok {
		t.Error("a negative ongoing count was shown")
	}
	agents := r.gauges(t, "smartassist_queue_agents")
	if agents["Support Queue/available"] != 3 || agents["Support Queue/busy"] != 2 {
		t.Errorf("agents %v: counts repeated on each row must not be summed", agents)
	}
	if agents["qu-2/busy"] != 1 {
		t.Errorf("agents %v: qu-2's usable busy count lost with its bad available count", agents)
	}
	// -3, "NaN", "x" and the row that is not an object.
	if n := counterValue(t, r.reg, "smartassist_exporter_live_invalid_values_total"); n != 4 {
		t.Errorf("%v invalid values counted, want 4", n)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return -1
}

// TestBrokenAnswers: an answer that is not JSON, an endless hasMore, and
// an oversized page count each end the poll with a clear error or a
// bounded number of requests, never a hang or a stale mix.
func TestBrokenAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		wantErr    string
		requests   float64
	}{
		{"not JSON", `<html>gateway</html>`, "decoding a queue-performance page", 1},
		{"hasMore forever with full pages", `{"finalResult":[` + strings.Repeat(`{"queueId":"q","queueName":"A","channel":"Voice","direction":"Inbound","waiting":1},`, 2) +
			`{"queueId":"q","queueName":"A","channel":"Voice","direction":"Inbound","waiting":1}],"hasMore":true}`, "more rows than", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, simulator.LiveOptions{}, answerQueuePerformance(tc.body))
			// 5/min x 40% x 60s = 2 requests a poll.
			c := r.collector(Options{PageRows: 3, PlanPerMinute: 5, Interval: time.Minute})
			err := c.Poll(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err %v, want %q", err, tc.wantErr)
			}
			if n := r.requests(EndpointQueuePerformance); n != tc.requests {
				t.Errorf("%v requests, want %v", n, tc.requests)
			}
			if len(r.gauges(t, "smartassist_queue_waiting")) != 0 {
				t.Error("gauges from a failed poll")
			}
		})
	}
}
