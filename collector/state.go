package collector

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// State is what the exporter has counted and which conversations it knows as
// still open, kept in a bbolt file so that a restart neither repeats nor
// loses a conversation. Every change is one transaction, made durable
// (fsync) before the observations it guards are made: a crash can lose an
// observation that was never scraped, never repeat one.
//
// Layout (version 2). A conversation is identified by the hour its session
// started in and the 64-bit FNV-1a hash of its key (ConversationKeyHash):
//
//	hours/<hour: 4 bytes BE, hours since 1970>/<hash: 8 bytes> -> (empty)  counted
//	open-by-start/<start: 8 bytes BE unix s><hash: 8 bytes>  -> channel length (1) + channel + key
//	meta/version, watermark, horizon, counted-n, open-n
//
// A session start is part of the conversation's identity: the platform
// reports it in the time zone the query asked for, so the same conversation
// always lands in the same hour. One sub-bucket per hour makes expiry a
// bucket delete (no expiry index, no key stored twice) and keeps a
// conversation at about 38 bytes on disk (BENCHMARKS.md, "State").
//
// Hash collisions: two different conversations that started in the same
// hour and hash alike make the second look counted already: it would not be
// counted (never counted twice). With n conversations in an hour the chance
// of any collision is about n²/2⁶⁵; at 1M entries spread over a 7-day
// lookback (6000 an hour) it is 168 × 6000²/2⁶⁵ ≈ 1.6e-10 per lookback.
//
// Entries expire once their session start is older than the lookback (plus
// a margin): such conversations are never read again, so forgetting them is
// safe, and the file stays bounded. The horizon remembers what was
// forgotten, so that a longer lookback after a restart cannot count it again.
type State struct {
	db   *bolt.DB
	path string
	now  func() time.Time
	log  *slog.Logger

	onCorrupt   func(error)
	corruptOnce sync.Once
	noSync      bool
	migrated    bool // by this open: worth a compaction
}

// StateOptions are OpenStateWith's options; the zero value is what
// OpenState uses.
type StateOptions struct {
	// Log receives the migration's progress and the warning about an
	// emptied state (slog.Default() when nil).
	Log *slog.Logger
	// Now is the clock that refuses starts in the far future (time.Now
	// when nil).
	Now func() time.Time
	// NoSync skips fsync: for benchmarks that measure layout, never for
	// a real state.
	NoSync bool
	// OnCorrupt is called once when a transaction finds the file damaged
	// after it was opened (a page overwritten while the exporter runs):
	// the process should stop rather than poll on a state it cannot trust.
	OnCorrupt func(error)
}

var (
	bucketHours = []byte("hours")         // hour -> bucket of counted hashes
	bucketOpen  = []byte("open-by-start") // start + hash -> channel + key
	bucketMeta  = []byte("meta")

	metaVersion   = []byte("version")
	metaWatermark = []byte("watermark") // everything started before it has been read at least once
	metaHorizon   = []byte("horizon")   // entries started before it were forgotten
	metaCountedN  = []byte("counted-n") // entries in hours/*
	metaOpenN     = []byte("open-n")    // entries in open-by-start

	// The version 1 layout, migrated on open: keys stored as strings,
	// counted twice (by key and in an expiry index by start).
	v1BucketCounted = []byte("counted") // key -> start (8 bytes BE)
	v1BucketExpiry  = []byte("expiry")  // start (8 bytes BE) + key -> nothing
	v1BucketOpen    = []byte("open")    // key -> start (8 bytes BE) + channel
)

const (
	stateVersion = 2
	// maxFutureStart is how far past now a session start may lie: the
	// platform's clock may run ahead of the exporter's, not by days.
	maxFutureStart = 48 * time.Hour
	// maxStoredChannel bounds an open entry's channel (a label value the
	// sink bounds again; a hostile one must not bloat the file).
	maxStoredChannel = 255
	// openFillPercent: open entries are keyed by start and mostly
	// appended, so their pages can be split nearly full.
	openFillPercent = 0.9
)

// Entry is a conversation as the state knows it.
type Entry struct {
	Key      string
	Start    time.Time
	Channel  string
	Finished bool
}

// Outcome of a conversation offered to Apply.
type Outcome int

// The outcomes Apply returns, one per entry.
const (
	OutcomeNew       Outcome = iota // finished and not counted before: count it now
	OutcomeDuplicate                // already counted
	OutcomeOpen                     // not finished; remembered as open
	OutcomeExpired                  // started before the horizon of forgotten entries
	// OutcomeBadStart is a session start the state refuses to hold
	// (before 1970 or more than 48 h in the future): neither counted nor
	// remembered.
	OutcomeBadStart
)

