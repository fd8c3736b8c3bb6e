package simulator

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The live endpoints: Queue Performance (live queue state and the day's
// figures, one row per queue x channel x direction), Queue Size (one queue)
// and the queues list, as the platform documents them. Their state is
// derived from the simulated conversations at the simulator's clock, so it
// agrees with what call details later report: a contact waits in a queue
// from its queue entry until an agent accepts it or it abandons, and a
// conversation is ongoing while an agent segment runs.

// LiveOptions shape the live endpoints.
type LiveOptions struct {
	// QueuePerformanceMissing answers 404 for Queue Performance, as on a
	// tenant without that (unlisted) API.
	QueuePerformanceMissing bool
	// ExtraQueues adds that many idle queues (no traffic, a few agents),
	// for sizing the live cost of a large contact center.
	ExtraQueues int
	// RosterSize is the agents assigned to each queue (default 10); the
	// profile's Staff says how many of them are logged in.
	RosterSize int
	// Staff is how many of a queue's agents are logged in at t (default 6).
	Staff func(t time.Time, queue string) int
}

// liveState is the simulator's live configuration.
type liveState struct {
	opts   LiveOptions
	hidden map[string]bool // deleted queues, by name
}

// SetLive configures the live endpoints.
func (s *Server) SetLive(o LiveOptions) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live.opts = o
}

// HideQueue deletes a queue from the live endpoints (the queues list, Queue
// Performance rows, Queue Size answers 404), as when an admin deletes it.
func (s *Server) HideQueue(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live.hidden == nil {
		s.live.hidden = map[string]bool{}
	}
	s.live.hidden[name] = true
}

// liveQueues lists the queues the live endpoints know, default ones first.
func (s *Server) liveQueues() []queue {
	out := make([]queue, 0, len(queues)+s.live.opts.ExtraQueues)
	for _, q := range queues {
		if !s.live.hidden[q.name] {
			out = append(out, q)
		}
	}
	for i := range s.live.opts.ExtraQueues {
		q := queue{fmt.Sprintf("qu-e0e0e0e-%04d-4d6e-9f00-ee00000000%02d", i, i%100), fmt.Sprintf("Queue %03d", i+1)}
		if !s.live.hidden[q.name] {
			out = append(out, q)
		}
	}
	return out
}

// liveRow is one queue x channel x direction of the live state.
type liveRow struct {
	waiting, ongoing, overdue int
	oldestWait                time.Duration
	waitSum, handleSum        time.Duration
	answered, total           int
	answeredInTarget          int
}

// liveChannel maps a conversation's channel to Queue Performance's
// channel value: Voice, or the source id.
func liveChannel(ch string) string {
	switch strings.TrimSpace(ch) {
	case "Voice":
		return "Voice"
	case "System Mail":
		return "emailInst-support"
	}
	return "rtm"
}

// overdueAfter is a queue's wait threshold by channel.
func overdueAfter(channel string) time.Duration {
	if channel == "emailInst-support" {
		return 30 * time.Minute
	}
	return time.Minute
}

type liveKey struct{ queueID, channel, direction string }

// liveStateAt derives every queue's live rows and its busy agents at now
// from the conversations; since is the start of the day's range.
//
// The second map is the agents each queue's ongoing calls and chats keep
// busy, one each (emails are worked between them and not counted).
func (s *Server) liveStateAt(now, since time.Time) (map[liveKey]*liveRow, map[string]int) {
	rows := map[liveKey]*liveRow{}
	load := map[string]float64{}
	for _, c := range s.order {
		if c.Start.After(now) {
			continue
		}
		for i, d := range c.Destinations {
			if !d.Queue || d.Enter.After(now) {
				continue
			}
			k := liveKey{d.QueueID, liveChannel(c.Channel), c.Direction}
			r := rows[k]
			if r == nil {
				r = &liveRow{}
				rows[k] = r
			}
			// The agent segment that took the contact from the queue.
			seg := d.Responding
			if seg == nil && i+1 < len(c.Destinations) {
				seg = c.Destinations[i+1].Agent
			}
			waitEnd := c.End
			if seg != nil {
				waitEnd = seg.Accepted
			}
			switch {
			case now.Before(waitEnd):
				r.waiting++
				w := now.Sub(d.Enter)
				r.oldestWait = max(r.oldestWait, w)
				if w > overdueAfter(k.channel) {
					r.overdue++
				}
			case seg != nil && now.Before(seg.end()):
				r.ongoing++
				if k.channel != "emailInst-support" {
					load[d.QueueID]++
				}
			}
			if !d.Enter.Before(since) && !waitEnd.After(now) {
				r.total++
				if seg != nil {
					r.answered++
					r.waitSum += waitEnd.Sub(d.Enter)
					r.handleSum += seg.end().Sub(seg.Accepted)
					if waitEnd.Sub(d.Enter) <= 20*time.Second {
						r.answeredInTarget++
					}
				}
			}
		}
	}
	busy := make(map[string]int, len(load))
	for q, l := range load {
		busy[q] = int(math.Ceil(l - 1e-9))
	}
	return rows, busy
}

