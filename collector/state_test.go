package collector

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openTestState(t *testing.T, path string) *State {
	t.Helper()
	s, err := OpenState(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// batch is a page's entries: the finished ones, then the open ones.
func batch(finished, open []Entry) []Entry {
	var out []Entry
	for _, e := range finished {
		e.Finished = true
		out = append(out, e)
	}
	for _, e := range open {
		e.Finished = false
		out = append(out, e)
	}
	return out
}

func TestStateExactlyOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "state.db")
	s := openTestState(t, path)
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	a := Entry{Key: "c-a", Start: t0, Channel: "Voice"}
	b := Entry{Key: "c-b", Start: t0.Add(time.Minute), Channel: "Chat"}

	got, err := s.Apply(batch([]Entry{a, a}, []Entry{b}))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Outcome{OutcomeNew, OutcomeDuplicate, OutcomeOpen}; !reflect.DeepEqual(got, want) {
		t.Errorf("first batch %v, want %v", got, want)
	}
	if open, _ := s.Open(); len(open) != 1 || open[0].Key != "c-b" || open[0].Channel != "Chat" || !open[0].Start.Equal(b.Start) {
		t.Errorf("open: %+v", open)
	}
	// b finishes; a is read again.
	got, _ = s.Apply(batch([]Entry{b, a}, nil))
	if want := []Outcome{OutcomeNew, OutcomeDuplicate}; !reflect.DeepEqual(got, want) {
		t.Errorf("second batch %v, want %v", got, want)
	}
	if open, _ := s.Open(); len(open) != 0 {
		t.Errorf("finished conversation still open: %+v", open)
	}
	// A counted conversation listed open again is not reopened.
	got, _ = s.Apply(batch(nil, []Entry{a}))
	if got[0] != OutcomeDuplicate {
		t.Errorf("reopened: %v", got)
	}
	if err := s.SetWatermark(t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// After a restart, nothing counted is new again.
	s = openTestState(t, path)
	defer s.Close()
	got, _ = s.Apply(batch([]Entry{a, b}, nil))
	if want := []Outcome{OutcomeDuplicate, OutcomeDuplicate}; !reflect.DeepEqual(got, want) {
		t.Errorf("after restart %v, want %v", got, want)
	}
	if wm := s.Watermark(); !wm.Equal(t0.Add(time.Hour)) {
		t.Errorf("watermark %v", wm)
	}
	if c, o := s.Sizes(); c != 2 || o != 0 {
		t.Errorf("sizes %d %d", c, o)
	}
	if ok, err := s.Counted("c-a", a.Start); !ok || err != nil {
		t.Errorf("Counted(c-a) = %v, %v", ok, err)
	}
	if ok, _ := s.Counted("c-a", a.Start.Add(-time.Hour)); ok {
		t.Error("Counted(c-a) an hour earlier: the start hour is part of the identity")
	}
	if ok, _ := s.Counted("c-z", a.Start); ok {
		t.Error("Counted(c-z): never seen")
	}
}

func TestStatePrune(t *testing.T) {
	s := openTestState(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	old := Entry{Key: "c-old", Start: t0}
	recent := Entry{Key: "c-recent", Start: t0.Add(2 * time.Hour)}
	oldOpen := Entry{Key: "c-old-open", Start: t0, Channel: "Voice"}
	recentOpen := Entry{Key: "c-recent-open", Start: t0.Add(2 * time.Hour), Channel: "Voice"}
	if _, err := s.Apply(batch([]Entry{old, recent}, []Entry{oldOpen, recentOpen})); err != nil {
		t.Fatal(err)
	}
	counted, expired, err := s.Prune(t0.Add(time.Hour))
	if err != nil || counted != 1 || expired != 1 {
		t.Fatalf("pruned %d counted, %d open (%v)", counted, expired, err)
	}
	if c, o := s.Sizes(); c != 1 || o != 1 {
		t.Errorf("sizes after prune %d %d", c, o)
	}
	// Forgotten conversations are behind the horizon: read again (a longer
	// lookback after a restart), they are not counted a second time.
	got, _ := s.Apply(batch([]Entry{old, recent}, []Entry{oldOpen}))
	if want := []Outcome{OutcomeExpired, OutcomeDuplicate, OutcomeExpired}; !reflect.DeepEqual(got, want) {
		t.Errorf("after prune %v, want %v", got, want)
	}
}

func TestStateLocked(t *testing.T) {
	t.Parallel() // independent rigs; the quick tier waits on the slowest of them
	path := filepath.Join(t.TempDir(), "state.db")
	s := openTestState(t, path)
	defer s.Close()
	_, err := OpenState(path)
	if err == nil || !strings.Contains(err.Error(), "is locked: is another exporter running on it?") {
		t.Fatalf("second open: %v", err)
	}
}

// TestStateStartOnTheHour: a conversation's start hour picks its bucket, so
// the same conversation read again with its start a second off across an
// hour boundary — the platform rounding milliseconds one way, then the
// other — must still be a duplicate, in either direction. A start within a
// minute of the boundary is looked for in the neighbouring hour too; one
// further in is not (the documented limit); another conversation at the
// same start is new.
func TestStateStartOnTheHour(t *testing.T) {
	s := openTestState(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	edge := time.Date(2026, 1, 1, 11, 0, 0, 0, time.UTC)
	h := func(n int, d time.Duration) time.Time { return edge.Add(time.Duration(n)*time.Hour + d) }
	cases := []struct {
		name         string
		first, again time.Time
		want         Outcome
	}{
		{"a second before, then on the hour", h(0, -time.Second), h(0, 0), OutcomeDuplicate},
		{"on the hour, then a second before", h(1, 0), h(1, -time.Second), OutcomeDuplicate},
		{"59 s before, then 59 s after", h(2, -59*time.Second), h(2, 59*time.Second), OutcomeDuplicate},
		{"the same hour, a second off", h(3, 30*time.Minute), h(3, 30*time.Minute+time.Second), OutcomeDuplicate},
		{"the hour before, then 2 min after the hour", h(4, -30*time.Minute), h(4, 2*time.Minute), OutcomeNew},
	}
	for i, tc := range cases {
		key := "c-edge-" + strings.Repeat("x", i+1)
		got, err := s.Apply([]Entry{{Key: key, Start: tc.first, Finished: true}})
		if err != nil || got[0] != OutcomeNew {
			t.Fatalf("%s: first read %v, %v", tc.name, got, err)
		}
		got, err = s.Apply([]Entry{{Key: key, Start: tc.again, Finished: true}, {Key: key + "-other", Start: tc.again, Finished: true}})
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != tc.want {
			t.Errorf("%s: read again %v, want %v", tc.name, got[0], tc.want)
		}
		if got[1] != OutcomeNew {
			t.Errorf("%s: another conversation at the same start %v, want new", tc.name, got[1])
		}
	}
	// Counted looks next door the same way.
	if counted, err := s.Counted("c-edge-x", h(0, 30*time.Second)); err != nil || !counted {
		t.Errorf("Counted 30 s past the hour of a conversation counted a second before it: %v, %v", counted, err)
	}
	if counted, _ := s.Counted("c-edge-x", h(0, 5*time.Minute)); counted {
		t.Error("Counted 5 min past the hour of a conversation counted before it")
	}
}

// TestStateStartASecondOff: the same conversation read with its start a
// second off — within an hour or across its boundary — is one
// conversation: open then finished leaves nothing open; open twice is held
// open once; counted then read open is not reopened; twice in one page is
// new once.
func TestStateStartASecondOff(t *testing.T) {
	s := openTestState(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	edge := time.Date(2026, 1, 1, 11, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{edge, edge.Add(30 * time.Minute)} {
		name := at.Format(time.TimeOnly)
		key := "c-off-" + name
		if _, err := s.Apply([]Entry{{Key: key, Start: at}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply([]Entry{{Key: key, Start: at.Add(-time.Second)}}); err != nil {
			t.Fatal(err)
		}
		if open, _ := s.Open(); len(open) != 1 {
			t.Errorf("%s: read open twice, a second off: held open %d times", name, len(open))
		}
		got, _ := s.Apply([]Entry{{Key: key, Start: at.Add(time.Second), Finished: true}})
		if got[0] != OutcomeNew {
			t.Errorf("%s: finished %v, want new", name, got[0])
		}
		if open, _ := s.Open(); len(open) != 0 {
			t.Errorf("%s: counted, yet still held open: %+v", name, open)
		}
		if _, n := s.Sizes(); n != 0 {
			t.Errorf("%s: open count %d after it was counted", name, n)
		}
		got, _ = s.Apply([]Entry{{Key: key, Start: at.Add(-time.Second)}})
		if got[0] != OutcomeDuplicate {
			t.Errorf("%s: counted, then read open a second off: %v, want duplicate", name, got[0])
		}
	}
	got, _ := s.Apply([]Entry{{Key: "c-batch", Start: edge.Add(2*time.Hour - time.Second), Finished: true}, {Key: "c-batch", Start: edge.Add(2 * time.Hour), Finished: true}})
	if got[0] != OutcomeNew || got[1] != OutcomeDuplicate {
		t.Errorf("twice in one page across the hour: %v, want new then duplicate", got)
	}
}

// TestStateDropsCountedOpenAtOpen: a state left by a release before the
// second-off rule may hold a counted conversation open under a start a
// second off; opening it drops that entry (and only that one) and keeps
// the open count true.
func TestStateDropsCountedOpenAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openTestState(t, path)
	start := time.Date(2026, 1, 1, 10, 59, 59, 0, time.UTC)
	if _, err := s.Apply([]Entry{{Key: "c-counted", Start: start, Finished: true}, {Key: "c-open", Start: start.Add(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	// What the earlier release could leave: c-counted held open a second
	// later, across the hour.
	phantom := Entry{Key: "c-counted", Start: start.Add(time.Second), Channel: "Voice"}
	if err := s.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if err := tx.Bucket(bucketOpen).Put(openKey(phantom.Start, ConversationKeyHash(phantom.Key)), openValue(phantom)); err != nil {
			return err
		}
		return meta.Put(metaOpenN, u64(getU64(meta, metaOpenN)+1))
	}); err != nil {
		t.Fatal(err)
	}
	if open, _ := s.Open(); len(open) != 2 {
		t.Fatalf("set-up: %d open, want 2", len(open))
	}
	s.Close()
	s = openTestState(t, path)
	defer s.Close()
	open, _ := s.Open()
	if len(open) != 1 || open[0].Key != "c-open" {
		t.Errorf("open after reopening: %+v, want c-open only", open)
	}
	if counted, n := s.Sizes(); counted != 1 || n != 1 {
		t.Errorf("sizes %d counted, %d open; want 1, 1", counted, n)
	}
}
