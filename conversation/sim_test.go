package conversation

// Pages as the simulator serves them, for the equivalence tests and the
// benchmarks. The simulator does not import this package (its records are
// its own JSON), so a test-only import makes no cycle.

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/smartassist-exporter/smartassist_exporter/simulator"
)

// simCase is one page body and the zone its request named.
type simCase struct {
	name string
	body []byte
	loc  *time.Location
}

// simulatedPages renders every page of a 3-hour window for each seed and
// timeZoneOffset, through the simulator's ServeHTTP as a client would
// receive them.
func simulatedPages(tb testing.TB, profile simulator.Profile, seeds []uint64, offsets []int) []simCase {
	tb.Helper()
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	now := t0.Add(6 * time.Hour)
	var out []simCase
	for _, seed := range seeds {
		sim := simulator.New(simulator.Options{AccountID: "acc", StreamID: "st", ClientID: "cs", ClientSecret: "secret",
			Seed: seed, Now: func() time.Time { return now }})
		sim.Generate(t0.Add(-3*time.Hour), t0, profile)
		for _, tz := range offsets {
			loc := ZoneForOffset(tz)
			query := fmt.Sprintf(`{"startDate":%q,"endDate":%q,"timeZoneOffset":%d}`,
				t0.Add(-3*time.Hour).In(loc).Format(time.DateTime), t0.In(loc).Format(time.DateTime), tz)
			for offset := 0; offset <= 10; offset++ {
				tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
					"appId": "cs", "jti": fmt.Sprintf("%d-%d-%d", seed, tz, offset), "exp": now.Add(time.Hour).Unix(),
				}).SignedString([]byte("secret"))
				if err != nil {
					tb.Fatal(err)
				}
				req := httptest.NewRequest(http.MethodPost,
					fmt.Sprintf("/agentassist/api/public/analytics/account/acc/v2/calldetails?offset=%d&limit=100", offset),
					strings.NewReader(query))
				req.Header.Set("auth", tok)
				req.Header.Set("accountId", "acc")
				req.Header.Set("iId", "st")
				rec := httptest.NewRecorder()
				sim.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					tb.Fatalf("simulator answered %d: %s", rec.Code, rec.Body)
				}
				body, _ := io.ReadAll(rec.Body)
				if strings.HasPrefix(string(body), `{"data":[],`) {
					break
				}
				out = append(out, simCase{name: fmt.Sprintf("seed%d/tz%d/page%d", seed, tz, offset), body: body, loc: loc})
			}
		}
	}
	return out
}

// realisticPages are full 100-record pages with nothing broken: what the
// benchmarks decode. They are made once per test binary.
func realisticPages(tb testing.TB, n int) []simCase {
	tb.Helper()
	fullPagesOnce.Do(func() {
		for _, c := range simulatedPages(tb, simulator.Profile{PerHour: 400, OpenShare: 0.4, LateShare: 0.02},
			[]uint64{1}, []int{0, 300, -330}) {
			if p, err := refDecodePage(c.body, c.loc); err == nil && p.Len == 100 {
				fullPages = append(fullPages, c)
			}
		}
	})
	if len(fullPages) < n {
		tb.Fatalf("only %d full pages", len(fullPages))
	}
	return fullPages[:n]
}

var (
	fullPagesOnce sync.Once
	fullPages     []simCase
)