// agentsAt is a queue's agents by status: logged in from the profile's
// staff, busy as many as its ongoing conversations need (at most the staff),
// one away now and then, the rest of the roster offline.
func (s *Server) agentsAt(now time.Time, q queue, ongoing int) map[string]int {
	roster := s.live.opts.RosterSize
	if roster <= 0 {
		roster = 10
	}
	staff := 6
	if s.live.opts.Staff != nil {
		staff = s.live.opts.Staff(now, q.name)
	}
	staff = min(max(staff, 0), roster)
	busy := min(ongoing, staff)
	away := 0
	h := fnv.New32a()
	_, _ = fmt.Fprintf(h, "%s/%d", q.id, now.Unix()/60)
	if staff-busy > 1 && h.Sum32()%3 == 0 {
		away = 1
	}
	return map[string]int{"available": staff - busy - away, "busy": busy, "away": away, "offline": roster - staff}
}

type qpRequest struct {
	StartDate  string          `json:"startDate"`
	EndDate    string          `json:"endDate"`
	Queues     []string        `json:"queues"`
	Limit      *int            `json:"limit"`
	Offset     *int            `json:"offset"`
	Projection []string        `json:"projection"`
	Direction  json.RawMessage `json:"direction"`
}

// serveLive answers the live endpoints; false when the path is not one of
// them. The caller holds s.mu.
func (s *Server) serveLive(w http.ResponseWriter, r *http.Request) bool {
	qpPath := "/agentassist/api/public/analytics/account/" + s.opts.AccountID + "/queue-performance"
	streamPrefix := "/agentassist/api/v1/public/" + s.opts.StreamID + "/"
	rest, underStream := strings.CutPrefix(r.URL.Path, streamPrefix)
	var handler func(http.ResponseWriter, *http.Request)
	switch {
	case r.URL.Path == qpPath && r.Method == http.MethodPost:
		handler = s.serveQueuePerformance
	case underStream && rest == "queues" && r.Method == http.MethodGet:
		handler = s.serveQueueList
	case underStream && strings.HasPrefix(rest, "monitor/queueStatsById/") && r.Method == http.MethodPost:
		handler = s.serveQueueSize
	default:
		return false
	}
	if !s.admit(w, r, r.Method) {
		return true
	}
	if r.Header.Get("accountId") != s.opts.AccountID {
		s.fail(w, http.StatusBadRequest, "accountId header must name the account")
		return true
	}
	handler(w, r)
	return true
}