// ErrCorruptState is what every error about a damaged state file matches
// (errors.Is); the error itself is a *CorruptStateError.
var ErrCorruptState = errors.New("state file is corrupt")

// CorruptStateError says which state file is damaged, how, and what to do.
type CorruptStateError struct {
	Path   string
	Reason string
}

func (e *CorruptStateError) Error() string {
	return fmt.Sprintf("state file %s is corrupt (%s): stop the exporter, move the file aside (mv %s %s.corrupt) and start again; the exporter then reads the whole lookback again (see the runbook \"Corrupt state file\")",
		e.Path, e.Reason, e.Path, e.Path)
}

// Is makes errors.Is(err, ErrCorruptState) true.
func (e *CorruptStateError) Is(target error) bool { return target == ErrCorruptState }

// ConversationKeyHash is the 64-bit FNV-1a hash under which the state keeps
// a conversation key (the call-details conversationId, the same c-... id
// the List of Conversations API calls _id). Stable across runs and
// releases: it is the on-disk identity.
func ConversationKeyHash(key string) uint64 { return fnv64a(key) }

// fnv64a is 64-bit FNV-1a: the state's key hash and bbolt's meta page
// checksum alike, without hash/fnv's allocation.
func fnv64a[B string | []byte](b B) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(b); i++ {
		h ^= uint64(b[i])
		h *= 1099511628211
	}
	return h
}

// OpenState opens or creates the state file, creating its directory.
func OpenState(path string) (*State, error) { return OpenStateWith(path, StateOptions{}) }

// OpenStateWith opens or creates the state file, creating its directory. A
// file that is not a state file or is damaged is an ErrCorruptState; a
// version 1 file is migrated to the current layout, in one transaction.
func OpenStateWith(path string, o StateOptions) (*State, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	dir := filepath.Dir(path) // never "": "." for a bare file name
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating state directory %s: %w", dir, err)
	}
	if err := preflight(path); err != nil {
		return nil, err
	}
	db, err := openBolt(path, o.NoSync)
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("state file %s is locked: is another exporter running on it? (two exporters on one account double the API spend)", path)
		}
		if errors.Is(err, ErrCorruptState) {
			return nil, err
		}
		if errors.Is(err, bolterrors.ErrInvalid) || errors.Is(err, bolterrors.ErrChecksum) || errors.Is(err, bolterrors.ErrVersionMismatch) {
			return nil, &CorruptStateError{Path: path, Reason: err.Error()}
		}
		return nil, fmt.Errorf("opening state file %s: %w", path, err)
	}
	s := &State{db: db, path: path, now: o.Now, log: o.Log, onCorrupt: o.OnCorrupt, noSync: o.NoSync}
	if err := s.prepare(); err != nil {
		s.db.Close()
		return nil, err
	}
	if s.migrated {
		if err := s.compact(); err != nil {
			if s.db == nil {
				return nil, err
			}
			s.log.Warn("compacting the state file after its migration failed; it keeps its size (bbolt reuses the freed pages)", "state", path, "err", err)
		}
	}
	if err := s.dropCountedOpen(); err != nil {
		s.db.Close()
		return nil, err
	}
	s.checkSidecar()
	return s, nil
}

// dropCountedOpen forgets open entries of conversations already counted
// (in their hour, or the next one within hourEdge): a release before the
// second-off rule could leave one, held open under a start a second off
// its counted one, for the whole lookback. It reads the open set (small)
// once at start, and writes only if it finds any.
func (s *State) dropCountedOpen() error {
	var stale [][]byte
	err := s.view(func(tx *bolt.Tx) error {
		hours, openB := tx.Bucket(bucketHours), tx.Bucket(bucketOpen)
		var hk [4]byte
		var key [8]byte
		return openB.ForEach(func(k, _ []byte) error {
			if len(k) != 16 {
				return nil
			}
			start := time.Unix(int64(binary.BigEndian.Uint64(k)), 0)
			copy(key[:], k[8:])
			hb := hours.Bucket(hourKey(&hk, start))
			if (hb != nil && holds(hb, key[:])) || countedNextDoor(hours, start, key[:]) {
				stale = append(stale, bytes.Clone(k))
			}
			return nil
		})
	})
	if err != nil || len(stale) == 0 {
		return err
	}
	err = s.update(func(tx *bolt.Tx) error {
		openB, meta := tx.Bucket(bucketOpen), tx.Bucket(bucketMeta)
		for _, k := range stale {
			if err := openB.Delete(k); err != nil {
				return err
			}
		}
		return meta.Put(metaOpenN, u64(getU64(meta, metaOpenN)-uint64(len(stale))))
	})
	if err != nil {
		return fmt.Errorf("dropping open entries of counted conversations: %w", err)
	}
	s.log.Info("dropped open entries of conversations already counted (left by an earlier release)", "entries", len(stale))
	return nil
}

