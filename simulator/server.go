// Package simulator is a stand-in for SmartAssist's call-details API, served
// over real HTTP: it checks the JWT and headers, enforces the documented
// limit/offset/7-day rules and a per-minute rate limit, answers some 429s and
// 5xx, lists conversations before they finish and reports some late, returns
// records in no particular order (so pages shift as conversations arrive),
// and mixes the spellings of the API's versions. It feeds `-demo` and the
// integration tests, which ask it what they should have seen.
package simulator

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Options configure a simulated account.
type Options struct {
	AccountID, StreamID    string
	ClientID, ClientSecret string
	// RateLimit is requests per minute before 429s; 0 for none.
	RateLimit float64
	// FailureRate is the share of requests answered with a 429 or 5xx
	// at random, on top of the rate limit.
	FailureRate float64
	Seed        uint64
	// Now is the simulated clock; time.Now when nil.
	Now func() time.Time
}

// Server is the simulated API.
type Server struct {
	opts    Options
	now     func() time.Time
	limiter *rate.Limiter

	mu       sync.Mutex
	rng      *rand.Rand
	convs    map[string]*Conversation
	order    []*Conversation // by hash of key: "no promised order"
	jtis     map[string]string
	requests map[int]int
	gen      *generator
	live     liveState // the live endpoints (live.go)

	listDisabled bool // the List of Conversations API answers 404
	// listPageMax caps a list page (0: DefaultListPageMax); listHideLimit
	// leaves limit and hasMore out of the answer.
	listPageMax   int
	listHideLimit bool
	listRequests  int
	changes       uint64 // Add, Update and Forget calls: invalidate lastMatched

	// The last query's matches: the pages of one window are asked for one
	// after another, and a week of conversations is slow to filter. A
	// conversation changed other than through Update, at an unchanged
	// simulated now, would not be seen by the next page.
	lastQuery   matchQuery
	lastMatched []*Conversation
}

type matchQuery struct {
	now, from, to time.Time
	n             int // len(order): Add or Forget changes it
	gen           uint64
}

// matching lists what a query at now for starts in [from, to] returns, in
// the server's order. The caller holds s.mu.
func (s *Server) matching(now, from, to time.Time) []*Conversation {
	q := matchQuery{now: now, from: from, to: to, n: len(s.order), gen: s.changes}
	if q == s.lastQuery && s.lastMatched != nil {
		return s.lastMatched
	}
	var matched []*Conversation
	for _, c := range s.order {
		if c.Start.Before(from) || c.Start.After(to) {
			continue
		}
		if c.stateAt(now) != notListed {
			matched = append(matched, c)
		}
	}
	s.lastQuery, s.lastMatched = q, matched
	return matched
}

// New creates a server with no conversations.
func New(opts Options) *Server {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Server{
		opts:     opts,
		now:      now,
		rng:      rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5eed)),
		convs:    map[string]*Conversation{},
		jtis:     map[string]string{},
		requests: map[int]int{},
	}
	if opts.RateLimit > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(opts.RateLimit/60), max(1, int(opts.RateLimit/6)))
	}
	s.gen = newGenerator(opts.Seed)
	return s
}

// Add adds conversations (or replaces ones with the same key).
func (s *Server) Add(cs ...*Conversation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes++
	for _, c := range cs {
		c.hash = keyHash(c.Key())
		if old, ok := s.convs[c.Key()]; ok {
			for i := range s.order {
				if s.order[i] == old {
					s.order[i] = c
				}
			}
		} else {
			s.order = append(s.order, c)
		}
		s.convs[c.Key()] = c
	}
	sort.Slice(s.order, func(i, j int) bool { return s.order[i].hash < s.order[j].hash })
}

// Update changes conversations under the server's lock (tests use it to
// finish open ones); it also drops the cached matches of the last query.
func (s *Server) Update(fn func(all []*Conversation)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes++
	fn(s.order)
}

// Requests returns how many requests were answered with each status.
func (s *Server) Requests() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int]int, len(s.requests))
	maps.Copy(out, s.requests)
	return out
}

// Visible lists the conversations the API lists at time at with a start in
// [from, to]: finished ones, and ones listed as still open.
func (s *Server) Visible(at, from, to time.Time) (finished, open []*Conversation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.order {
		if c.Start.Before(from) || c.Start.After(to) {
			continue
		}
		switch c.stateAt(at) {
		case listedFinished:
			finished = append(finished, c)
		case listedOpen:
			open = append(open, c)
		}
	}
	return finished, open
}

type apiError struct {
	Errors []struct {
		Msg  string `json:"msg"`
		Code int    `json:"code"`
	} `json:"errors"`
}

