package collector

import (
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// FuzzStateApply drives the state with random sequences of pages (keys
// repeating, finished and open, hostile starts), prunes and reopens, and
// checks it against a model: outcomes align with the entries given, a
// conversation is new at most once, Sizes and Open match the model.
//
//	go test -run '^$' -fuzz FuzzStateApply -fuzztime 60s ./collector
func FuzzStateApply(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte("\x05\x10\x20\x30\x05\x10\x20\x31\xf0\x00\x05\x10\x20\x30\xf1"))
	f.Add([]byte{1, 0xfe, 0xfd, 0xfc, 2, 0xff, 0, 1, 0xf0, 0x80, 3, 1, 1, 1, 0xf1, 3, 1, 1, 0})
	// A prune with nothing stored yet moves the horizon: an older start
	// read afterwards is expired, not new.
	f.Add([]byte{0xf0, 0x10, 0x00, 0x01, 0x20, 0x01})
	f.Add([]byte("some longer input with many different bytes 0123456789 !@#$%^&*()"))
	now := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "state.db")
		opts := StateOptions{Now: func() time.Time { return now }, NoSync: true}
		s, err := OpenStateWith(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { s.Close() }()

		type id struct {
			hour int64
			key  string
		}
		type openID struct {
			start int64
			key   string
		}
		counted := map[id]bool{}
		open := map[openID]string{}
		everNew := map[id]bool{}
		var horizon int64 = -1 << 62
		// A start within hourEdge of its hour's boundary is looked for in
		// the neighbouring hour too.
		edge := int64(hourEdge / time.Second)
		countedNearby := func(sec int64, key string) bool {
			into := sec % 3600
			return (into < edge && counted[id{sec/3600 - 1, key}]) || (into >= 3600-edge && counted[id{sec/3600 + 1, key}])
		}

		start := func(b byte) time.Time {
			switch b {
			case 0xff:
				return time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
			case 0xfe:
				return time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
			case 0xfd:
				return time.Unix(-1, 0)
			case 0xfc:
				return now.Add(49 * time.Hour)
			case 0xfb:
				return now.Add(47 * time.Hour)
			}
			return now.Add(-time.Duration(b) * 7 * time.Minute)
		}
		for len(data) > 0 {
			op := data[0]
			data = data[1:]
			switch {
			case op == 0xf0 && len(data) > 0: // prune
				cutoff := now.Add(-time.Duration(data[0]) * 7 * time.Minute)
				data = data[1:]
				if _, _, err := s.Prune(cutoff); err != nil {
					t.Fatal(err)
				}
				firstKept := cutoff.Unix() / 3600
				for k := range counted {
					if k.hour < firstKept {
						delete(counted, k)
					}
				}
				for k := range open {
					if k.start < firstKept*3600 {
						delete(open, k)
					}
				}
				horizon = max(horizon, firstKept*3600)
				continue
			case op == 0xf1: // restart
				s.Close()
				if s, err = OpenStateWith(path, opts); err != nil {
					t.Fatal(err)
				}
				// Opening drops the open entries of conversations counted
				// in their hour (or, within hourEdge, the next).
				for k := range open {
					if counted[id{k.start / 3600, k.key}] || countedNearby(k.start, k.key) {
						delete(open, k)
					}
				}
				continue
			}
			// A page of op%8+1 entries, three bytes each.
			n := int(op%8) + 1
			var entries []Entry
			for i := 0; i < n && len(data) >= 3; i++ {
				kb, sb, fb := data[0], data[1], data[2]
				data = data[3:]
				entries = append(entries, Entry{
					Key: "c-" + strconv.Itoa(int(kb%24)), Start: start(sb), Finished: fb&1 == 1,
					Channel: []string{"Voice", "Chat", "", string(make([]byte, 300))}[fb>>1&3],
				})
			}
			out, err := s.Apply(entries)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != len(entries) {
				t.Fatalf("%d outcomes for %d entries", len(out), len(entries))
			}
			for i, e := range entries {
				sec := e.Start.Unix()
				k := id{sec / 3600, e.Key}
				ok := openID{sec, e.Key}
				var want Outcome
				switch {
				case sec < 0 || e.Start.After(now.Add(48*time.Hour)):
					want = OutcomeBadStart
				case sec < horizon:
					want = OutcomeExpired
				case counted[k] || countedNearby(sec, e.Key):
					want = OutcomeDuplicate
				case e.Finished:
					want = OutcomeNew
					counted[k] = true
					delete(open, ok)
				default:
					want = OutcomeOpen
					ch := e.Channel
					if len(ch) > maxStoredChannel {
						ch = ch[:maxStoredChannel]
					}
					open[ok] = ch
				}
				if out[i] != want {
					t.Fatalf("entry %d %+v: %v, want %v", i, e, out[i], want)
				}
				if out[i] == OutcomeNew {
					if everNew[k] {
						t.Fatalf("%s (hour %d) new twice", e.Key, k.hour)
					}
					everNew[k] = true
				}
			}
			if c, o := s.Sizes(); c != len(counted) || o != len(open) {
				t.Fatalf("sizes %d, %d; model %d, %d", c, o, len(counted), len(open))
			}
		}
		listed, err := s.Open()
		if err != nil {
			t.Fatal(err)
		}
		if len(listed) != len(open) {
			t.Fatalf("%d open listed, model %d", len(listed), len(open))
		}
		for _, e := range listed {
			if ch, ok := open[openID{e.Start.Unix(), e.Key}]; !ok || ch != e.Channel {
				t.Fatalf("open %+v not in the model", e)
			}
		}
		if !slices.IsSortedFunc(listed, func(a, b Entry) int { return a.Start.Compare(b.Start) }) {
			t.Fatal("open entries not oldest first")
		}
	})
}