// openBolt opens the bbolt file, guarded against a damaged one. The file
// grows 1 MiB at a time (bbolt's default is 16 MiB), so that its size
// says what it holds.
func openBolt(path string, noSync bool) (*bolt.DB, error) {
	var db *bolt.DB
	err := guard(path, func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoSync: noSync})
		return err
	})
	if err != nil {
		return nil, err
	}
	db.AllocSize = 1 << 20
	return db, nil
}

// compact rewrites the file without the pages a migration freed (bbolt
// never shrinks a file): into <state>.compact, then renamed over the state,
// so that a crash leaves either file whole. On failure after the rename
// the state is closed (s.db nil) and the error returned.
func (s *State) compact() error {
	began := time.Now()
	before, _ := os.Stat(s.path)
	tmp := s.path + ".compact"
	_ = os.Remove(tmp)
	dst, err := openBolt(tmp, s.noSync)
	if err != nil {
		return err
	}
	if err := guard(s.path, func() error { return bolt.Compact(dst, s.db, 64<<20) }); err != nil {
		dst.Close()
		os.Remove(tmp)
		return err
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, s.path); err != nil {
		os.Remove(tmp)
		return err
	}
	if dir, err := os.Open(filepath.Dir(s.path)); err == nil {
		_ = dir.Sync() // make the rename durable
		dir.Close()
	}
	s.db.Close()
	if s.db, err = openBolt(s.path, s.noSync); err != nil {
		s.db = nil
		return fmt.Errorf("reopening the compacted state file %s: %w", s.path, err)
	}
	after, _ := os.Stat(s.path)
	if before != nil && after != nil {
		s.log.Info("state file compacted after its migration", "state", s.path, "bytes_before", before.Size(),
			"bytes_after", after.Size(), "duration", time.Since(began).Round(time.Millisecond))
	}
	return nil
}

// prepare checks the file's structure, creates the buckets of a new file
// and migrates an old one.
func (s *State) prepare() error {
	if err := s.check(); err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		version := uint64(0)
		if v := meta.Get(metaVersion); len(v) == 8 {
			version = binary.BigEndian.Uint64(v)
		} else if v != nil {
			return &CorruptStateError{Path: s.path, Reason: "meta/version is not a number"}
		}
		switch {
		case version == 0 && tx.Bucket(v1BucketCounted) != nil, version == 1:
			if err := s.migrateV1(tx); err != nil {
				return fmt.Errorf("migrating state file %s from layout 1 to %d: %w", s.path, stateVersion, err)
			}
		case version > stateVersion:
			return fmt.Errorf("state file %s has layout version %d, newer than this exporter reads (%d): run the newer release, or move the file aside", s.path, version, stateVersion)
		}
		for _, b := range [][]byte{bucketHours, bucketOpen} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if version == stateVersion {
			return nil
		}
		return meta.Put(metaVersion, u64(stateVersion))
	})
}

// check walks every page of the file (bbolt's consistency check): pages
// overwritten by something else are found here, at start, with one clear
// error, not as a panic in the middle of a poll.
func (s *State) check() error {
	return s.view(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() {
			// Drain the channel: the checker's goroutine ends only then.
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return &CorruptStateError{Path: s.path, Reason: "consistency check: " + first.Error()}
		}
		return nil
	})
}

// Close closes the file.
func (s *State) Close() error { return s.db.Close() }

