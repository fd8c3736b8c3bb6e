package collector

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// manifestEntry is one line of testdata/state-v1/manifest.txt.
type manifestEntry struct {
	kind string
	Entry
}

func readManifest(t *testing.T) (entries []manifestEntry, watermark, horizon time.Time) {
	t.Helper()
	f, err := os.Open("testdata/state-v1/manifest.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 4 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		sec, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil {
			t.Fatalf("manifest line %q: %v", sc.Text(), err)
		}
		switch fields[0] {
		case "watermark":
			watermark = time.Unix(sec, 0)
		case "horizon":
			horizon = time.Unix(sec, 0)
		default:
			entries = append(entries, manifestEntry{kind: fields[0], Entry: Entry{Key: fields[1], Start: time.Unix(sec, 0), Channel: fields[3]}})
		}
	}
	return entries, watermark, horizon
}

// copyFixture copies the v1 state file written by the previous release.
func copyFixture(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/state-v1/state.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// logBuffer is a logger whose output the test reads.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

// TestStateMigratesV1 opens a state file written by the previous release
// (layout 1): nothing it counted is counted again, what it knew open stays
// open (and is counted once when it finishes), what it had forgotten stays
// behind the horizon, values it should never have stored are dropped, and
// the migration runs once.
func TestStateMigratesV1(t *testing.T) {
	path := copyFixture(t)
	manifest, watermark, horizon := readManifest(t)

	// The fixture is what the manifest says, in the v1 layout.
	raw, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var v1Counted, v1Open int
	_ = raw.View(func(tx *bolt.Tx) error {
		v1Counted, v1Open = tx.Bucket(v1BucketCounted).Stats().KeyN, tx.Bucket(v1BucketOpen).Stats().KeyN
		for _, m := range manifest {
			inCounted := tx.Bucket(v1BucketCounted).Get([]byte(m.Key)) != nil
			inOpen := tx.Bucket(v1BucketOpen).Get([]byte(m.Key)) != nil
			if want := m.kind == "counted" || m.kind == "hostile"; inCounted != want {
				t.Errorf("fixture: %s %s in counted = %v", m.kind, m.Key, inCounted)
			}
			if want := m.kind == "open"; inOpen != want {
				t.Errorf("fixture: %s %s in open = %v", m.kind, m.Key, inOpen)
			}
		}
		return nil
	})
	raw.Close()
	if v1Counted < 300 || v1Open < 40 {
		t.Fatalf("fixture holds %d counted, %d open", v1Counted, v1Open)
	}

	now := watermark.Add(time.Hour)
	log, logs := logBuffer()
	s, err := OpenStateWith(path, StateOptions{Log: log, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "state file migrated to layout 2") || !strings.Contains(logs.String(), "dropped_bad_start=2") {
		t.Errorf("migration log:\n%s", logs)
	}
	// The file is compacted after the migration: no larger than before,
	// and no compaction file left behind.
	if !strings.Contains(logs.String(), "state file compacted after its migration") {
		t.Errorf("no compaction logged:\n%s", logs)
	}
	if info, err := os.Stat(path); err != nil || info.Size() > 262144 {
		t.Errorf("state file after migration: %v bytes (%v), the v1 fixture had 262144", info.Size(), err)
	}
	if _, err := os.Stat(path + ".compact"); !os.IsNotExist(err) {
		t.Errorf("compaction file left: %v", err)
	}
	if got := s.Watermark(); !got.Equal(watermark) {
		t.Errorf("watermark %v, want %v", got, watermark)
	}
	var counted, open []Entry
	byKey := map[string]manifestEntry{}
	for _, m := range manifest {
		byKey[m.Key] = m
		switch m.kind {
		case "counted":
			counted = append(counted, m.Entry)
		case "open":
			open = append(open, m.Entry)
		}
	}
	if c, o := s.Sizes(); c != len(counted) || o != len(open) {
		t.Errorf("sizes %d counted, %d open; want %d, %d", c, o, len(counted), len(open))
	}
	// Open conversations are listed with key, start and channel, oldest
	// first.
	listed, err := s.Open()
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != len(open) {
		t.Fatalf("%d open after migration, want %d", len(listed), len(open))
	}
	for i, e := range listed {
		m, ok := byKey[e.Key]
		if !ok || m.kind != "open" || !e.Start.Equal(m.Start) || e.Channel != m.Channel {
			t.Errorf("open entry %+v, manifest %+v", e, m)
		}
		if i > 0 && e.Start.Before(listed[i-1].Start) {
			t.Errorf("open entries not oldest first at %d", i)
		}
	}
	check := func(stage string) {
		t.Helper()
		// Every conversation the fixture counted, read again finished:
		// duplicate. Every open one, read again open: still open.
		var again []Entry
		for _, e := range counted {
			e.Finished = true
			again = append(again, e)
		}
		again = append(again, open...)
		out, err := s.Apply(again)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range out {
			want := OutcomeDuplicate
			if i >= len(counted) {
				want = OutcomeOpen
			}
			if o != want {
				t.Errorf("%s: %s %v, want %v", stage, again[i].Key, o, want)
			}
		}
	}
	check("after migration")
	// What the old state had forgotten stays forgotten; what it should
	// never have held is refused.
	for _, m := range manifest {
		var want Outcome
		switch m.kind {
		case "pruned", "pruned-open":
			want = OutcomeExpired
		case "hostile":
			want = OutcomeBadStart
		default:
			continue
		}
		e := m.Entry
		e.Finished = true
		if out, _ := s.Apply([]Entry{e}); out[0] != want {
			t.Errorf("%s %s (start %v, horizon %v): %v, want %v", m.kind, m.Key, m.Start, horizon, out[0], want)
		}
	}
	s.Close()

	// A second open does not migrate again, and nothing changed.
	logs.Reset()
	s, err = OpenStateWith(path, StateOptions{Log: log, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if strings.Contains(logs.String(), "migrat") {
		t.Errorf("second open logged a migration:\n%s", logs)
	}
	check("after reopening")
	// The open ones finish: each is counted exactly once.
	var finished []Entry
	for _, e := range open {
		e.Finished = true
		finished = append(finished, e, e)
	}
	out, err := s.Apply(finished)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		if want := []Outcome{OutcomeNew, OutcomeDuplicate}[i%2]; o != want {
			t.Errorf("finishing %s: %v, want %v", finished[i].Key, o, want)
		}
	}
	if c, o := s.Sizes(); c != len(counted)+len(open) || o != 0 {
		t.Errorf("sizes after the open ones finished: %d, %d", c, o)
	}
	_ = s.view(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{v1BucketCounted, v1BucketExpiry, v1BucketOpen} {
			if tx.Bucket(b) != nil {
				t.Errorf("v1 bucket %s left after migration", b)
			}
		}
		return nil
	})
}

// TestStateRefusesBadStarts: starts before 1970 or more than 48 h ahead
// are refused by reason and not stored (they could never be pruned, and a
// negative start would wrap an unsigned key).
func TestStateRefusesBadStarts(t *testing.T) {
	now := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	s, err := OpenStateWith(filepath.Join(t.TempDir(), "state.db"), StateOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	entries := []Entry{
		{Key: "c-1", Start: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), Finished: true},
		{Key: "c-2", Start: time.Unix(-1, 0), Finished: true},
		{Key: "c-3", Start: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		{Key: "c-4", Start: now.Add(49 * time.Hour), Finished: true},
		{Key: "c-5", Start: now.Add(47 * time.Hour), Finished: true},
		{Key: "c-6", Start: time.Unix(0, 0)},
	}
	out, err := s.Apply(entries)
	if err != nil {
		t.Fatal(err)
	}
	want := []Outcome{OutcomeBadStart, OutcomeBadStart, OutcomeBadStart, OutcomeBadStart, OutcomeNew, OutcomeOpen}
	for i := range want {
		if out[i] != want[i] {
			t.Errorf("%s (%v): %v, want %v", entries[i].Key, entries[i].Start, out[i], want[i])
		}
	}
	if c, o := s.Sizes(); c != 1 || o != 1 {
		t.Errorf("sizes %d, %d: refused entries were stored", c, o)
	}
}

// TestStatePruneDropsWholeHours: Prune drops hour buckets that ended by the
// cutoff, moves the horizon to the first hour kept, and with nothing due
// writes nothing (no fsync'd transaction every poll).
func TestStatePruneDropsWholeHours(t *testing.T) {
	s := openTestState(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	var entries []Entry
	for i := range 300 {
		entries = append(entries, Entry{Key: "c-" + strconv.Itoa(i), Start: t0.Add(time.Duration(i) * time.Minute), Finished: i%10 != 0, Channel: "Chat"})
	}
	if _, err := s.Apply(entries); err != nil {
		t.Fatal(err)
	}
	// Cutoff 12:30: the hours 10:00 and 11:00 go (120 entries, 12 of them
	// open); 12:00 stays whole, so the horizon is 12:00.
	counted, open, err := s.Prune(t0.Add(150 * time.Minute))
	if err != nil || counted != 108 || open != 12 {
		t.Fatalf("pruned %d counted, %d open (%v), want 108, 12", counted, open, err)
	}
	if c, o := s.Sizes(); c != 270-108 || o != 30-12 {
		t.Errorf("sizes %d, %d", c, o)
	}
	out, _ := s.Apply([]Entry{entries[119], entries[121]})
	if out[0] != OutcomeExpired || out[1] != OutcomeDuplicate {
		t.Errorf("around the horizon: %v", out)
	}
	txid := func() (id int) {
		_ = s.db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil })
		return id
	}
	before := txid()
	if c, o, err := s.Prune(t0.Add(150 * time.Minute)); c != 0 || o != 0 || err != nil {
		t.Errorf("second prune: %d, %d, %v", c, o, err)
	}
	if after := txid(); after != before {
		t.Errorf("a prune with nothing due wrote a transaction (txid %d -> %d)", before, after)
	}
}

// TestCorruptStateFiles: a damaged file is one ErrCorruptState naming the
// file and what to do, never a fault or a panic.
func TestCorruptStateFiles(t *testing.T) {
	good, err := os.ReadFile("testdata/state-v1/state.db")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 5))
	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	overwritten := bytes.Clone(good)
	// Keep both meta pages, scribble over every other page.
	for i := 2 * 4096; i < len(overwritten); i++ {
		overwritten[i] = byte(rng.Uint32())
	}
	cases := map[string][]byte{
		"truncated to half":       good[:len(good)/2],
		"truncated mid-page":      good[:3*4096+100],
		"too short":               good[:1000],
		"garbage":                 garbage,
		"pages overwritten":       overwritten,
		"meta pages overwritten":  append(bytes.Clone(garbage[:2*4096]), good[2*4096:]...),
		"appended to (not paged)": append(bytes.Clone(good), "tail"...),
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := OpenStateWith(path, StateOptions{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err == nil {
				s.Close()
				t.Fatal("opened a corrupt state file")
			}
			var ce *CorruptStateError
			if !errors.Is(err, ErrCorruptState) || !errors.As(err, &ce) || ce.Path != path {
				t.Fatalf("err %v, want a CorruptStateError for %s", err, path)
			}
			t.Log(err)
			if msg := err.Error(); !strings.Contains(msg, "move the file aside") || !strings.Contains(msg, path) {
				t.Errorf("message says neither the file nor what to do: %s", msg)
			}
		})
	}
}