func (s *Server) reply(w http.ResponseWriter, v any) {
	s.requests[http.StatusOK]++
	w.Header().Set("content-type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serveQueuePerformance(w http.ResponseWriter, r *http.Request) {
	if s.live.opts.QueuePerformanceMissing {
		s.fail(w, http.StatusNotFound, "Cannot POST "+r.URL.Path)
		return
	}
	if r.Header.Get("iId") != s.opts.StreamID {
		s.fail(w, http.StatusBadRequest, "iId header must name the stream")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	var q qpRequest
	if err != nil || json.Unmarshal(body, &q) != nil {
		s.fail(w, http.StatusBadRequest, "body is not JSON")
		return
	}
	from, err1 := time.Parse(time.RFC3339Nano, q.StartDate)
	to, err2 := time.Parse(time.RFC3339Nano, q.EndDate)
	switch {
	case err1 != nil || err2 != nil:
		s.fail(w, http.StatusBadRequest, "startDate and endDate must be ISO 8601")
		return
	case to.Before(from) || to.Sub(from) > 24*time.Hour:
		s.fail(w, http.StatusBadRequest, "the range must not exceed 24 hours")
		return
	}
	limit, offset := 100, 0
	if q.Limit != nil {
		limit = *q.Limit
	}
	if q.Offset != nil {
		offset = *q.Offset
	}
	if limit < 1 || limit > 1000 || offset < 0 {
		s.fail(w, http.StatusBadRequest, "limit must be 1..1000 and offset at least 0")
		return
	}
	want := map[string]bool{}
	for _, p := range q.Projection {
		want[p] = true
	}
	keep := func(field string) bool { return len(want) == 0 || want[field] }

	now := s.now()
	rowsByKey, ongoing := s.liveStateAt(now, from)
	type combo struct{ channel, direction string }
	combos := []combo{{"Voice", "Inbound"}, {"Voice", "Outbound"}, {"rtm", "Inbound"}, {"emailInst-support", "Inbound"}}
	qs := s.liveQueues()
	sort.SliceStable(qs, func(i, j int) bool { return qs[i].name < qs[j].name })
	var all []map[string]any
	for _, qu := range qs {
		agents := s.agentsAt(now, qu, ongoing[qu.id])
		for _, cb := range combos {
			lr := rowsByKey[liveKey{qu.id, cb.channel, cb.direction}]
			if lr == nil {
				lr = &liveRow{}
			}
			row := map[string]any{"queueId": qu.id, "queueName": qu.name, "channel": cb.channel, "direction": cb.direction}
			set := func(field string, v any) {
				if keep(field) {
					row[field] = v
				}
			}
			set("agentStatusCount", agents)
			set("waiting", lr.waiting)
			set("ongoing", lr.ongoing)
			set("overdue", lr.overdue)
			set("idle", 0)
			set("expired", 0)
			set("queueLoad", lr.waiting+lr.ongoing)
			set("totalConversation", lr.total)
			set("answered", lr.answered)
			set("accepted", lr.answered)
			set("completed", lr.answered)
			set("abandonedInQueue", lr.total-lr.answered)
			asa, aht := 0.0, 0.0
			if lr.answered > 0 {
				// Milliseconds, the API's duration unit.
				asa = float64(lr.waitSum.Milliseconds()) / float64(lr.answered)
				aht = float64(lr.handleSum.Milliseconds()) / float64(lr.answered)
			}
			set("ASA", asa)
			set("AHT", aht)
			var sla any = "N/A" // outbound and email rows
			if cb.direction == "Inbound" && cb.channel != "emailInst-support" {
				sla = 100
				if lr.answered > 0 {
					sla = 100 * lr.answeredInTarget / lr.answered
				}
			}
			set("SLA", sla)
			all = append(all, row)
		}
	}
	lo := min(offset, len(all))
	hi := min(lo+limit, len(all))
	s.reply(w, map[string]any{"finalResult": all[lo:hi], "hasMore": hi < len(all), "offset": offset, "limit": limit, "totalResults": len(all)})
}

func (s *Server) serveQueueList(w http.ResponseWriter, r *http.Request) {
	page, limit := 1, 10
	if v := r.URL.Query().Get("page"); v != "" {
		if p, err := strconv.Atoi(v); err == nil && p >= 1 {
			page = p
		}
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		if l, err := strconv.Atoi(v); err == nil && l >= 1 && l <= 100 {
			limit = l
		}
	}
	qs := s.liveQueues()
	lo := min((page-1)*limit, len(qs))
	hi := min(lo+limit, len(qs))
	results := make([]map[string]any, 0, hi-lo)
	for i, q := range qs[lo:hi] {
		results = append(results, map[string]any{
			"id": q.id, "name": q.name, "isActive": true, "isDefault": lo+i == 0,
			// Personal data, as the real list carries: the exporter must
			// not pass it on.
			"agents": []map[string]any{{"userId": "u-0000", "name": "Charlie Abraham"}},
			"skills": []any{},
		})
	}
	pages := (len(qs) + limit - 1) / limit
	s.reply(w, map[string]any{"results": results, "page": page, "limit": limit, "hasMore": hi < len(qs), "totalPages": pages, "totalResults": len(qs)})
}

func (s *Server) serveQueueSize(w http.ResponseWriter, r *http.Request) {
	id := path.Base(r.URL.Path) // the last segment, a trailing slash ignored
	var qu *queue
	for _, q := range s.liveQueues() {
		if q.id == id {
			qu = &q
			break
		}
	}
	if qu == nil {
		s.fail(w, http.StatusNotFound, "queue not found")
		return
	}
	now := s.now()
	rows, ongoing := s.liveStateAt(now, now.Truncate(24*time.Hour))
	waiting, engaged, dropOff, answered := 0, 0, 0, 0
	var oldest, waitSum time.Duration
	for k, lr := range rows {
		if k.queueID != id {
			continue
		}
		waiting += lr.waiting
		engaged += lr.ongoing
		dropOff += lr.total - lr.answered
		answered += lr.answered
		waitSum += lr.waitSum
		oldest = max(oldest, lr.oldestWait)
	}
	agents := s.agentsAt(now, *qu, ongoing[id])
	avg := int64(0)
	if answered > 0 {
		avg = waitSum.Milliseconds() / int64(answered)
	}
	s.reply(w, []map[string]any{{
		"queueId": qu.id, "queueName": qu.name, "skills": []any{},
		"waiting": waiting, "engaged": engaged, "dropOff": dropOff,
		"agentStatus": agents, "noOfAgents": agents["available"] + agents["busy"] + agents["away"] + agents["offline"],
		// Milliseconds, like the analytics APIs' durations.
		"queueSummary": map[string]any{"avgWait": avg, "maxWait": oldest.Milliseconds(), "ASA": avg},
	}})
}

// LiveQueue is what the live endpoints say of one queue at a time, summed
// over its channels and directions: what a test of the live collector
// should have seen.
type LiveQueue struct {
	Waiting, Ongoing, Overdue int
	LongestWait               time.Duration
	Agents                    map[string]int // available, busy, away, offline
}

// LiveQueues returns the live state of every queue at now, by name.
func (s *Server) LiveQueues(now time.Time) map[string]LiveQueue {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, ongoing := s.liveStateAt(now, now.Add(-time.Hour))
	out := map[string]LiveQueue{}
	for _, q := range s.liveQueues() {
		lq := LiveQueue{Agents: s.agentsAt(now, q, ongoing[q.id])}
		for k, r := range rows {
			if k.queueID == q.id {
				lq.Waiting += r.waiting
				lq.Ongoing += r.ongoing
				lq.Overdue += r.overdue
				lq.LongestWait = max(lq.LongestWait, r.oldestWait)
			}
		}
		out[q.name] = lq
	}
	return out
}
