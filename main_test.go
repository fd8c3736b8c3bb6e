package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"golang.org/x/crypto/bcrypt"

	"github.com/smartassist-exporter/smartassist_exporter/simulator"
)

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
	if err := <-e.done; err == nil {
		t.Error("the killed exporter exited with status 0")
	}
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
// line naming the variable and exit status 2, before it creates anything
// (the state file, a listener).
func TestBadConfigExits(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	webConfigs := map[string]string{
		"missing cert":   write("missing-cert.yml", "tls_server_config:\n  cert_file: "+filepath.Join(dir, "no.crt")+"\n  key_file: "+filepath.Join(dir, "no.key")+"\n"),
		"misspelled key": write("misspelled.yml", "basic_auth_user:\n  prometheus: x\n"),
		"not bcrypt":     write("plain.yml", "basic_auth_users:\n  prometheus: hunter2\n"),
		"a directory":    dir,
	}
	valid := map[string]string{"SMARTASSIST_BASE_URL": "https://x.example", "SMARTASSIST_ACCOUNT_ID": "a",
		"SMARTASSIST_STREAM_ID": "s", "SMARTASSIST_TOKEN": "t"}
	with := func(changes map[string]string) map[string]string {
		env := map[string]string{}
		maps.Copy(env, valid)
		maps.Copy(env, changes)
		return env
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // the line's start; it must be the only line
	}{
		{"missing account", map[string]string{"SMARTASSIST_BASE_URL": "https://x.example"}, "smartassist_exporter: SMARTASSIST_ACCOUNT_ID is required"},
		{"bad duration", with(map[string]string{"SMARTASSIST_POLL_INTERVAL": "fast"}), `smartassist_exporter: SMARTASSIST_POLL_INTERVAL: cannot use "fast": want a Go duration such as 30s, 1m or 2h`},
		{"listen address", with(map[string]string{"SMARTASSIST_LISTEN_ADDRESS": "localhost"}), "smartassist_exporter: SMARTASSIST_LISTEN_ADDRESS must be host:port"},
		{"infinite budget", with(map[string]string{"SMARTASSIST_API_RATE_LIMIT": "Inf"}), "smartassist_exporter: SMARTASSIST_API_RATE_LIMIT must be requests per minute between"},
		{"tiny budget", with(map[string]string{"SMARTASSIST_API_RATE_LIMIT": "1e-300"}), "smartassist_exporter: SMARTASSIST_API_RATE_LIMIT must be requests per minute between"},
		{"credentials in the URL", with(map[string]string{"SMARTASSIST_BASE_URL": "https://admin:hunter2@x.example"}), "smartassist_exporter: SMARTASSIST_BASE_URL must not hold a user or password"},
		{"fragment in the URL", with(map[string]string{"SMARTASSIST_BASE_URL": "https://x.example/#x"}), "smartassist_exporter: SMARTASSIST_BASE_URL must be only a scheme and a host"},
		{"web config: missing cert", with(map[string]string{"SMARTASSIST_WEB_CONFIG_FILE": webConfigs["missing cert"]}), "smartassist_exporter: SMARTASSIST_WEB_CONFIG_FILE: "},
		{"web config: misspelled key", with(map[string]string{"SMARTASSIST_WEB_CONFIG_FILE": webConfigs["misspelled key"]}), "smartassist_exporter: SMARTASSIST_WEB_CONFIG_FILE: "},
		{"web config: not bcrypt", with(map[string]string{"SMARTASSIST_WEB_CONFIG_FILE": webConfigs["not bcrypt"]}), "smartassist_exporter: SMARTASSIST_WEB_CONFIG_FILE: "},
		{"web config: a directory", with(map[string]string{"SMARTASSIST_WEB_CONFIG_FILE": webConfigs["a directory"]}), "smartassist_exporter: SMARTASSIST_WEB_CONFIG_FILE: "},
		{"live interval", with(map[string]string{"SMARTASSIST_LIVE_INTERVAL": "1s"}), "smartassist_exporter: SMARTASSIST_LIVE_INTERVAL must be between 5s and 1h, or off"},
		{"live source", with(map[string]string{"SMARTASSIST_LIVE_SOURCE": "both"}), `smartassist_exporter: SMARTASSIST_LIVE_SOURCE must be auto, queue_performance or queue_size, got "both"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state", "state.db")
			env := map[string]string{"SMARTASSIST_STATE_PATH": state}
			maps.Copy(env, tc.env)
			code, out := launch{env: env}.runToExit(t)
			if code != exitConfig {
				t.Errorf("exit status %d, want %d", code, exitConfig)
			}
			if !strings.HasPrefix(out, tc.want) || strings.Count(out, "\n") != 1 {
				t.Errorf("output %q, want one line starting %q", out, tc.want)
			}
			if strings.Contains(out, "hunter2") {
				t.Errorf("a password is printed: %q", out)
			}
			if _, err := os.Stat(filepath.Dir(state)); !os.IsNotExist(err) {
				t.Errorf("the state directory was created before the setting was refused (%v)", err)
			}
		})
	}
}

// TestListenFailureExits: when the HTTP server cannot listen (the port is
// taken), the exporter exits non-zero at once, before it creates the state,
// instead of polling with nobody able to scrape what it counts.
func TestListenFailureExits(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, apiURL := newSimulator(t)
	state := filepath.Join(t.TempDir(), "state", "state.db")
	env := exporterEnv(apiURL, state)
	env["SMARTASSIST_LISTEN_ADDRESS"] = taken.Addr().String()
	code, out := launch{env: env}.runToExit(t)
	if code != exitRuntime || !strings.Contains(out, "SMARTASSIST_LISTEN_ADDRESS") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("the state file was created though nothing could listen (%v)", err)
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
	// The live state polls beside call details (every 5 s in the demo).
	waitFor(t, 20*time.Second, "the live gauges in the demo", func() bool {
		mfs, _ := e.scrape(t)
		return sum(mfs, "smartassist_live_up") == 1 && len(mfs["smartassist_queue_agents"].GetMetric()) == 16 &&
			mfs["smartassist_queue_waiting"] != nil
	})
	// The landing page links what an operator looks for.
	if resp, err := http.Get("http://" + e.addr + "/"); err != nil || resp.StatusCode != http.StatusOK {
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
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != http.StatusOK || d.UID != "smartassist-overview" {
		t.Errorf("/dashboards/overview.json: %d %q %v", resp.StatusCode, d.UID, err)
	}
	resp.Body.Close()
	e.stop(t)
}

// TestLiveOff: SMARTASSIST_LIVE_INTERVAL=off starts no live collector: no
// live gauges, no live requests, and the log says so.
func TestLiveOff(t *testing.T) {
	e := startExporter(t, map[string]string{"SMARTASSIST_STATE_PATH": filepath.Join(t.TempDir(), "demo.db"),
		"SMARTASSIST_LIVE_INTERVAL": "off"}, "-demo")
	mfs, text := e.scrape(t)
	if sum(mfs, "smartassist_conversations_total") == 0 {
		t.Error("call details stopped too")
	}
	for _, name := range []string{"smartassist_live_up", "smartassist_queue_agents", "smartassist_exporter_live_source"} {
		if mfs[name] != nil {
			t.Errorf("%s present with live state off", name)
		}
	}
	if strings.Contains(text, `endpoint="queue_performance"`) {
		t.Error("live endpoints in the request metrics with live state off")
	}
	if !strings.Contains(e.logs.String(), "live queue and agent state is off") {
		t.Errorf("the log does not say live state is off:\n%s", e.logs)
	}
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
	e := launch{args: []string{"-demo"}, env: map[string]string{"SMARTASSIST_WEB_CONFIG_FILE": webConfig,
		"SMARTASSIST_STATE_PATH": filepath.Join(t.TempDir(), "s.db")}}.start(t)
	addr, logs := e.addr, e.logs
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
	if err := healthcheck(t, addr); err != nil {
		t.Errorf("-healthcheck behind basic auth: %v", err)
	}
}

// TestPromtoolCheckMetrics lints a live scrape of the demo with promtool,
// as Prometheus's own tooling sees it.
func TestPromtoolCheckMetrics(t *testing.T) {
	skipShort(t, "runs the demo and promtool")
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
	health := func() error { return healthcheck(t, e.addr) }
	if err := health(); err != nil {
		t.Errorf("-healthcheck against a running exporter: %v", err)
	}
	e.stop(t)
	if err := health(); err == nil {
		t.Error("-healthcheck passed with the exporter stopped")
	}
}

// TestVersionFromBuildInfo: a plain go build in a git checkout (no
// -ldflags) reports the module version and the commit, from the Go
// toolchain's build information, in -version and build_info.
func TestVersionFromBuildInfo(t *testing.T) {
	skipShort(t, "builds the exporter")
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skip("not a git checkout")
	}
	bin := filepath.Join(t.TempDir(), "smartassist_exporter")
	// -buildvcs=true overrides a GOFLAGS=-buildvcs=false in the environment.
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if info, _ := exec.Command("go", "version", "-m", bin).Output(); !bytes.Contains(info, []byte("vcs.revision=")) {
		t.Skip("the go command stamped no VCS information here (a git worktree outside the main checkout)")
	}
	out, _ := exec.Command(bin, "-version").CombinedOutput()
	rev := strings.TrimSpace(string(head))
	if !strings.Contains(string(out), "revision: "+rev) || strings.Contains(string(out), "version  (") {
		t.Errorf("-version does not show the module version and revision %s:\n%s", rev, out)
	}
}

// TestCorruptStateExits: a truncated or garbage state file stops the
// exporter with one log line naming the file and what to do, and the
// corrupt-state exit status (3), without a Go trace and without touching
// the file (issue 8.5).
func TestCorruptStateExits(t *testing.T) {
	fixture, err := os.ReadFile(filepath.Join("collector", "testdata", "state-v1", "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	garbage := bytes.Repeat([]byte("not a bbolt file; "), 4096)
	files := map[string][]byte{
		"truncated": fixture[:len(fixture)/2],
		"garbage":   garbage,
	}
	_, apiURL := newSimulator(t)
	for name, content := range files {
		t.Run(name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state.db")
			if err := os.WriteFile(state, content, 0o600); err != nil {
				t.Fatal(err)
			}
			env := exporterEnv(apiURL, state)
			env["SMARTASSIST_LOG_LEVEL"] = "info"
			code, out := launch{env: env}.runToExit(t)
			if code != exitCorruptState {
				t.Errorf("exit %d, want %d; output:\n%s", code, exitCorruptState, out)
			}
			var errorLines []string
			for _, line := range strings.Split(out, "\n") {
				if strings.Contains(line, "level=ERROR") {
					errorLines = append(errorLines, line)
				}
			}
			if len(errorLines) != 1 || !strings.Contains(errorLines[0], "state file is corrupt") ||
				!strings.Contains(errorLines[0], state) || !strings.Contains(errorLines[0], "move the file aside") {
				t.Errorf("want one error line naming the file and what to do, got:\n%s", out)
			}
			if strings.Contains(out, "goroutine ") || strings.Contains(out, "panic") {
				t.Errorf("a Go trace:\n%s", out)
			}
			if after, _ := os.ReadFile(state); !bytes.Equal(after, content) {
				t.Error("the corrupt state file was changed")
			}
		})
	}
}