// Apply records one page's conversations, in the page's order, in one
// durable transaction: finished conversations not counted before become
// counted and stop being open; open ones not counted are remembered. It
// returns each entry's outcome, in the same order. A key twice in one batch
// is new only once.
func (s *State) Apply(entries []Entry) ([]Outcome, error) {
	out := make([]Outcome, len(entries))
	hashes := make([]uint64, len(entries))
	needWrite := false
	latest := s.now().Add(maxFutureStart)
	// A read pass first: most re-read records are duplicates, and a
	// read-only transaction costs no fsync.
	err := s.view(func(tx *bolt.Tx) error {
		hours, openB := tx.Bucket(bucketHours), tx.Bucket(bucketOpen)
		horizon := getTime(tx.Bucket(bucketMeta), metaHorizon)
		var hk [4]byte
		var key [8]byte
		// A page's entries mostly share an hour: look its bucket up, and
		// make its cursor (an allocation), once.
		lastHour, hc := int64(-1), (*bolt.Cursor)(nil)
		for i, e := range entries {
			if badStart(e.Start, latest) {
				out[i] = OutcomeBadStart
				continue
			}
			if !horizon.IsZero() && e.Start.Before(horizon) {
				out[i] = OutcomeExpired
				continue
			}
			hashes[i] = ConversationKeyHash(e.Key)
			binary.BigEndian.PutUint64(key[:], hashes[i])
			if h := e.Start.Unix() / 3600; h != lastHour {
				lastHour, hc = h, nil
				if hb := hours.Bucket(hourKey(&hk, e.Start)); hb != nil {
					hc = hb.Cursor()
				}
			}
			if hc != nil && cursorHolds(hc, key[:]) {
				out[i] = OutcomeDuplicate
				continue
			}
			if countedNextDoor(hours, e.Start, key[:]) {
				out[i] = OutcomeDuplicate
				continue
			}
			if e.Finished {
				out[i] = OutcomeNew
				needWrite = true
				continue
			}
			out[i] = OutcomeOpen
			if !bytes.Equal(openB.Get(openKey(e.Start, hashes[i])), openValue(e)) {
				needWrite = true
			}
		}
		return nil
	})
	if err != nil || !needWrite {
		return out, err
	}
	err = s.update(func(tx *bolt.Tx) error {
		hours, openB, meta := tx.Bucket(bucketHours), tx.Bucket(bucketOpen), tx.Bucket(bucketMeta)
		countedN, openN := getU64(meta, metaCountedN), getU64(meta, metaOpenN)
		openB.FillPercent = openFillPercent
		var hk [4]byte
		var key [8]byte
		lastHour, hb := int64(-1), (*bolt.Bucket)(nil)
		for i, e := range entries {
			if out[i] != OutcomeNew && out[i] != OutcomeOpen {
				continue
			}
			binary.BigEndian.PutUint64(key[:], hashes[i])
			if h := e.Start.Unix() / 3600; h != lastHour {
				var err error
				if hb, err = hours.CreateBucketIfNotExists(hourKey(&hk, e.Start)); err != nil {
					return err
				}
				lastHour = h
			}
			// The same key earlier in this batch, in this hour or (a start
			// a second off) the next.
			if holds(hb, key[:]) || countedNextDoor(hours, e.Start, key[:]) {
				out[i] = OutcomeDuplicate
				continue
			}
			ok := openKey(e.Start, hashes[i])
			wasOpen := openB.Get(ok) != nil
			// Held open under a start a second or so off: the same
			// conversation, not another open one.
			dropped, err := dropOpenNearby(openB, e.Start, hashes[i], ok)
			if err != nil {
				return err
			}
			openN -= uint64(dropped)
			if out[i] == OutcomeNew {
				if err := hb.Put(key[:], []byte{}); err != nil {
					return err
				}
				countedN++
				if wasOpen {
					if err := openB.Delete(ok); err != nil {
						return err
					}
					openN--
				}
				continue
			}
			if err := openB.Put(ok, openValue(e)); err != nil {
				return err
			}
			if !wasOpen {
				openN++
			}
		}
		if err := meta.Put(metaCountedN, u64(countedN)); err != nil {
			return err
		}
		return meta.Put(metaOpenN, u64(openN))
	})
	if err != nil {
		return nil, fmt.Errorf("writing state: %w", err)
	}
	return out, nil
}

