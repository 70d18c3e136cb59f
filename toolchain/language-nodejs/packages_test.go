package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// writePkg creates dir/package.json with the given JSON body.
func writePkg(t *testing.T, dir, body string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeProject lays out a node_modules tree shaped like mailstack's.
func fakeProject(t *testing.T) string {
	root := t.TempDir()
	nm := filepath.Join(root, "node_modules")
	writePkg(t, root, `{"name":"prog","main":"index.ts",
		"dependencies":{"@pulumi/pulumi":"3.270.0","@pulumi/random":"4.21.2","@pulumi/legacy":"1.0.0"},
		"devDependencies":{"typescript":"5.9.3"}}`)
	writePkg(t, filepath.Join(nm, "@pulumi", "pulumi"),
		`{"name":"@pulumi/pulumi","version":"3.270.0","pulumi":{"comment":"Do not remove."}}`)
	writePkg(t, filepath.Join(nm, "@pulumi", "random"),
		`{"name":"@pulumi/random","version":"4.21.2","pulumi":{"resource":true,"name":"random","version":"4.21.2"}}`)
	writePkg(t, filepath.Join(nm, "@pulumi", "command"),
		`{"name":"@pulumi/command","version":"1.2.1","pulumi":{"resource":true,"name":"command","version":"1.2.1"}}`)
	// An SDK old enough to have no "pulumi" section.
	writePkg(t, filepath.Join(nm, "@pulumi", "legacy"), `{"name":"@pulumi/legacy","version":"1.0.0"}`)
	// A community provider outside @pulumi, pinned to a download server,
	// nested under another package, and a second copy of hcloud.
	writePkg(t, filepath.Join(nm, "wrapper"), `{"name":"wrapper","version":"2.0.0"}`)
	writePkg(t, filepath.Join(nm, "wrapper", "node_modules", "@acme", "thing"),
		`{"name":"@acme/thing","version":"0.3.0","pulumi":{"resource":true,"name":"acme","server":"https://example.invalid/"}}`)
	writePkg(t, filepath.Join(nm, "typescript"), `{"name":"typescript","version":"5.9.3"}`)
	writePkg(t, filepath.Join(nm, "@pulumi", "policy"), `{"name":"@pulumi/policy","version":"1.0.0"}`)
	// Noise that must be ignored: .bin, a directory without package.json,
	// and a symlink cycle back to node_modules.
	if err := os.MkdirAll(filepath.Join(nm, ".bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(nm, "not-a-package"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(nm, "wrapper"), filepath.Join(nm, "wrapper", "node_modules", "loop")); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestRequiredPlugins(t *testing.T) {
	root := fakeProject(t)
	got, err := requiredPlugins(filepath.Join(root, "node_modules"))
	if err != nil {
		t.Fatal(err)
	}
	want := []pluginRef{
		{Name: "acme", Version: "0.3.0", Server: "https://example.invalid/"},
		{Name: "command", Version: "1.2.1"},
		{Name: "legacy", Version: "1.0.0"},
		{Name: "random", Version: "4.21.2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("requiredPlugins =\n %+v\nwant\n %+v", got, want)
	}
}

func TestRequiredPluginsParameterized(t *testing.T) {
	nm := filepath.Join(t.TempDir(), "node_modules")
	writePkg(t, filepath.Join(nm, "@pulumi", "netbox"), `{"name":"@pulumi/netbox","version":"0.1.0",
		"pulumi":{"resource":true,"name":"terraform-provider","version":"0.8.0",
		"parameterization":{"name":"netbox","version":"0.1.0","value":"aGVsbG8="}}}`)
	got, err := requiredPlugins(nm)
	if err != nil {
		t.Fatal(err)
	}
	want := []pluginRef{{Name: "terraform-provider", Version: "0.8.0",
		ParamName: "netbox", ParamVersion: "0.1.0", ParamValue: []byte("hello")}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestRequiredPluginsMissingNodeModules(t *testing.T) {
	got, err := requiredPlugins(filepath.Join(t.TempDir(), "node_modules"))
	if err != nil || len(got) != 0 {
		t.Errorf("got %v, %v; want nothing", got, err)
	}
}

func TestFindNodeModulesWalksUp(t *testing.T) {
	root := fakeProject(t)
	sub := filepath.Join(root, "infra", "stack")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	nm, ok := findNodeModules(sub)
	if !ok || nm != filepath.Join(root, "node_modules") {
		t.Errorf("findNodeModules = %q, %v", nm, ok)
	}
	rs, err := findRunScript(sub)
	if err == nil {
		t.Errorf("findRunScript found %q in a tree without cmd/run", rs)
	}
	runDir := filepath.Join(root, "node_modules", "@pulumi", "pulumi", "cmd", "run")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(runDir, "index.js"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if rs, err := findRunScript(sub); err != nil || rs != runDir {
		t.Errorf("findRunScript = %q, %v; want %q", rs, err, runDir)
	}
}

func TestProgramDependencies(t *testing.T) {
	root := fakeProject(t)
	direct, err := programDependencies(root, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []dependency{
		{"@pulumi/legacy", "1.0.0"}, {"@pulumi/pulumi", "3.270.0"},
		{"@pulumi/random", "4.21.2"}, {"typescript", "5.9.3"},
	}
	if !reflect.DeepEqual(direct, want) {
		t.Errorf("direct deps = %v, want %v", direct, want)
	}
	all, err := programDependencies(root, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 8 { // every package.json in the tree, the cycle visited once
		t.Errorf("transitive deps = %v, want 8 entries", all)
	}
}
