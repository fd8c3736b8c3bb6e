package main

// TestImportRule enforces the import rule ARCHITECTURE.md states, on every
// package of the module (new ones included), from the non-test Go files'
// imports as the build sees them.

import (
	"go/build"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/smartassist-exporter/smartassist_exporter"

// modulePackages maps each package directory of the module (relative, "."
// for the root) to the module packages its non-test files import.
func modulePackages(t *testing.T) map[string][]string {
	t.Helper()
	pkgs := map[string][]string{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata") {
			return filepath.SkipDir
		}
		p, err := build.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files here
		}
		var local []string
		for _, imp := range p.Imports {
			if imp == module {
				local = append(local, ".")
			} else if rel, ok := strings.CutPrefix(imp, module+"/"); ok {
				local = append(local, rel)
			}
		}
		pkgs[filepath.ToSlash(path)] = local
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// deps is every module package pkg imports, directly or not.
func deps(pkgs map[string][]string, pkg string) []string {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(p string) {
		for _, d := range pkgs[p] {
			if !seen[d] {
				seen[d] = true
				walk(d)
			}
		}
	}
	walk(pkg)
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

func TestImportRule(t *testing.T) {
	pkgs := modulePackages(t)
	for _, want := range []string{".", "config", "collector", "conversation", "metrics", "naming", "upstream", "simulator", "capacity", "otlp"} {
		if _, ok := pkgs[want]; !ok {
			t.Fatalf("package %s not found (found %v)", want, pkgs)
		}
	}
	// The scrape path: what /metrics runs. It never calls the platform, so
	// it cannot reach the packages that do.
	scrapePath := []string{"metrics", "capacity", "conversation", "naming", "dashboards"}
	upstreamCallers := []string{"upstream", "collector"} // and every package that imports upstream
	for pkg := range pkgs {
		if slices.Contains(pkgs[pkg], "upstream") && !slices.Contains(upstreamCallers, pkg) && pkg != "." {
			upstreamCallers = append(upstreamCallers, pkg)
		}
	}
	for pkg := range pkgs {
		all := deps(pkgs, pkg)
		switch {
		case slices.Contains(all, "."):
			t.Errorf("%s imports the main package", pkg)
		case pkg != "." && slices.Contains(all, "config"):
			t.Errorf("%s imports config: library packages take their settings as arguments (%v)", pkg, all)
		case pkg != "." && !strings.HasPrefix(pkg, "simulator") && slices.Contains(all, "simulator"):
			t.Errorf("%s imports the simulator, which only the demo and the tests use", pkg)
		}
		if slices.Contains(scrapePath, pkg) {
			for _, c := range upstreamCallers {
				if slices.Contains(all, c) {
					t.Errorf("%s is on the /metrics path but imports %s, which calls the platform", pkg, c)
				}
			}
		}
	}
	// The leaves: the metric namespace, the record decoder and the fake
	// platform stand alone; the shared client knows no source (sources
	// import it, not the reverse); the capacity models know nothing of
	// records; the metric contract feeds capacity's estimator.
	for pkg, allowed := range map[string][]string{
		"naming":       nil,
		"conversation": nil,
		"simulator":    nil,
		"upstream":     {"naming"},
		"capacity":     {"naming"},
		"metrics":      {"conversation", "capacity", "naming"},
	} {
		for _, d := range deps(pkgs, pkg) {
			if !slices.Contains(allowed, d) {
				t.Errorf("%s imports %s; it may import only %v", pkg, d, allowed)
			}
		}
	}
}