// Prune forgets conversations that started before cutoff, whole hours at a
// time: every hour that ended by cutoff is dropped with its bucket, and so
// are the open conversations that started before the first hour kept (they
// will never be read again, so they can no longer be seen finishing). It
// moves the horizon to the first hour kept, so that a forgotten
// conversation, should a longer lookback read it again, is not counted
// twice. The horizon moves even when nothing was stored before it: a
// conversation of that time was never read by this state's lookback, and a
// longer lookback must not count it now (it may have been counted by the
// state this one replaced). With nothing to forget and the horizon in
// place it writes nothing: one write an hour, not one a poll.
func (s *State) Prune(cutoff time.Time) (counted, openExpired int, err error) {
	if cutoff.Unix() < 0 {
		return 0, 0, nil
	}
	firstKeptHour := uint32(cutoff.Unix() / 3600)
	horizon := time.Unix(int64(firstKeptHour)*3600, 0)
	var hk [4]byte
	binary.BigEndian.PutUint32(hk[:], firstKeptHour)
	due := false
	err = s.view(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketHours).Cursor().First()
		ok, _ := tx.Bucket(bucketOpen).Cursor().First()
		due = (k != nil && bytes.Compare(k, hk[:]) < 0) ||
			(len(ok) >= 8 && int64(binary.BigEndian.Uint64(ok[:8])) < horizon.Unix()) ||
			horizon.After(getTime(tx.Bucket(bucketMeta), metaHorizon))
		return nil
	})
	if err != nil || !due {
		return 0, 0, err
	}
	err = s.update(func(tx *bolt.Tx) error {
		hours, openB, meta := tx.Bucket(bucketHours), tx.Bucket(bucketOpen), tx.Bucket(bucketMeta)
		var old [][]byte
		c := hours.Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k, hk[:]) < 0; k, _ = c.Next() {
			old = append(old, append([]byte(nil), k...))
		}
		for _, k := range old {
			if hb := hours.Bucket(k); hb != nil {
				counted += hb.Stats().KeyN
			}
			if err := hours.DeleteBucket(k); err != nil {
				return fmt.Errorf("dropping hour bucket %x: %w", k, err)
			}
		}
		oc := openB.Cursor()
		for k, _ := oc.First(); len(k) >= 8 && int64(binary.BigEndian.Uint64(k[:8])) < horizon.Unix(); k, _ = oc.First() {
			if err := oc.Delete(); err != nil {
				return err
			}
			openExpired++
		}
		if err := meta.Put(metaCountedN, u64(sub(getU64(meta, metaCountedN), counted))); err != nil {
			return err
		}
		if err := meta.Put(metaOpenN, u64(sub(getU64(meta, metaOpenN), openExpired))); err != nil {
			return err
		}
		if horizon.After(getTime(meta, metaHorizon)) {
			return meta.Put(metaHorizon, u64(uint64(horizon.Unix())))
		}
		return nil
	})
	return counted, openExpired, err
}

// Open lists the conversations known as open, oldest start first, with
// their key, start and channel.
func (s *State) Open() ([]Entry, error) {
	var entries []Entry
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOpen).ForEach(func(k, v []byte) error {
			e, ok := decodeOpen(k, v)
			if !ok {
				return &CorruptStateError{Path: s.path, Reason: fmt.Sprintf("open entry %x has a malformed value", k)}
			}
			entries = append(entries, e)
			return nil
		})
	})
	return entries, err
}

// Counted reports whether the conversation with this key and session start
// is counted: for a reader that learns of conversations elsewhere (the List
// of Conversations API's _id is the same c-... key).
func (s *State) Counted(key string, start time.Time) (bool, error) {
	if badStart(start, s.now().Add(maxFutureStart)) {
		return false, nil // a start the state refuses is never counted
	}
	counted := false
	err := s.view(func(tx *bolt.Tx) error {
		var hk [4]byte
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], ConversationKeyHash(key))
		hours := tx.Bucket(bucketHours)
		hb := hours.Bucket(hourKey(&hk, start))
		counted = (hb != nil && holds(hb, k[:])) || countedNextDoor(hours, start, k[:])
		return nil
	})
	return counted, err
}

// Sizes returns how many conversations are remembered as counted and open
// (kept as counts: no walk).
func (s *State) Sizes() (counted, open int) {
	_ = s.view(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		counted, open = int(getU64(meta, metaCountedN)), int(getU64(meta, metaOpenN))
		return nil
	})
	return counted, open
}

// Watermark is the time before which every conversation start has been read
// at least once; zero on a first start.
func (s *State) Watermark() time.Time {
	var t time.Time
	_ = s.view(func(tx *bolt.Tx) error {
		t = getTime(tx.Bucket(bucketMeta), metaWatermark)
		return nil
	})
	return t
}

