package simulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The List of Conversations API (page list-of-conversations.mdx): what the
// platform's live side knows is open now. GET
// /agentassist/api/v1/public/{streamId}/conversations?skip=&limit=&status=,
// headers auth and accountId. Records are newest first, carry `_id` (the
// call-details conversationId) and `status`, and — as the real ones do —
// personal data the exporter must never keep: a phone number, a caller, notes.

// ListStatuses are the statuses the API documents.
var ListStatuses = []string{"ACTIVE", "CLOSED", "IDLE", "OPEN", "OVERDUE", "TERMINATED"}

// DefaultListPageMax is the most records one list page returns in the
// simulator unless SetListPageMax says otherwise. The docs name no maximum;
// a page of 500 is an assumption, and the exporter's paging is tested with
// smaller caps.
const DefaultListPageMax = 500

// ListStatusAt is the live status of a conversation at now: "" before it
// starts or for a bot-only session (no conversationId), ACTIVE while it
// lasts, CLOSED from its end on. The live side knows a conversation closed
// at once; call details reports it finished only after the platform's
// reporting delay (FinishedFrom), so the two disagree for a while. One with
// no FinishedFrom has not finished at all (tests hold conversations open
// that way), whatever its End says: ACTIVE.
func (c *Conversation) ListStatusAt(now time.Time) string {
	switch {
	case c.ID == "" || now.Before(c.Start):
		return ""
	case !now.Before(c.End) && !c.FinishedFrom.IsZero():
		return "CLOSED"
	}
	return "ACTIVE"
}

// SetListDisabled makes the List of Conversations API answer 404, as on a
// tenant without it.
func (s *Server) SetListDisabled(disabled bool) {
	s.mu.Lock()
	s.listDisabled = disabled
	s.mu.Unlock()
}

// SetListPageMax caps the records of one list page (0: DefaultListPageMax).
// With hideLimit the answer leaves out the limit it applied and hasMore,
// as an upstream that says nothing about its paging.
func (s *Server) SetListPageMax(n int, hideLimit bool) {
	s.mu.Lock()
	s.listPageMax, s.listHideLimit = n, hideLimit
	s.mu.Unlock()
}

// ListRequests is how many list requests were answered 200.
func (s *Server) ListRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listRequests
}

// serveList answers the List of Conversations API. The caller holds s.mu.
func (s *Server) serveList(w http.ResponseWriter, r *http.Request) {
	if s.listDisabled || r.URL.Path != "/agentassist/api/v1/public/"+s.opts.StreamID+"/conversations" {
		s.fail(w, http.StatusNotFound, "no such endpoint")
		return
	}
	if !s.admit(w, r, http.MethodGet) {
		return
	}
	if r.Header.Get("accountId") != s.opts.AccountID {
		s.fail(w, http.StatusBadRequest, "accountId header must name the account")
		return
	}
	q := r.URL.Query()
	skip, limit := 0, 10
	var err error
	if v := q.Get("skip"); v != "" {
		if skip, err = strconv.Atoi(v); err != nil || skip < 0 {
			s.fail(w, http.StatusBadRequest, "skip must be a number ≥ 0")
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			s.fail(w, http.StatusBadRequest, "limit must be a number ≥ 1")
			return
		}
	}
	if s.listPageMax > 0 {
		limit = min(limit, s.listPageMax)
	} else {
		limit = min(limit, DefaultListPageMax)
	}
	// status is an array: repeated, or comma-separated.
	var want []string
	for _, v := range q["status"] {
		for st := range strings.SplitSeq(v, ",") {
			st = strings.ToUpper(strings.TrimSpace(st))
			if !slices.Contains(ListStatuses, st) {
				s.fail(w, http.StatusBadRequest, "status must be one of "+strings.Join(ListStatuses, ", "))
				return
			}
			want = append(want, st)
		}
	}
	now := s.now()
	var matched []*Conversation
	for _, c := range s.order {
		st := c.ListStatusAt(now)
		if st != "" && (len(want) == 0 || slices.Contains(want, st)) {
			matched = append(matched, c)
		}
	}
	slices.SortStableFunc(matched, func(a, b *Conversation) int { return b.Start.Compare(a.Start) })
	lo := min(skip, len(matched))
	hi := min(lo+limit, len(matched))
	results := make([]map[string]any, 0, hi-lo)
	for _, c := range matched[lo:hi] {
		results = append(results, c.renderListed(now))
	}
	s.requests[http.StatusOK]++
	s.listRequests++
	w.Header().Set("content-type", "application/json")
	answer := map[string]any{"results": results, "skip": skip, "limit": limit, "hasMore": hi < len(matched),
		"totalResults": len(matched), "totalPages": (len(matched) + limit - 1) / limit}
	if s.listHideLimit {
		answer = map[string]any{"results": results}
	}
	_ = json.NewEncoder(w).Encode(answer)
}

// renderListed writes one List of Conversations record, personal data
// included, as the platform does.
func (c *Conversation) renderListed(now time.Time) map[string]any {
	iso := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	r := map[string]any{
		"_id":              c.ID,
		"status":           c.ListStatusAt(now),
		"startSessionTime": iso(c.Start),
		"startTime":        iso(c.Start),
		"botSessionId":     c.SessionID,
		"source":           strings.ToLower(strings.TrimSpace(c.Channel)),
		"waitTime":         4142,
		"priority":         10,
		"phoneNumber":      "+15550123456",
		"userInfo":         map[string]any{"caller": "+15550123456", "firstName": "Jane", "lastName": "Doe"},
		"notes":            []map[string]any{{"conversationId": c.ID, "note": "Customer Jane Doe asked to be called back on +15550123456."}},
		"queues":           []map[string]any{{"id": queues[0].id, "name": queues[0].name, "status": "ACTIVE", "startTime": iso(c.Start)}},
	}
	if !now.Before(c.End) {
		r["endTime"] = iso(c.End)
	}
	return r
}