func (s *Server) fail(w http.ResponseWriter, code int, msg string) {
	s.requests[code]++
	var e apiError
	e.Errors = append(e.Errors, struct {
		Msg  string `json:"msg"`
		Code int    `json:"code"`
	}{msg, code})
	w.Header().Set("content-type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(e)
}

type queryBody struct {
	StartDate      string          `json:"startDate"`
	EndDate        string          `json:"endDate"`
	TimeZoneOffset json.RawMessage `json:"timeZoneOffset"`
}

// ServeHTTP answers POST .../analytics/account/{accountId}/v2/{calldetails|interactionDetails}.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serveLive(w, r) {
		return
	}
	if strings.HasPrefix(r.URL.Path, "/agentassist/api/v1/public/") && strings.HasSuffix(r.URL.Path, "/conversations") {
		s.serveList(w, r)
		return
	}
	prefix := "/agentassist/api/public/analytics/account/" + s.opts.AccountID + "/v2/"
	ep, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok || (!strings.EqualFold(ep, "calldetails") && !strings.EqualFold(ep, "interactionDetails")) {
		s.fail(w, http.StatusNotFound, "no such endpoint")
		return
	}
	if !s.admit(w, r, http.MethodPost) {
		return
	}
	if r.Header.Get("accountId") != s.opts.AccountID || r.Header.Get("iId") != s.opts.StreamID {
		s.fail(w, http.StatusBadRequest, "accountId and iId headers must name the account and stream")
		return
	}
	if s.opts.FailureRate > 0 && s.rng.Float64() < s.opts.FailureRate {
		codes := []int{http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}
		code := codes[s.rng.IntN(len(codes))]
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		s.fail(w, code, "simulated failure")
		return
	}
	offset, limit, err := pageParams(r)
	if err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		s.fail(w, http.StatusBadRequest, "reading body")
		return
	}
	var q queryBody
	if err := json.Unmarshal(body, &q); err != nil {
		s.fail(w, http.StatusBadRequest, "body is not JSON: "+err.Error())
		return
	}
	tz, err := strconv.Atoi(strings.Trim(string(q.TimeZoneOffset), `"`))
	if err != nil {
		s.fail(w, http.StatusBadRequest, "timeZoneOffset is required and must be a number")
		return
	}
	loc := time.FixedZone("", -tz*60)
	from, err1 := parseDate(q.StartDate, loc)
	to, err2 := parseDate(q.EndDate, loc)
	if err1 != nil || err2 != nil {
		s.fail(w, http.StatusBadRequest, "startDate and endDate must be yyyy-mm-dd HH:mm:ss")
		return
	}
	if to.Before(from) {
		s.fail(w, http.StatusBadRequest, "endDate is before startDate")
		return
	}
	if to.Sub(from) > MaxRange {
		s.fail(w, http.StatusBadRequest, "The days range can't be more than seven days")
		return
	}
	now := s.now()
	matched := s.matching(now, from, to)
	lo := min(offset*limit, len(matched))
	hi := min(lo+limit, len(matched))
	page := matched[lo:hi]
	data := make([]json.RawMessage, 0, len(page))
	for _, c := range page {
		data = append(data, c.render(now, loc))
	}
	s.requests[http.StatusOK]++
	w.Header().Set("content-type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"numResults": len(data), "data": data})
}

func pageParams(r *http.Request) (offset, limit int, err error) {
	limit, offset = 100, 0
	if v := r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 100 {
			return 0, 0, fmt.Errorf("limit must be 1..100")
		}
	}
	if v := r.URL.Query().Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 || offset > 10 {
			return 0, 0, fmt.Errorf("offset must be 0..10")
		}
	}
	return offset, limit, nil
}

func parseDate(s string, loc *time.Location) (time.Time, error) {
	for _, l := range []string{"2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad date %q", s)
}

// admit answers what the call-details and list endpoints check first, in
// this order: the method, the account's rate limit, then the JWT. It reports
// whether the request got through; if not, it has answered it. The caller
// holds s.mu.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method != method {
		s.fail(w, http.StatusMethodNotAllowed, "use "+method)
		return false
	}
	if s.limiter != nil && !s.limiter.Allow() {
		w.Header().Set("Retry-After", "1")
		s.fail(w, http.StatusTooManyRequests, "You've exceeded the per-minute rate limit. Please wait for sometime before retrying.")
		return false
	}
	if err := s.checkAuth(r); err != nil {
		s.fail(w, http.StatusUnauthorized, err.Error())
		return false
	}
	return true
}

// checkAuth verifies the JWT: HS256 with the app's secret, appId = client
// id, not expired, and a jti that no other token used.
func (s *Server) checkAuth(r *http.Request) error {
	raw := r.Header.Get("auth")
	if raw == "" {
		return fmt.Errorf("auth header missing")
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) {
		return []byte(s.opts.ClientSecret), nil
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithTimeFunc(s.now))
	if err != nil {
		return fmt.Errorf("invalid token: %w", err)
	}
	if claims["appId"] != s.opts.ClientID {
		return fmt.Errorf("token is not for this app")
	}
	jti, _ := claims["jti"].(string)
	if jti == "" {
		return fmt.Errorf("token has no jti")
	}
	if prev, ok := s.jtis[jti]; ok && prev != raw {
		return fmt.Errorf("jti reused")
	}
	s.jtis[jti] = raw
	return nil
}

func keyHash(key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return h.Sum64()
}

// MaxRange is the longest startDate..endDate range the platform serves. The
// simulator states the platform's rule on its own rather than importing the
// exporter's (collector.MaxWindow), so that tests against it check the
// exporter; collector's TestSimulatorAgreesOnLimits checks the two agree.
const MaxRange = 7 * 24 * time.Hour
