package hcloud

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// TestServeFakeAPI runs the fake Hetzner API as a server for test/hcloud-integration.sh, which drives the real
// engine against it. It is skipped unless HCLOUD_FAKE_API_DIR is set: it then writes the API's URL to DIR/url,
// serves until DIR/stop appears (at most 15 minutes), and writes what is left in the fake and every call made
// to DIR/state.json. An unexpected request fails it, as in the unit tests. With HCLOUD_FAKE_API_ZONE it starts
// with that zone and a `www` set in it that is not the stack's.
func TestServeFakeAPI(t *testing.T) {
	dir := os.Getenv("HCLOUD_FAKE_API_DIR")
	if dir == "" {
		t.Skip("serves the fake API for test/hcloud-integration.sh only")
	}
	token := os.Getenv("HCLOUD_FAKE_API_TOKEN")
	if len(token) != 64 {
		t.Fatal("HCLOUD_FAKE_API_TOKEN must be a 64-character token")
	}
	f := newFakeAPI(t, token)
	// A zone that exists before the stack (adopted by name), with a set that is not the stack's.
	if name := os.Getenv("HCLOUD_FAKE_API_ZONE"); name != "" {
		z := f.addZone(name, 3600, map[string]string{})
		f.addRRSet(z, "www", "A", nil, map[string]string{}, []schema.ZoneRRSetRecord{{Value: "198.51.100.7"}})
	}
	if err := os.WriteFile(filepath.Join(dir, "url.tmp"), []byte(f.srv.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "url.tmp"), filepath.Join(dir, "url")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Minute)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(dir, "stop")); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	f.mu.Lock()
	state := map[string]any{
		"sshKeys": len(f.sshKeys), "primaryIPs": len(f.primaryIPs), "servers": len(f.servers),
		"firewalls": len(f.firewalls), "requests": len(f.requests),
	}
	zones := map[string][]string{} // zone name: its sets, "NAME/TYPE=VALUE,..."
	for _, z := range f.zones {
		for _, r := range f.rrsets[z.ID] {
			var values []string
			for _, rec := range r.Records {
				values = append(values, rec.Value)
			}
			zones[z.Name] = append(zones[z.Name], r.ID+"="+strings.Join(values, ","))
		}
		sort.Strings(zones[z.Name])
	}
	state["zones"] = zones
	f.mu.Unlock()
	state["calls"] = f.calls()
	badAuth := 0
	for _, r := range f.reqs() {
		if r.Auth != "Bearer "+token {
			badAuth++
		}
	}
	state["badAuth"] = badAuth
	b, _ := json.MarshalIndent(state, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "state.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
