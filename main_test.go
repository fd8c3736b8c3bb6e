package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/crypto/bcrypt"

	"github.com/smartassist-exporter/smartassist_exporter/simulator"
)

// binary is the exporter, built once by TestMain: the integration tests run
// the real program with a real environment, over real HTTP.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "smartassist-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "smartassist_exporter")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the exporter: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type exporter struct {
	cmd  *exec.Cmd
	addr string
	logs *syncBuffer
	done chan error
}

// startTool starts an external program (Prometheus, the collector) for
// the length of the test, stops it by PID afterwards, and shows its output
// if the test failed.
func startTool(t *testing.T, label, path string, args ...string) {
	t.Helper()
	logs := &syncBuffer{}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s log:\n%s", label, logs.String())
		}
	})
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startExporter runs the binary with exactly env (plus PATH) and waits
// until /readyz answers 200.
func startExporter(t *testing.T, env map[string]string, args ...string) *exporter {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SMARTASSIST_LISTEN_ADDRESS=" + addr}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	e := &exporter{cmd: cmd, addr: addr, logs: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = e.logs, e.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { e.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-e.done
		}
		if t.Failed() {
			t.Logf("exporter log:\n%s", e.logs.String())
		}
	})
	waitFor(t, 30*time.Second, "exporter ready", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return e
}

// stop sends SIGTERM and checks the process is gone within a few seconds.
func (e *exporter) stop(t *testing.T) {
	t.Helper()
	began := time.Now()
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-e.done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still running 5s after SIGTERM")
	}
	t.Logf("stopped %v after SIGTERM", time.Since(began).Round(time.Millisecond))
}

func (e *exporter) scrape(t *testing.T) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := http.Get("http://" + e.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return mfs, string(body)
}