// SetWatermark stores the watermark, and notes it in the sidecar file
// <state>.watermark: a state that is found empty later although the
// sidecar says it had a watermark was emptied or replaced, which is worth
// a warning (it means counting the lookback again).
func (s *State) SetWatermark(t time.Time) error {
	err := s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaWatermark, u64(uint64(t.Unix())))
	})
	if err != nil {
		return err
	}
	// Only a hint: no fsync, and a failure to write it is no failure of
	// the state.
	_ = os.WriteFile(s.sidecarPath(), []byte(t.UTC().Format(time.RFC3339)+"\n"), 0o600)
	return nil
}

func (s *State) sidecarPath() string { return s.path + ".watermark" }

// checkSidecar warns when the state holds no watermark but its sidecar
// says it had one.
func (s *State) checkSidecar() {
	if !s.Watermark().IsZero() {
		return
	}
	b, err := os.ReadFile(s.sidecarPath())
	if err != nil {
		return
	}
	had, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
	if err != nil {
		return
	}
	s.log.Warn("the state file is empty but had been read up to a watermark before: it was emptied or replaced; the exporter reads the whole lookback again and counts again the conversations it had counted within it",
		"state", s.path, "had_watermark", had.Format(time.RFC3339), "sidecar", s.sidecarPath())
}

// migrateV1 rewrites a version 1 state in the current layout within tx:
// the caller's one transaction makes it all-or-nothing, so a crash leaves
// the version 1 file to migrate again. Entries whose start the current
// layout refuses (before 1970, far future: an older release stored them)
// are dropped: no window can read them again.
func (s *State) migrateV1(tx *bolt.Tx) error {
	began := time.Now()
	counted := tx.Bucket(v1BucketCounted)
	total := 0
	if counted != nil {
		total = counted.Stats().KeyN
	}
	s.log.Info("migrating the state file to layout 2 (hashed keys in hour buckets); done once, in one transaction", "state", s.path, "counted", total)
	hours, err := tx.CreateBucketIfNotExists(bucketHours)
	if err != nil {
		return err
	}
	openB, err := tx.CreateBucketIfNotExists(bucketOpen)
	if err != nil {
		return err
	}
	openB.FillPercent = openFillPercent
	latest := s.now().Add(maxFutureStart)
	var hk [4]byte
	var key [8]byte
	var migrated, openN, dropped int
	lastLog := time.Now()
	if counted != nil {
		c := counted.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(v) != 8 {
				return &CorruptStateError{Path: s.path, Reason: fmt.Sprintf("v1 counted entry %q has a %d-byte value", k, len(v))}
			}
			start := time.Unix(int64(binary.BigEndian.Uint64(v)), 0)
			if badStart(start, latest) {
				dropped++
				continue
			}
			hb, err := hours.CreateBucketIfNotExists(hourKey(&hk, start))
			if err != nil {
				return err
			}
			binary.BigEndian.PutUint64(key[:], ConversationKeyHash(string(k)))
			if err := hb.Put(key[:], []byte{}); err != nil {
				return err
			}
			migrated++
			if time.Since(lastLog) >= progressEvery {
				lastLog = time.Now()
				s.log.Info("migrating the state file", "done", migrated+dropped, "of", total)
			}
		}
	}
	if ob := tx.Bucket(v1BucketOpen); ob != nil {
		err := ob.ForEach(func(k, v []byte) error {
			if len(v) < 8 {
				return &CorruptStateError{Path: s.path, Reason: fmt.Sprintf("v1 open entry %q has a %d-byte value", k, len(v))}
			}
			e := Entry{Key: string(k), Start: time.Unix(int64(binary.BigEndian.Uint64(v[:8])), 0), Channel: string(v[8:])}
			if badStart(e.Start, latest) {
				dropped++
				return nil
			}
			h := ConversationKeyHash(e.Key)
			binary.BigEndian.PutUint64(key[:], h)
			if hb := hours.Bucket(hourKey(&hk, e.Start)); hb != nil && holds(hb, key[:]) {
				return nil // counted and still listed open: v1 deleted it, but be safe
			}
			openN++
			return openB.Put(openKey(e.Start, h), openValue(e))
		})
		if err != nil {
			return err
		}
	}
	for _, b := range [][]byte{v1BucketCounted, v1BucketExpiry, v1BucketOpen} {
		if tx.Bucket(b) == nil {
			continue
		}
		if err := tx.DeleteBucket(b); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	if err := meta.Put(metaCountedN, u64(uint64(migrated))); err != nil {
		return err
	}
	if err := meta.Put(metaOpenN, u64(uint64(openN))); err != nil {
		return err
	}
	s.migrated = true
	s.log.Info("state file migrated to layout 2", "state", s.path, "counted", migrated, "open", openN,
		"dropped_bad_start", dropped, "duration", time.Since(began).Round(time.Millisecond))
	return nil
}