// TestEmptiedStateWarns: a zero-length state file starts afresh (bbolt
// initialises it), and because the sidecar says it had a watermark, the
// exporter warns that the lookback is read and counted again.
func TestEmptiedStateWarns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	log, logs := logBuffer()
	s, err := OpenStateWith(path, StateOptions{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetWatermark(time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("warned on a first start:\n%s", logs)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	s, err = OpenStateWith(path, StateOptions{Log: log})
	if err != nil {
		t.Fatalf("zero-length state: %v", err)
	}
	defer s.Close()
	if !s.Watermark().IsZero() {
		t.Errorf("watermark %v in an emptied state", s.Watermark())
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "had_watermark=2026-03-10T09:00:00Z") {
		t.Errorf("no warning about the emptied state:\n%s", logs)
	}
}

// scribbleDataPages overwrites every page of a state file but the meta
// pages and the freelist with random bytes, in place.
func scribbleDataPages(t *testing.T, path string, seed uint64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf [pageHeaderSize + metaSize]byte
	if _, err := f.ReadAt(buf[:], 0); err != nil {
		t.Fatal(err)
	}
	m, ok := parseBoltMeta(buf[:])
	if !ok {
		t.Fatal("no meta page")
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	page := make([]byte, m.pageSize)
	for id := uint64(2); id < m.highWater; id++ {
		if id == m.freelist {
			continue
		}
		for i := range page {
			page[i] = byte(rng.Uint32())
		}
		if _, err := f.WriteAt(page, int64(id)*int64(m.pageSize)); err != nil {
			t.Fatal(err)
		}
	}
}

func filledState(t *testing.T, path string, n int) {
	t.Helper()
	s := openTestState(t, path)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var entries []Entry
	for i := range n {
		entries = append(entries, Entry{Key: "c-" + strconv.Itoa(i), Start: t0.Add(time.Duration(i) * time.Minute), Finished: i%7 != 0, Channel: "Voice"})
	}
	if _, err := s.Apply(entries); err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// TestCorruptDataPages: a file whose meta pages and freelist are intact but
// whose data pages were overwritten is found at open by the consistency
// check; a file damaged while the exporter runs makes Apply return an
// ErrCorruptState instead of panicking or faulting.
func TestCorruptDataPages(t *testing.T) {
	t.Run("at open", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.db")
		filledState(t, path, 2000)
		scribbleDataPages(t, path, 1)
		s, err := OpenState(path)
		if err == nil {
			s.Close()
			t.Fatal("opened a state file with overwritten data pages")
		}
		if !errors.Is(err, ErrCorruptState) {
			t.Fatalf("err %v, want ErrCorruptState", err)
		}
	})
	t.Run("while running", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.db")
		filledState(t, path, 2000)
		var reported []error
		s, err := OpenStateWith(path, StateOptions{OnCorrupt: func(err error) { reported = append(reported, err) }})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		scribbleDataPages(t, path, 2)
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var entries []Entry
		for i := range 100 {
			entries = append(entries, Entry{Key: "c-" + strconv.Itoa(i*13), Start: t0.Add(time.Duration(i*13) * time.Minute), Finished: true})
		}
		_, err = s.Apply(entries)
		if !errors.Is(err, ErrCorruptState) {
			t.Fatalf("Apply on overwritten pages: %v, want ErrCorruptState", err)
		}
		if _, err := s.Open(); err != nil && !errors.Is(err, ErrCorruptState) {
			t.Errorf("Open: %v", err)
		}
		if len(reported) != 1 || !errors.Is(reported[0], ErrCorruptState) {
			t.Errorf("OnCorrupt called with %v, want one ErrCorruptState", reported)
		}
	})
}
