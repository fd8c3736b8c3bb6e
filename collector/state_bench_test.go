package collector

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/smartassist-exporter/smartassist_exporter/internal/testkit"
	"github.com/smartassist-exporter/smartassist_exporter/simulator"
)

// The layout benchmarks track 1M conversations spread over a 7-day
// lookback (about 6000 an hour), 3 % of them open, written a page of 100 at
// a time in start order with conversation ids of the platform's shape, as a
// backfill writes them.
const (
	layoutEntries = 1_000_000
	layoutPage    = 100
)

var layoutT0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func layoutEntry(rng *rand.Rand, i int) Entry {
	start := layoutT0.Add(time.Duration(i) * (7 * 24 * time.Hour / layoutEntries))
	key := fmt.Sprintf("c-%07x-%04x-4%03x-a%03x-%012x", rng.Uint32()&0xfffffff, rng.IntN(0xffff), rng.IntN(0xfff), rng.IntN(0xfff), i)
	return Entry{Key: key, Start: start, Channel: "Voice", Finished: i%33 != 0}
}

// v1Apply writes a page the way the layout 1 state did (its Apply's write
// transaction): the key as a string in counted, again in the expiry index
// behind its start, open ones by key.
func v1Apply(db *bolt.DB, entries []Entry) error {
	return db.Update(func(tx *bolt.Tx) error {
		counted, _ := tx.CreateBucketIfNotExists(v1BucketCounted)
		expiry, _ := tx.CreateBucketIfNotExists(v1BucketExpiry)
		open, _ := tx.CreateBucketIfNotExists(v1BucketOpen)
		for _, e := range entries {
			k := []byte(e.Key)
			if !e.Finished {
				v := binary.BigEndian.AppendUint64(nil, uint64(e.Start.Unix()))
				if err := open.Put(k, append(v, e.Channel...)); err != nil {
					return err
				}
				continue
			}
			if err := counted.Put(k, u64(uint64(e.Start.Unix()))); err != nil {
				return err
			}
			ek := binary.BigEndian.AppendUint64(nil, uint64(e.Start.Unix()))
			if err := expiry.Put(append(ek, e.Key...), nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// v1Prune is layout 1's Prune of counted entries: walk the expiry index
// up to the cutoff, deleting each key twice.
func v1Prune(db *bolt.DB, cutoff time.Time) (n int, err error) {
	err = db.Update(func(tx *bolt.Tx) error {
		counted, expiry := tx.Bucket(v1BucketCounted), tx.Bucket(v1BucketExpiry)
		c := expiry.Cursor()
		for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k[:8]) < uint64(cutoff.Unix()); k, _ = c.Next() {
			if err := counted.Delete(k[8:]); err != nil {
				return err
			}
			if err := c.Delete(); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// layoutPages hands the layout benchmarks' 1M entries to apply a page of
// 100 at a time, as the poller reads them: window after window of ~800
// records in start order, the records of a window in no particular order
// (the API promises none).
func layoutPages(apply func([]Entry) error) error {
	rng := rand.New(rand.NewPCG(1, 4))
	const window = 800
	entries := make([]Entry, 0, window)
	for lo := 0; lo < layoutEntries; lo += window {
		entries = entries[:0]
		for i := lo; i < min(lo+window, layoutEntries); i++ {
			entries = append(entries, layoutEntry(rng, i))
		}
		rng.Shuffle(len(entries), func(a, b int) { entries[a], entries[b] = entries[b], entries[a] })
		for p := 0; p < len(entries); p += layoutPage {
			if err := apply(entries[p:min(p+layoutPage, len(entries))]); err != nil {
				return err
			}
		}
	}
	return nil
}

type filledLayout struct {
	path string
	// bytes is the file's size; used is its pages up to bbolt's high-water
	// mark (the file grows in steps of up to 16 MiB beyond it).
	bytes, used int64
	fill        time.Duration
}

// usedBytes is the high-water mark of a bbolt file's pages.
func usedBytes(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var buf [pageHeaderSize + metaSize]byte
	var best boltMeta
	for _, off := range []int64{0, 4096} {
		if _, err := f.ReadAt(buf[:], off); err != nil {
			return 0, err
		}
		if m, ok := parseBoltMeta(buf[:]); ok && m.txid >= best.txid {
			best = m
		}
	}
	return int64(best.highWater) * int64(best.pageSize), nil
}

var (
	layoutOnce sync.Once
	layoutDir  string
	layouts    map[string]filledLayout
	layoutErr  error
)

// TestMain removes the layout benchmarks' files (a few hundred MB), which
// outlive any one benchmark.
func TestMain(m *testing.M) {
	code := m.Run()
	if layoutDir != "" {
		os.RemoveAll(layoutDir)
	}
	os.Exit(code)
}

// fillLayouts writes the same 1M entries in both layouts, once per test
// binary, without fsync (the layout is what is measured).
func fillLayouts(b *testing.B) map[string]filledLayout {
	layoutOnce.Do(func() {
		dir, err := os.MkdirTemp("", "smartassist-state-bench-")
		if err != nil {
			layoutErr = err
			return
		}
		layoutDir = dir
		layouts = map[string]filledLayout{}
		for _, layout := range []string{"v1", "v2"} {
			path := filepath.Join(dir, layout+".db")
			began := time.Now()
			if layout == "v1" {
				db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true})
				if err != nil {
					layoutErr = err
					return
				}
				layoutErr = layoutPages(func(page []Entry) error { return v1Apply(db, page) })
				db.Close()
			} else {
				s, err := OpenStateWith(path, StateOptions{NoSync: true, Now: func() time.Time { return layoutT0.Add(8 * 24 * time.Hour) }})
				if err != nil {
					layoutErr = err
					return
				}
				layoutErr = layoutPages(func(page []Entry) error { _, err := s.Apply(page); return err })
				s.Close()
			}
			if layoutErr != nil {
				return
			}
			info, err := os.Stat(path)
			if err != nil {
				layoutErr = err
				return
			}
			used, err := usedBytes(path)
			if err != nil {
				layoutErr = err
				return
			}
			layouts[layout] = filledLayout{path: path, bytes: info.Size(), used: used, fill: time.Since(began)}
		}
	})
	if layoutErr != nil {
		b.Fatal(layoutErr)
	}
	return layouts
}

// BenchmarkStateSize1M reports the state file's size per tracked
// conversation at 1M entries, in layout 1 and layout 2, written in the same
// run (issue 14: <= 40 B).
//
//	go test -run '^$' -bench 'StateSize1M' -benchtime 1x ./collector
func BenchmarkStateSize1M(b *testing.B) {
	l := fillLayouts(b)
	for range b.N {
	}
	for _, layout := range []string{"v1", "v2"} {
		b.ReportMetric(float64(l[layout].bytes)/layoutEntries, layout+"-file-B/entry")
		b.ReportMetric(float64(l[layout].used)/layoutEntries, layout+"-used-B/entry")
		b.ReportMetric(l[layout].fill.Seconds(), layout+"-fill-s")
	}
	b.ReportMetric(float64(l["v1"].bytes)/float64(l["v2"].bytes), "v1/v2-file")
}

// copyLayout copies a filled layout file for a benchmark to change.
func copyLayout(b *testing.B, src string) string {
	b.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	dst := filepath.Join(b.TempDir(), filepath.Base(src))
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		b.Fatal(err)
	}
	return dst
}

// BenchmarkStatePrune1M: one hour of starts (~6000 conversations) expires
// at 1M entries; the same prune in layout 1 (expiry index walk, two
// deletes per key) in the same run. Each op prunes the next hour, fsync on.
// Also: a prune with nothing due, and Sizes.
func BenchmarkStatePrune1M(b *testing.B) {
	l := fillLayouts(b)
	b.Run("v1", func(b *testing.B) {
		db, err := bolt.Open(copyLayout(b, l["v1"].path), 0o600, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		b.ResetTimer()
		for i := range b.N {
			if n, err := v1Prune(db, layoutT0.Add(time.Duration(i%160+1)*time.Hour)); err != nil || (i < 160 && n < 5000) {
				b.Fatalf("pruned %d: %v", n, err)
			}
		}
	})
	openCopy := func(b *testing.B) *State {
		s, err := OpenState(copyLayout(b, l["v2"].path))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		b.ResetTimer()
		return s
	}
	b.Run("v2", func(b *testing.B) {
		s := openCopy(b)
		for i := range b.N {
			if n, _, err := s.Prune(layoutT0.Add(time.Duration(i%160+1) * time.Hour)); err != nil || (i < 160 && n < 5000) {
				b.Fatalf("pruned %d: %v", n, err)
			}
		}
	})
	b.Run("v2-nothing-due", func(b *testing.B) {
		s := openCopy(b)
		for range b.N {
			if n, _, err := s.Prune(layoutT0); err != nil || n != 0 {
				b.Fatalf("pruned %d: %v", n, err)
			}
		}
	})
}

// BenchmarkStateSizes1M: what the poller's state_entries gauge costs every
// poll at 1M entries: layout 1 walked both buckets, layout 2 reads counts.
func BenchmarkStateSizes1M(b *testing.B) {
	l := fillLayouts(b)
	b.Run("v1-walk", func(b *testing.B) {
		db, err := bolt.Open(l["v1"].path, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		b.ResetTimer()
		for range b.N {
			_ = db.View(func(tx *bolt.Tx) error {
				_ = tx.Bucket(v1BucketCounted).Stats().KeyN + tx.Bucket(v1BucketOpen).Stats().KeyN
				return nil
			})
		}
	})
	b.Run("v2-counts", func(b *testing.B) {
		s, err := OpenState(l["v2"].path)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		b.ResetTimer()
		for range b.N {
			if c, _ := s.Sizes(); c < layoutEntries*9/10 {
				b.Fatalf("counted %d", c)
			}
		}
	})
}

// BenchmarkStateApplyPage: one page of 100 conversations through Apply,
// durable (fsync) as in production: all new (a backfill), and all already
// counted (a re-read: a read transaction only).
func BenchmarkStateApplyPage(b *testing.B) {
	for _, kind := range []string{"new", "duplicates"} {
		b.Run(kind, func(b *testing.B) {
			s, err := OpenState(filepath.Join(b.TempDir(), "state.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			rng := rand.New(rand.NewPCG(2, 2))
			page := make([]Entry, layoutPage)
			for j := range page {
				page[j] = layoutEntry(rng, j)
				page[j].Start = time.Now().Add(-time.Hour)
			}
			if _, err := s.Apply(page); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				if kind == "new" {
					b.StopTimer()
					for j := range page {
						page[j] = layoutEntry(rng, (i+1)*layoutPage+j)
						page[j].Start = time.Now().Add(-time.Hour)
					}
					b.StartTimer()
				}
				if _, err := s.Apply(page); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(layoutPage*b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkStateBackfill7d: a first start with a 7-day lookback at 1000
// conversations an hour (~168k records), through the simulator and the
// real poller, state file with fsync. Reports the requests, the wall time
// with no rate limit, the time modelled at the platform's 60 requests a
// minute, the state file's size and the process's peak RSS (run it alone:
// RSS is the process's).
//
//	go test -run '^$' -bench 'StateBackfill7d' -benchtime 1x ./collector
func BenchmarkStateBackfill7d(b *testing.B) {
	for i := 0; i < b.N; i++ {
		t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
		clock := testkit.NewClock(t0)
		sim := simulator.New(simulator.Options{AccountID: "acc", StreamID: "st", ClientID: "cs-1", ClientSecret: "secret", Seed: 14, Now: clock.Now})
		srv := httptest.NewServer(sim)
		lookback := 7 * 24 * time.Hour
		sim.Generate(t0.Add(-lookback-time.Hour), t0, simulator.Profile{PerHour: 1000, OpenShare: 0.03})
		path := filepath.Join(b.TempDir(), fmt.Sprintf("state-%d.db", i))
		state, err := OpenStateWith(path, StateOptions{Log: quiet, Now: clock.Now})
		if err != nil {
			b.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		p := New(Options{
			Upstream: newTestUpstream(b, srv.URL, reg, clock.Now, 1e7),
			Client:   ClientConfig{AccountID: "acc", StreamID: "st", Endpoint: "calldetails"},
			State:    state, Sink: &countingSink{}, Registerer: reg, Log: quiet, Now: clock.Now,
			Poll: PollerConfig{Interval: time.Minute, Lookback: lookback, RecentWindow: 30 * time.Minute, RequestsPerPoll: 40},
		})
		began := time.Now()
		r := p.Poll(context.Background())
		wall := time.Since(began)
		if !r.Complete || r.Records < 150_000 {
			b.Fatalf("backfill %+v", r)
		}
		counted, open := state.Sizes()
		state.Close()
		srv.Close()
		// A restart's open: preflight, the consistency check of every
		// page, no migration.
		reopened := time.Now()
		if state, err = OpenStateWith(path, StateOptions{Log: quiet, Now: clock.Now}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(reopened).Milliseconds()), "reopen-ms")
		state.Close()
		info, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(r.Records), "records")
		b.ReportMetric(float64(r.Counted), "counted")
		b.ReportMetric(float64(r.Requests), "requests")
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(float64(r.Requests), "modelled-s-at-60/min")
		used, err := usedBytes(path)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(used)/float64(counted+open), "state-used-B/entry")
		b.ReportMetric(float64(info.Size())/1e6, "state-file-MB")
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
			b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
		}
	}
}

// BenchmarkStateMigrate1M: the first start of this release on a layout 1
// state of 1M conversations: the migration, in one transaction, fsync on.
// Reports its time and the file's size after it (bbolt does not shrink a
// file: the freed pages are reused as the state turns over).
func BenchmarkStateMigrate1M(b *testing.B) {
	l := fillLayouts(b)
	for range b.N {
		b.StopTimer()
		path := copyLayout(b, l["v1"].path)
		b.StartTimer()
		s, err := OpenStateWith(path, StateOptions{Log: quiet})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if c, _ := s.Sizes(); c < layoutEntries*9/10 {
			b.Fatalf("migrated %d counted", c)
		}
		s.Close()
		if info, err := os.Stat(path); err == nil {
			b.ReportMetric(float64(info.Size())/1e6, "file-MB-after")
		}
		b.StartTimer()
	}
}