// view and update run a transaction guarded against a damaged file: bbolt
// trusts the pages it maps, so a page overwritten by something else can
// make it panic or fault; that becomes an ErrCorruptState.
func (s *State) view(fn func(*bolt.Tx) error) error {
	return s.corrupted(guard(s.path, func() error { return s.db.View(fn) }))
}

func (s *State) update(fn func(*bolt.Tx) error) error {
	return s.corrupted(guard(s.path, func() error { return s.db.Update(fn) }))
}

func (s *State) corrupted(err error) error {
	if s.onCorrupt != nil && errors.Is(err, ErrCorruptState) {
		s.corruptOnce.Do(func() { s.onCorrupt(err) })
	}
	return err
}

func guard(path string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &CorruptStateError{Path: path, Reason: fmt.Sprint("reading it failed: ", r)}
		}
	}()
	return fn()
}

// bbolt's meta page (bbolt v1.x, "internal/common/meta.go"): after the
// 16-byte page header, little-endian on every platform Go supports here.
const (
	boltMagic         = 0xED0CDAED
	boltVersion       = 2
	pageHeaderSize    = 16
	metaChecksumStart = 56 // magic..txid; the checksum covers them
	metaSize          = 64
	minStateFileSize  = 4 * 1024 // two meta pages, a freelist and a root leaf of the smallest page size
)

type boltMeta struct {
	pageSize, flags                 uint32
	root, freelist, highWater, txid uint64
}

// preflight validates a state file before bbolt maps it: bbolt trusts the
// file's size and meta pages, and faults (SIGSEGV, uncatchable at
// bolt.Open) on a file truncated below what its meta page says. A missing
// or zero-length file is fine (bbolt initialises it).
func preflight(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening state file %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("state file %s is not a regular file", path)
	}
	size := info.Size()
	if size == 0 {
		return nil
	}
	corrupt := func(format string, args ...any) error {
		return &CorruptStateError{Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	if size < minStateFileSize {
		return corrupt("%d bytes: too short for a state file", size)
	}
	// Meta page 0 is at offset 0; meta page 1 one page further, at an
	// offset that depends on the page size it names (bbolt tries every
	// power of two from 1 KiB).
	var metas []boltMeta
	var buf [pageHeaderSize + metaSize]byte
	if _, err := f.ReadAt(buf[:], 0); err != nil {
		return fmt.Errorf("reading state file %s: %w", path, err)
	}
	if m, ok := parseBoltMeta(buf[:]); ok {
		metas = append(metas, m)
	}
	for shift := 0; shift <= 14; shift++ {
		off := int64(1024) << shift
		if off+int64(len(buf)) > size {
			break
		}
		if _, err := f.ReadAt(buf[:], off); err != nil {
			return fmt.Errorf("reading state file %s: %w", path, err)
		}
		if m, ok := parseBoltMeta(buf[:]); ok && int64(m.pageSize) == off {
			metas = append(metas, m)
			break
		}
	}
	if len(metas) == 0 {
		return corrupt("no valid bbolt meta page: not a state file, or its first pages were overwritten")
	}
	// bbolt uses the valid meta page with the highest transaction id.
	m := metas[0]
	for _, o := range metas[1:] {
		if o.txid > m.txid {
			m = o
		}
	}
	ps := int64(m.pageSize)
	if ps < 1024 || ps&(ps-1) != 0 {
		return corrupt("meta page names a page size of %d", ps)
	}
	if size%ps != 0 {
		return corrupt("%d bytes is not a whole number of %d-byte pages: truncated or appended to", size, ps)
	}
	if need := int64(m.highWater) * ps; need > size {
		return corrupt("truncated: %d bytes, but its meta page counts %d pages (%d bytes)", size, m.highWater, need)
	}
	if m.root >= m.highWater || (m.freelist >= m.highWater && m.freelist != ^uint64(0)) {
		return corrupt("meta page points past the end of the data")
	}
	return nil
}

func parseBoltMeta(page []byte) (boltMeta, bool) {
	b := page[pageHeaderSize:]
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != boltMagic || le.Uint32(b[4:]) != boltVersion {
		return boltMeta{}, false
	}
	if le.Uint64(b[metaChecksumStart:]) != fnv64a(b[:metaChecksumStart]) {
		return boltMeta{}, false
	}
	return boltMeta{
		pageSize: le.Uint32(b[8:]), flags: le.Uint32(b[12:]),
		root: le.Uint64(b[16:]), freelist: le.Uint64(b[32:]), highWater: le.Uint64(b[40:]), txid: le.Uint64(b[48:]),
	}, true
}

// badStart is the state's refusal of a session start (OutcomeBadStart):
// before 1970, where no hour bucket is, or after latest (now plus
// maxFutureStart).
func badStart(start, latest time.Time) bool { return start.Unix() < 0 || start.After(latest) }

// hourEdge is how close to the start of an hour a session start is looked
// for in the neighbouring hour's bucket too: the same conversation read
// again with its start a second off (the platform rounding milliseconds
// one way, then the other) must not cross into another bucket and be
// counted twice.
const hourEdge = time.Minute

// countedNextDoor reports whether key is counted in the hour bucket next to
// start's, when start lies within hourEdge of it.
func countedNextDoor(hours *bolt.Bucket, start time.Time, key []byte) bool {
	var hk [4]byte
	into := start.Sub(start.Truncate(time.Hour))
	for _, other := range []time.Time{start.Add(-hourEdge), start.Add(hourEdge)} {
		if (other.Before(start) && into >= hourEdge) || (other.After(start) && into < time.Hour-hourEdge) {
			continue // the neighbour is more than hourEdge away
		}
		if hb := hours.Bucket(hourKey(&hk, other)); hb != nil && holds(hb, key) {
			return true
		}
	}
	return false
}

// dropOpenNearby deletes the open entries of hash whose start is within
// hourEdge of start, except the one under keep; it returns how many.
func dropOpenNearby(openB *bolt.Bucket, start time.Time, hash uint64, keep []byte) (int, error) {
	var stale [][]byte
	c := openB.Cursor()
	last := uint64(start.Add(hourEdge).Unix())
	for k, _ := c.Seek(openKey(start.Add(-hourEdge), 0)); len(k) == 16 && binary.BigEndian.Uint64(k) <= last; k, _ = c.Next() {
		if binary.BigEndian.Uint64(k[8:]) == hash && !bytes.Equal(k, keep) {
			stale = append(stale, bytes.Clone(k))
		}
	}
	for _, k := range stale {
		if err := openB.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(stale), nil
}

// hourKey is the hour bucket of a start (0 <= start, checked by callers):
// hours since 1970, big-endian so that buckets sort oldest first.
func hourKey(buf *[4]byte, start time.Time) []byte {
	binary.BigEndian.PutUint32(buf[:], uint32(start.Unix()/3600))
	return buf[:]
}

func openKey(start time.Time, hash uint64) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, uint64(start.Unix()))
	binary.BigEndian.PutUint64(b[8:], hash)
	return b
}