// sum adds the values of every series of a counter or gauge family.
func sum(mfs map[string]*dto.MetricFamily, name string) float64 {
	total := 0.0
	if mf := mfs[name]; mf != nil {
		for _, m := range mf.GetMetric() {
			total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return total
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

const (
	testClientID = "cs-integration"
	testSecret   = "integration-secret-value"
)

func newSimulator(t *testing.T) (*simulator.Server, string) {
	sim := simulator.New(simulator.Options{AccountID: "acc-1", StreamID: "st-1", ClientID: testClientID,
		ClientSecret: testSecret, RateLimit: 3000, FailureRate: 0.05, Seed: 7})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

func exporterEnv(apiURL, statePath string) map[string]string {
	return map[string]string{
		"SMARTASSIST_BASE_URL": apiURL, "SMARTASSIST_ACCOUNT_ID": "acc-1", "SMARTASSIST_STREAM_ID": "st-1",
		"SMARTASSIST_CLIENT_ID": testClientID, "SMARTASSIST_CLIENT_SECRET": testSecret,
		"SMARTASSIST_POLL_INTERVAL": "1s", "SMARTASSIST_FULL_SCAN_INTERVAL": "2s", "SMARTASSIST_LOOKBACK": "2h",
		"SMARTASSIST_API_RATE_LIMIT": "2400", "SMARTASSIST_TIMEZONE_OFFSET": "-330", "SMARTASSIST_AGENT_METRICS": "true",
		"SMARTASSIST_STATE_PATH": statePath, "SMARTASSIST_LOG_LEVEL": "debug",
	}
}

// TestExactlyOnceAcrossRestart runs the real binary against the simulator:
// more than 1100 records in the lookback, 429s and 5xx, conversations that
// close later, a SIGTERM and a restart on the same state, and exact counts
// at every step.
func TestExactlyOnceAcrossRestart(t *testing.T) {
	sim, apiURL := newSimulator(t)
	now := time.Now()
	generated := sim.Generate(now.Add(-100*time.Minute), now.Add(-10*time.Minute), simulator.Profile{PerHour: 1000, BrokenShare: 0.01})
	// Settle the lifecycle: everything finished and listed by now, except
	// 20 agent conversations held open.
	var held []*simulator.Conversation
	expected, broken := 0, 0
	sim.Update(func(all []*simulator.Conversation) {
		for _, c := range all {
			c.OpenFrom = time.Time{}
			c.FinishedFrom = now.Add(-time.Second)
			switch {
			case c.Broken != "":
				broken++
			case c.ID != "" && len(held) < 20:
				held = append(held, c)
				c.OpenFrom, c.FinishedFrom = c.Start, time.Time{}
			default:
				expected++
			}
		}
	})
	if len(generated) <= 1100 || broken == 0 {
		t.Fatalf("scenario: %d records (want > 1100), %d broken", len(generated), broken)
	}
	statePath := filepath.Join(t.TempDir(), "state", "state.db")
	env := exporterEnv(apiURL, statePath)

	e := startExporter(t, env)
	counted := func(e *exporter, want float64) {
		t.Helper()
		var mfs map[string]*dto.MetricFamily
		waitFor(t, 30*time.Second, fmt.Sprintf("%v conversations counted", want), func() bool {
			mfs, _ = e.scrape(t)
			return sum(mfs, "smartassist_conversations_total") >= want
		})
		// A few more polls (including full scans) must add nothing.
		time.Sleep(4 * time.Second)
		mfs, _ = e.scrape(t)
		if got := sum(mfs, "smartassist_conversations_total"); got != want {
			t.Fatalf("smartassist_conversations_total = %v, want exactly %v", got, want)
		}
	}
	counted(e, float64(expected))
	mfs, body := e.scrape(t)
	if got := sum(mfs, "smartassist_open_conversations"); got != float64(len(held)) {
		t.Errorf("open conversations %v, want %d", got, len(held))
	}
	if got := sum(mfs, "smartassist_up"); got != 1 {
		t.Errorf("smartassist_up %v", got)
	}
	var invalid, codes float64
	for _, m := range mfs["smartassist_exporter_records_total"].GetMetric() {
		if m.GetLabel()[0].GetValue() == "invalid" {
			invalid = m.GetCounter().GetValue()
		}
	}
	if invalid < float64(broken) {
		t.Errorf("invalid records %v, want at least the %d broken ones", invalid, broken)
	}
	for _, m := range mfs["smartassist_exporter_api_requests_total"].GetMetric() {
		if code := m.GetLabel()[0].GetValue(); code != "200" {
			codes += m.GetCounter().GetValue()
		}
	}
	if codes == 0 {
		t.Error("no 429/5xx answered: the retry path was not exercised")
	}
	// No secret, token or customer detail in /metrics or the (debug) log;
	// "eyJ" starts every JWT.
	for _, secret := range []string{testSecret, "eyJ", "jane.doe@example.com", "+15550123456", "Jane"} {
		if strings.Contains(body, secret) || strings.Contains(e.logs.String(), secret) {
			t.Errorf("%q appears in /metrics or the log", secret)
		}
	}

	// Ten held conversations finish while the exporter runs.
	sim.Update(func([]*simulator.Conversation) {
		for _, c := range held[:10] {
			c.FinishedFrom = time.Now()
		}
	})
	counted(e, float64(expected+10))
	mfs, _ = e.scrape(t)
	if got := sum(mfs, "smartassist_open_conversations"); got != 10 {
		t.Errorf("open conversations %v after ten closed, want 10", got)
	}
	e.stop(t)

	// While it is down, the other ten finish and five new ones come in.
	sim.Update(func([]*simulator.Conversation) {
		for _, c := range held[10:] {
			c.FinishedFrom = time.Now()
		}
	})
	fresh := sim.Generate(time.Now().Add(-6*time.Minute), time.Now().Add(-5*time.Minute), simulator.Profile{PerHour: 300})
	sim.Update(func([]*simulator.Conversation) {
		for _, c := range fresh {
			c.OpenFrom, c.FinishedFrom, c.Broken = time.Time{}, time.Now(), ""
		}
	})
	e = startExporter(t, env)
	// Counters start again from zero; only what was not counted before is.
	counted(e, float64(10+len(fresh)))
	mfs, _ = e.scrape(t)
	if got := sum(mfs, "smartassist_open_conversations"); got != 0 {
		t.Errorf("open conversations %v after all closed, want 0", got)
	}

	// A crash: SIGKILL, no shutdown at all. Three more conversations finish
	// meanwhile; after the restart exactly those are counted.
	if err := e.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-e.done
	more := sim.Generate(time.Now().Add(-4*time.Minute), time.Now().Add(-3*time.Minute), simulator.Profile{PerHour: 600})
	if len(more) == 0 || len(fresh) == 0 {
		t.Fatalf("scenario: %d and %d new conversations generated", len(fresh), len(more))
	}
	sim.Update(func([]*simulator.Conversation) {
		for _, c := range more {
			c.OpenFrom, c.FinishedFrom, c.Broken = time.Time{}, time.Now(), ""
		}
	})
	e = startExporter(t, env)
	counted(e, float64(len(more)))
	e.stop(t)
}

// TestBadConfigExits: a bad setting stops the program at start with one
// line naming the variable.
func TestBadConfigExits(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"SMARTASSIST_BASE_URL": "https://x.example"}, "smartassist_exporter: SMARTASSIST_ACCOUNT_ID is required\n"},
		{map[string]string{"SMARTASSIST_BASE_URL": "https://x.example", "SMARTASSIST_ACCOUNT_ID": "a", "SMARTASSIST_STREAM_ID": "s",
			"SMARTASSIST_TOKEN": "t", "SMARTASSIST_POLL_INTERVAL": "fast"},
			"smartassist_exporter: SMARTASSIST_POLL_INTERVAL: cannot use \"fast\": want a Go duration such as 30s, 1m or 2h\n"},
	} {
		cmd := exec.Command(binary)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		for k, v := range tc.env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("exit %v, want status 2", err)
		}
		if string(out) != tc.want {
			t.Errorf("output %q, want %q", out, tc.want)
		}
	}
}

