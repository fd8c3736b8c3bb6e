package collector

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smartassist-exporter/smartassist_exporter/conversation"
)

// fakePages answers FetchPage from a function, counting requests.
type fakePages struct {
	requests int
	answer   func(w Window, page int) conversation.Page
}

func (f *fakePages) FetchPage(_ context.Context, w Window, page int) (conversation.Page, error) {
	f.requests++
	return f.answer(w, page), nil
}

func finishedRecord(key string, start time.Time) conversation.Conversation {
	return conversation.Conversation{ConversationID: conversation.Text(key), FinalStatus: "CLOSED", Start: start, End: start.Add(time.Minute)}
}

func hostilePoller(t *testing.T, pages PageSource, now time.Time) (*Poller, *recordingSink) {
	t.Helper()
	state := openTestState(t, filepath.Join(t.TempDir(), "state.db"))
	t.Cleanup(func() { state.Close() })
	return hostilePollerOn(state, pages, now)
}

// hostilePollerOn is hostilePoller on a state the test opened itself.
func hostilePollerOn(state *State, pages PageSource, now time.Time) (*Poller, *recordingSink) {
	sink := newRecordingSink()
	p := New(Options{Pages: pages, State: state, Sink: sink, Registerer: prometheus.NewRegistry(), Log: quiet,
		Now:  func() time.Time { return now },
		Poll: PollerConfig{Interval: time.Minute, Lookback: 2 * time.Hour, RecentWindow: 30 * time.Minute, RequestsPerPoll: 25}})
	return p, sink
}

// TestUpstreamIgnoringOffset: an upstream that answers the same 100 records
// for every offset is detected on the second page; the window fails with an
// error saying so, nothing is split, and the budget is not burnt.
func TestUpstreamIgnoringOffset(t *testing.T) {
	now := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	same := conversation.Page{Len: PageLimit}
	for i := range PageLimit {
		same.Records = append(same.Records, finishedRecord(fmt.Sprintf("c-%03d", i), now.Add(-time.Hour)))
	}
	pages := &fakePages{answer: func(Window, int) conversation.Page { return same }}
	p, sink := hostilePoller(t, pages, now)
	var res scanResult
	err := p.readWindow(context.Background(), Window{now.Add(-2 * time.Hour), now}, &res)
	if !errors.Is(err, ErrUpstreamIgnoresPaging) {
		t.Fatalf("err %v, want ErrUpstreamIgnoresPaging", err)
	}
	if pages.requests != 2 || res.splits != 0 {
		t.Errorf("%d requests and %d splits for a window of an upstream that ignores offset, want 2 and 0", pages.requests, res.splits)
	}
	// The first page was new, and is counted once.
	if len(sink.observed) != PageLimit {
		t.Errorf("%d observed", len(sink.observed))
	}
	// A whole poll (backfill of the lookback) stays cheap too and reports
	// itself incomplete.
	pages.requests = 0
	r := p.Poll(context.Background())
	if r.Complete || pages.requests > 4 {
		t.Errorf("poll %+v with %d requests", r, pages.requests)
	}
}

// TestRecordsOutsideTheWindow: a record whose start lies outside the window
// asked for (an upstream that ignored the dates, 9999-12-31, 0001-01-01) is
// not counted and is counted as invalid; the rest of the page is.
func TestRecordsOutsideTheWindow(t *testing.T) {
	now := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	far := []time.Time{time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), now.Add(-30 * 24 * time.Hour), now.Add(time.Hour)}
	pages := &fakePages{answer: func(_ Window, page int) conversation.Page {
		if page > 0 {
			return conversation.Page{}
		}
		pg := conversation.Page{}
		for i, s := range far {
			pg.Records = append(pg.Records, finishedRecord(fmt.Sprintf("c-far-%d", i), s))
		}
		// The same conversation in every answer, as the platform reports it:
		// with the one session start that is part of its identity (the
		// state keys it by start hour), outside some of the windows.
		pg.Records = append(pg.Records, finishedRecord("c-good", now.Add(-90*time.Minute)))
		pg.Len = len(pg.Records)
		return pg
	}}
	p, sink := hostilePoller(t, pages, now)
	r := p.Poll(context.Background())
	if !r.Complete {
		t.Fatalf("poll %+v", r)
	}
	if sink.observed["c-good"] != 1 || len(sink.observed) != 1 {
		t.Errorf("observed %v, want only c-good", sink.observed)
	}
	if got := testutil.ToFloat64(p.metrics.invalidRecords.WithLabelValues(InvalidOutsideWindow)); got < float64(len(far)) {
		t.Errorf("outside_window counted %v, want at least %d", got, len(far))
	}
	open, _ := p.state.Open()
	if len(open) != 0 {
		t.Errorf("state holds %d open entries from outside the window", len(open))
	}
}

// TestBadStartCountedByReason: a record the state refuses by its start
// (here: a state whose clock is three days behind the poller's, so the
// record lies more than 48 h in the state's future) is not counted and is
// counted as invalid_records_total{reason="bad_start_time"}; the rest of the
// page is counted.
func TestBadStartCountedByReason(t *testing.T) {
	now := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	pages := &fakePages{answer: func(w Window, page int) conversation.Page {
		if page > 0 || !w.Contains(now.Add(-time.Minute)) {
			return conversation.Page{}
		}
		recs := []conversation.Conversation{finishedRecord("c-late-clock", now.Add(-time.Minute))}
		return conversation.Page{Records: recs, Len: len(recs)}
	}}
	state, err := OpenStateWith(filepath.Join(t.TempDir(), "state.db"), StateOptions{Log: quiet, Now: func() time.Time { return now.Add(-72 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	defer state.Close()
	p, sink := hostilePollerOn(state, pages, now)
	if r := p.Poll(context.Background()); !r.Complete {
		t.Fatalf("poll %+v", r)
	}
	if len(sink.observed) != 0 {
		t.Errorf("observed %v", sink.observed)
	}
	if got := testutil.ToFloat64(p.metrics.invalidRecords.WithLabelValues(InvalidBadStartTime)); got != 1 {
		t.Errorf("bad_start_time counted %v, want 1", got)
	}
}