func openValue(e Entry) []byte {
	ch := e.Channel
	if len(ch) > maxStoredChannel {
		ch = ch[:maxStoredChannel]
	}
	b := make([]byte, 0, 1+len(ch)+len(e.Key))
	b = append(b, byte(len(ch)))
	b = append(b, ch...)
	return append(b, e.Key...)
}

func decodeOpen(k, v []byte) (Entry, bool) {
	if len(k) != 16 || len(v) < 1 || len(v) < 1+int(v[0]) {
		return Entry{}, false
	}
	n := int(v[0])
	return Entry{Key: string(v[1+n:]), Start: time.Unix(int64(binary.BigEndian.Uint64(k[:8])), 0), Channel: string(v[1 : 1+n])}, true
}

// holds reports whether bucket b has key (a counted entry's value is empty,
// so presence is a cursor's exact hit, not a non-nil Get).
func holds(b *bolt.Bucket, key []byte) bool { return cursorHolds(b.Cursor(), key) }

// cursorHolds is holds with a cursor of the bucket, reusable in a read
// transaction (Seek repositions it).
func cursorHolds(c *bolt.Cursor, key []byte) bool {
	k, _ := c.Seek(key)
	return bytes.Equal(k, key)
}

func getTime(b *bolt.Bucket, key []byte) time.Time {
	v := b.Get(key)
	if len(v) != 8 {
		return time.Time{}
	}
	return time.Unix(int64(binary.BigEndian.Uint64(v)), 0)
}

func getU64(b *bolt.Bucket, key []byte) uint64 {
	v := b.Get(key)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func sub(a uint64, b int) uint64 {
	if uint64(b) > a {
		return 0
	}
	return a - uint64(b)
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}