// TestDemo: `-demo` serves real metrics with no account and no settings.
func TestDemo(t *testing.T) {
	e := startExporter(t, map[string]string{"SMARTASSIST_STATE_PATH": filepath.Join(t.TempDir(), "demo.db")}, "-demo")
	mfs, _ := e.scrape(t)
	for _, name := range []string{"smartassist_conversations_total", "smartassist_open_conversations",
		"smartassist_agent_segments_total", "smartassist_exporter_records_total"} {
		if sum(mfs, name) == 0 {
			t.Errorf("%s is empty in the demo", name)
		}
	}
	for _, name := range []string{"smartassist_handle_seconds", "smartassist_queue_wait_seconds", "smartassist_csat_score"} {
		if mfs[name] == nil || len(mfs[name].GetMetric()) == 0 {
			t.Errorf("%s missing in the demo", name)
		}
	}
	// The landing page links what an operator looks for.
	if resp, err := http.Get("http://" + e.addr + "/"); err != nil || resp.StatusCode != 200 {
		t.Errorf("landing page: %v", err)
	} else {
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, link := range []string{`href="/metrics"`, `href="/healthz"`, `href="/readyz"`, `href="/dashboards/"`} {
			if !strings.Contains(string(page), link) {
				t.Errorf("landing page lacks %s", link)
			}
		}
	}
	// The bundled dashboards, ready to import.
	resp, err := http.Get("http://" + e.addr + "/dashboards/overview.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct{ UID string }
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != 200 || d.UID != "smartassist-overview" {
		t.Errorf("/dashboards/overview.json: %d %q %v", resp.StatusCode, d.UID, err)
	}
	resp.Body.Close()
	e.stop(t)
}

// TestWebConfigBasicAuth: SMARTASSIST_WEB_CONFIG_FILE (exporter-toolkit's
// format) protects /metrics; the container health check still passes.
func TestWebConfigBasicAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("scrape-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(webConfig, []byte("basic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(binary, "-demo")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SMARTASSIST_LISTEN_ADDRESS=" + addr,
		"SMARTASSIST_WEB_CONFIG_FILE=" + webConfig, "SMARTASSIST_STATE_PATH=" + filepath.Join(t.TempDir(), "s.db")}
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	get := func(user, pass string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor(t, 20*time.Second, "the exporter to listen", func() bool { return get("", "") != 0 })
	if code := get("", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without credentials: %d, want 401", code)
	}
	if code := get("prometheus", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("/metrics with a wrong password: %d, want 401", code)
	}
	if code := get("prometheus", "scrape-pass"); code != http.StatusOK {
		t.Errorf("/metrics with the password: %d, want 200\n%s", code, logs.String())
	}
	health := exec.Command(binary, "-healthcheck")
	health.Env = []string{"SMARTASSIST_LISTEN_ADDRESS=" + addr}
	if err := health.Run(); err != nil {
		t.Errorf("-healthcheck behind basic auth: %v", err)
	}
}

// TestPromtoolCheckMetrics lints a live scrape of the demo with promtool,
// as Prometheus's own tooling sees it.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found: apt-get install prometheus (.ci/run installs it)")
	}
	e := startExporter(t, map[string]string{"SMARTASSIST_STATE_PATH": filepath.Join(t.TempDir(), "demo.db")}, "-demo")
	_, body := e.scrape(t)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	if !strings.Contains(body, "# HELP smartassist_conversations_total ") {
		t.Error("scrape lacks HELP text")
	}
	// The container HEALTHCHECK: healthy while it runs, unhealthy after.
	health := func() error {
		cmd := exec.Command(binary, "-healthcheck")
		cmd.Env = []string{"SMARTASSIST_LISTEN_ADDRESS=" + e.addr}
		return cmd.Run()
	}
	if err := health(); err != nil {
		t.Errorf("-healthcheck against a running exporter: %v", err)
	}
	e.stop(t)
	if err := health(); err == nil {
		t.Error("-healthcheck passed with the exporter stopped")
	}
}
