package hcloud

import (
	"crypto/md5"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// fakeAPI is an in-memory Hetzner Cloud API with the endpoints the provider uses. It checks the bearer token,
// records every request (method, path, query, JSON body) and keeps state between requests, with the API's rules
// that matter here: unique names, a primary IP serves one server, (un)assigning needs the server off, a firewall in
// use cannot be deleted, deleting a server deletes its autoDelete primary IPs, a zone's record sets are unique per
// name and type, and protected zones and record sets cannot be deleted (fakezone_test.go). Actions start "running" and
// succeed after `polls` GET /actions requests; an action whose command is in failCommands fails instead.
// Requests to any other endpoint fail the test.
type fakeAPI struct {
	t     *testing.T
	srv   *httptest.Server
	token string

	mu           sync.Mutex
	requests     []request
	nextID       int64
	polls        int
	failCommands []string
	sshKeys      map[int64]*schema.SSHKey
	primaryIPs   map[int64]*schema.PrimaryIP
	servers      map[int64]*schema.Server
	firewalls    map[int64]*schema.Firewall
	volumes      map[int64]*schema.Volume
	zones        map[int64]*schema.Zone
	rrsets       map[int64]map[string]*schema.ZoneRRSet // per zone ID, by "NAME/TYPE"
	actions      map[int64]*schema.Action
	pollsLeft    map[int64]int
}

type request struct {
	Method, Path, Query, Auth string
	Body                      map[string]any
}

func newFakeAPI(t *testing.T, token string) *fakeAPI {
	f := &fakeAPI{
		t: t, token: token, nextID: 100, polls: 1,
		sshKeys: map[int64]*schema.SSHKey{}, primaryIPs: map[int64]*schema.PrimaryIP{},
		servers: map[int64]*schema.Server{}, firewalls: map[int64]*schema.Firewall{}, volumes: map[int64]*schema.Volume{},
		zones: map[int64]*schema.Zone{}, rrsets: map[int64]map[string]*schema.ZoneRRSet{},
		actions: map[int64]*schema.Action{}, pollsLeft: map[int64]int{},
	}
	mux := http.NewServeMux()
	route := func(pattern string, h func(w http.ResponseWriter, r *http.Request, body map[string]any)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			defer f.mu.Unlock()
			raw, _ := io.ReadAll(r.Body)
			var body map[string]any
			if len(raw) > 0 {
				if err := json.Unmarshal(raw, &body); err != nil {
					f.t.Errorf("%s %s: body is not a JSON object: %s", r.Method, r.URL.Path, raw)
				}
			}
			f.requests = append(f.requests, request{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), body})
			if f.refuse(w, r.Header.Get("Authorization") != "Bearer "+f.token, 401, "unauthorized", "unable to authenticate") {
				return
			}
			if ct := r.Header.Get("Content-Type"); len(raw) > 0 && ct != "application/json" {
				f.t.Errorf("%s %s: Content-Type %q", r.Method, r.URL.Path, ct)
			}
			h(w, r, body)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL)
		f.fail(w, 404, "not_found", "no such endpoint in the fake")
	})

	route("GET /actions", f.getActions)
	route("POST /ssh_keys", f.createSSHKey)
	route("GET /ssh_keys", f.listSSHKeys)
	route("GET /ssh_keys/{id}", byID(f, f.sshKeys, "SSH key", show[schema.SSHKey](f, "ssh_key", nil)))
	route("PUT /ssh_keys/{id}", byID(f, f.sshKeys, "SSH key", show(f, "ssh_key", func(k *schema.SSHKey, b map[string]any) { rename(b, &k.Name, &k.Labels) })))
	route("DELETE /ssh_keys/{id}", byID(f, f.sshKeys, "SSH key", deleter(f, f.sshKeys, func(*schema.SSHKey) refusal { return refusal{} })))
	route("POST /primary_ips", f.createPrimaryIP)
	route("GET /primary_ips/{id}", byID(f, f.primaryIPs, "primary IP", show[schema.PrimaryIP](f, "primary_ip", nil)))
	route("PUT /primary_ips/{id}", byID(f, f.primaryIPs, "primary IP", show(f, "primary_ip", updatePrimaryIP)))
	route("DELETE /primary_ips/{id}", byID(f, f.primaryIPs, "primary IP", deleter(f, f.primaryIPs, func(ip *schema.PrimaryIP) refusal {
		return refuseIf(ip.AssigneeID != nil, 422, "primary_ip_assigned", "primary IP is assigned to a server")
	})))
	route("POST /primary_ips/{id}/actions/{action}", byID(f, f.primaryIPs, "primary IP", f.primaryIPAction))
	route("POST /servers", f.createServer)
	route("GET /servers/{id}", byID(f, f.servers, "server", show[schema.Server](f, "server", nil)))
	route("PUT /servers/{id}", byID(f, f.servers, "server", show(f, "server", func(s *schema.Server, b map[string]any) { rename(b, &s.Name, &s.Labels) })))
	route("DELETE /servers/{id}", byID(f, f.servers, "server", f.deleteServer))
	route("POST /servers/{id}/actions/{action}", byID(f, f.servers, "server", f.serverAction))
	route("POST /firewalls", f.createFirewall)
	route("GET /firewalls/{id}", byID(f, f.firewalls, "firewall", show[schema.Firewall](f, "firewall", nil)))
	route("PUT /firewalls/{id}", byID(f, f.firewalls, "firewall", show(f, "firewall", func(fw *schema.Firewall, b map[string]any) { rename(b, &fw.Name, &fw.Labels) })))
	route("DELETE /firewalls/{id}", byID(f, f.firewalls, "firewall", deleter(f, f.firewalls, func(fw *schema.Firewall) refusal {
		return refuseIf(len(fw.AppliedTo) > 0, 422, "resource_in_use", "firewall is still applied")
	})))
	route("POST /firewalls/{id}/actions/{action}", byID(f, f.firewalls, "firewall", f.firewallAction))
	route("POST /volumes", f.createVolume)
	route("GET /volumes/{id}", byID(f, f.volumes, "volume", show[schema.Volume](f, "volume", nil)))
	route("PUT /volumes/{id}", byID(f, f.volumes, "volume", show(f, "volume", func(v *schema.Volume, b map[string]any) { rename(b, &v.Name, &v.Labels) })))
	route("DELETE /volumes/{id}", byID(f, f.volumes, "volume", deleter(f, f.volumes, func(v *schema.Volume) refusal {
		if v.Protection.Delete {
			return refusal{423, "protected", "volume is protected"}
		}
		return refuseIf(v.Server != nil, 422, "invalid_input", "volume is attached to a server")
	})))
	route("POST /volumes/{id}/actions/{action}", byID(f, f.volumes, "volume", f.volumeAction))
	f.zoneRoutes(route)

	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// byID serves a request about one object of m, the one named by the path's {id}; none is the API's not_found.
func byID[T any](f *fakeAPI, m map[int64]*T, what string,
	h func(w http.ResponseWriter, r *http.Request, x *T, body map[string]any),
) func(http.ResponseWriter, *http.Request, map[string]any) {
	return func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		x, ok := m[pathID(r)]
		if f.refuse(w, !ok, 404, "not_found", what+" not found") {
			return
		}
		h(w, r, x, body)
	}
}

// refusal is the API's error for a request it refuses; the zero value refuses nothing.
type refusal struct {
	status    int
	code, msg string
}

func refuseIf(cond bool, status int, code, msg string) refusal {
	if !cond {
		return refusal{}
	}
	return refusal{status, code, msg}
}

// taken refuses a name that another object of m has: names are unique per project.
func taken[T any](f *fakeAPI, w http.ResponseWriter, m map[int64]*T, nameOf func(*T) string, name, what string) bool {
	for _, x := range m {
		if nameOf(x) == name {
			f.fail(w, 409, "uniqueness_error", what+" with the same name already exists")
			return true
		}
	}
	return false
}

// flag sets *to from a boolean of the body, if it has one.
func flag(body map[string]any, key string, to *bool) {
	if v, ok := body[key].(bool); ok {
		*to = v
	}
}

// noAction answers an action the fake does not know, which the test did not expect either.
func (f *fakeAPI) noAction(w http.ResponseWriter, what, action string) {
	f.t.Errorf("unexpected %s action %s", what, action)
	f.fail(w, 404, "not_found", "no such action")
}

// refuse answers with the API's error when cond holds, and says so.
func (f *fakeAPI) refuse(w http.ResponseWriter, cond bool, status int, code, msg string) bool {
	if cond {
		f.fail(w, status, code, msg)
	}
	return cond
}

// deleter answers a DELETE of an object of m: refused while refuse says so, else the object goes.
func deleter[T any](f *fakeAPI, m map[int64]*T, refuse func(x *T) refusal,
) func(http.ResponseWriter, *http.Request, *T, map[string]any) {
	return func(w http.ResponseWriter, r *http.Request, x *T, _ map[string]any) {
		if no := refuse(x); no.status != 0 {
			f.fail(w, no.status, no.code, no.msg)
			return
		}
		delete(m, pathID(r))
		w.WriteHeader(204)
	}
}

// show answers with the object under its key, as the API's GET and PUT of one object do; update (if any)
// applies the PUT's body first.
func show[T any](f *fakeAPI, key string, update func(x *T, body map[string]any),
) func(http.ResponseWriter, *http.Request, *T, map[string]any) {
	return func(w http.ResponseWriter, _ *http.Request, x *T, body map[string]any) {
		if update != nil {
			update(x, body)
		}
		f.json(w, 200, map[string]any{key: x})
	}
}

// updatePrimaryIP is the PUT of a primary IP: name, labels and auto_delete.
func updatePrimaryIP(ip *schema.PrimaryIP, body map[string]any) {
	rename(body, &ip.Name, &ip.Labels)
	if v, ok := body["auto_delete"].(bool); ok {
		ip.AutoDelete = v
	}
}

// rename applies an update's name and labels, as every PUT of the API does.
func rename(body map[string]any, name *string, labels *map[string]string) {
	if n := str_(body, "name"); n != "" {
		*name = n
	}
	if _, ok := body["labels"]; ok {
		*labels = labelsOf(body)
	}
}

// --- helpers for tests ----------------------------------------------------------------------------------------------

func (f *fakeAPI) reqs() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *fakeAPI) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = nil
}

// calls lists "METHOD PATH" of every request but action polls.
func (f *fakeAPI) calls() []string {
	var out []string
	for _, r := range f.reqs() {
		if r.Path != "/actions" {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

// find returns the bodies of the requests with that method and path.
func (f *fakeAPI) find(method, path string) []map[string]any {
	var out []map[string]any
	for _, r := range f.reqs() {
		if r.Method == method && r.Path == path {
			out = append(out, r.Body)
		}
	}
	return out
}

// one returns the body of the single request with that method and path, failing the test otherwise.
func (f *fakeAPI) one(method, path string) map[string]any {
	f.t.Helper()
	bodies := f.find(method, path)
	if len(bodies) != 1 {
		f.t.Fatalf("%d requests %s %s, want 1; all: %v", len(bodies), method, path, f.calls())
	}
	return bodies[0]
}

// --- plumbing ---------------------------------------------------------------------------------------------------

func (f *fakeAPI) json(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		f.t.Errorf("encoding a response: %v", err)
	}
}

func (f *fakeAPI) fail(w http.ResponseWriter, code int, errCode, msg string) {
	f.json(w, code, map[string]any{"error": map[string]any{"code": errCode, "message": msg, "details": nil}})
}

func (f *fakeAPI) id() int64 { f.nextID++; return f.nextID }

func pathID(r *http.Request) int64 {
	n, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return n
}

func (f *fakeAPI) action(command string, resources ...schema.ActionResourceReference) schema.Action {
	a := &schema.Action{ID: f.id(), Command: command, Status: "running", Resources: resources}
	if f.polls == 0 {
		a.Status, a.Progress = "success", 100
	}
	if slices.Contains(f.failCommands, command) {
		f.pollsLeft[a.ID] = -1
	} else {
		f.pollsLeft[a.ID] = f.polls
	}
	f.actions[a.ID] = a
	return *a
}

func (f *fakeAPI) getActions(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	var list []schema.Action
	for _, s := range r.URL.Query()["id"] {
		n, _ := strconv.ParseInt(s, 10, 64)
		a, ok := f.actions[n]
		if !ok {
			continue
		}
		switch left := f.pollsLeft[n]; {
		case left < 0:
			a.Status, a.Error = "error", &schema.ActionError{Code: "action_failed", Message: a.Command + " failed"}
		case left <= 1:
			a.Status, a.Progress = "success", 100
			f.pollsLeft[n] = 0
		default:
			f.pollsLeft[n] = left - 1
		}
		list = append(list, *a)
	}
	f.json(w, 200, schema.ActionListResponse{Actions: list})
}

func str_(body map[string]any, key string) string { s, _ := body[key].(string); return s }

func labelsOf(body map[string]any) map[string]string {
	out := map[string]string{}
	if m, ok := body["labels"].(map[string]any); ok {
		for k, v := range m {
			out[k], _ = v.(string)
		}
	}
	return out
}

// --- SSH keys -----------------------------------------------------------------------------------------------------

func (f *fakeAPI) createSSHKey(w http.ResponseWriter, _ *http.Request, body map[string]any) {
	name, key := str_(body, "name"), str_(body, "public_key")
	if f.refuse(w, name == "" || key == "", 400, "invalid_input", "name and public_key are required") {
		return
	}
	if taken(f, w, f.sshKeys, func(k *schema.SSHKey) string { return k.Name }, name, "SSH key") {
		return
	}
	sum := md5.Sum([]byte(strings.TrimSpace(key)))
	fp := make([]string, len(sum))
	for i, b := range sum {
		fp[i] = fmt.Sprintf("%02x", b)
	}
	k := &schema.SSHKey{ID: f.id(), Name: name, PublicKey: key, Fingerprint: strings.Join(fp, ":"), Labels: labelsOf(body)}
	f.sshKeys[k.ID] = k
	f.json(w, 201, schema.SSHKeyCreateResponse{SSHKey: *k})
}

func (f *fakeAPI) listSSHKeys(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	list := []schema.SSHKey{}
	for _, k := range f.sshKeys {
		if n := r.URL.Query().Get("name"); n == "" || n == k.Name {
			list = append(list, *k)
		}
	}
	f.json(w, 200, schema.SSHKeyListResponse{SSHKeys: list})
}

// --- primary IPs --------------------------------------------------------------------------------------------------

func (f *fakeAPI) newPrimaryIP(name, typ, location string, autoDelete bool, labels map[string]string) *schema.PrimaryIP {
	id := f.id()
	ip := &schema.PrimaryIP{ID: id, Name: name, Type: typ, AssigneeType: "server", AutoDelete: autoDelete,
		Labels: labels, Location: schema.Location{ID: 1, Name: location}}
	if typ == "ipv4" {
		ip.IP = fmt.Sprintf("203.0.113.%d", id%250)
		ip.DNSPtr = []schema.PrimaryIPDNSPTR{{IP: ip.IP, DNSPtr: fmt.Sprintf("static.%d.113.0.203.clients.your-server.de", id%250)}}
	} else {
		ip.IP = fmt.Sprintf("2001:db8:%x::/64", id)
		ip.DNSPtr = []schema.PrimaryIPDNSPTR{}
	}
	f.primaryIPs[id] = ip
	return ip
}

func (f *fakeAPI) createPrimaryIP(w http.ResponseWriter, _ *http.Request, body map[string]any) {
	name, typ, loc := str_(body, "name"), str_(body, "type"), str_(body, "location")
	if name == "" || (typ != "ipv4" && typ != "ipv6") || str_(body, "assignee_type") != "server" || loc == "" {
		f.fail(w, 400, "invalid_input", "name, type, assignee_type and location (or an assignee) are required")
		return
	}
	if taken(f, w, f.primaryIPs, func(ip *schema.PrimaryIP) string { return ip.Name }, name, "primary IP") {
		return
	}
	autoDelete, _ := body["auto_delete"].(bool)
	ip := f.newPrimaryIP(name, typ, loc, autoDelete, labelsOf(body))
	f.json(w, 201, schema.PrimaryIPCreateResponse{PrimaryIP: *ip})
}

func (f *fakeAPI) primaryIPAction(w http.ResponseWriter, r *http.Request, ip *schema.PrimaryIP, body map[string]any) {
	ref := schema.ActionResourceReference{ID: ip.ID, Type: "primary_ip"}
	switch r.PathValue("action") {
	case "unassign":
		if f.refuse(w, ip.AssigneeID == nil, 422, "primary_ip_not_assigned", "primary IP is not assigned") {
			return
		}
		s := f.servers[*ip.AssigneeID]
		if f.refuse(w, s != nil && s.Status != "off", 422, "server_not_stopped", "server must be powered off") {
			return
		}
		if s != nil {
			f.detach(s, ip.ID)
		}
		ip.AssigneeID = nil
		f.json(w, 201, map[string]any{"action": f.action("unassign_primary_ip", ref)})
	case "assign":
		sid := int64(body["assignee_id"].(float64))
		s, ok := f.servers[sid]
		switch {
		case !ok || str_(body, "assignee_type") != "server":
			f.fail(w, 422, "invalid_input", "no such server")
		case ip.AssigneeID != nil:
			f.fail(w, 422, "primary_ip_assigned", "primary IP is already assigned")
		case s.Status != "off":
			f.fail(w, 422, "server_not_stopped", "server must be powered off")
		case (ip.Type == "ipv4" && s.PublicNet.IPv4.ID != 0) || (ip.Type == "ipv6" && s.PublicNet.IPv6.ID != 0):
			f.fail(w, 422, "server_has_ipv4", "the server already has a primary IP of that type")
		default:
			f.attach(s, ip)
			f.json(w, 201, map[string]any{"action": f.action("assign_primary_ip", ref)})
		}
	case "change_dns_ptr":
		f.changePtr(w, ip, nil, body, ref)
	default:
		f.noAction(w, "primary IP", r.PathValue("action"))
	}
}

// changePtr sets (or, with a null dns_ptr, resets) the reverse DNS of one address of a primary IP or a server.
func (f *fakeAPI) changePtr(w http.ResponseWriter, ip *schema.PrimaryIP, s *schema.Server, body map[string]any,
	ref schema.ActionResourceReference) {
	addr := str_(body, "ip")
	ptr, set := body["dns_ptr"].(string)
	if _, present := body["dns_ptr"]; !present {
		f.fail(w, 400, "invalid_input", "dns_ptr is required (null resets it)")
		return
	}
	if s != nil && s.PublicNet.IPv4.IP == addr {
		if !set {
			ptr = "static.default.clients.your-server.de"
		}
		s.PublicNet.IPv4.DNSPtr = ptr
		if p := f.primaryIPs[s.PublicNet.IPv4.ID]; p != nil {
			p.DNSPtr = []schema.PrimaryIPDNSPTR{{IP: addr, DNSPtr: ptr}}
		}
		f.json(w, 201, map[string]any{"action": f.action("change_dns_ptr", ref)})
		return
	}
	if ip != nil && ip.Type == "ipv4" && ip.IP == addr {
		if !set {
			ptr = fmt.Sprintf("static.%d.113.0.203.clients.your-server.de", ip.ID%250)
		}
		ip.DNSPtr = []schema.PrimaryIPDNSPTR{{IP: addr, DNSPtr: ptr}}
		if ip.AssigneeID != nil {
			if s := f.servers[*ip.AssigneeID]; s != nil {
				s.PublicNet.IPv4.DNSPtr = ptr
			}
		}
		f.json(w, 201, map[string]any{"action": f.action("change_dns_ptr", ref)})
		return
	}
	f.fail(w, 422, "invalid_input", "ip "+addr+" does not belong to the resource")
}

// --- servers ------------------------------------------------------------------------------------------------------

func (f *fakeAPI) attach(s *schema.Server, ip *schema.PrimaryIP) {
	ip.AssigneeID = &s.ID
	if ip.Type == "ipv4" {
		ptr := ""
		if len(ip.DNSPtr) > 0 {
			ptr = ip.DNSPtr[0].DNSPtr
		}
		s.PublicNet.IPv4 = schema.ServerPublicNetIPv4{ID: ip.ID, IP: ip.IP, DNSPtr: ptr}
	} else {
		s.PublicNet.IPv6 = schema.ServerPublicNetIPv6{ID: ip.ID, IP: ip.IP, DNSPtr: []schema.ServerPublicNetIPv6DNSPtr{}}
	}
}

func (f *fakeAPI) detach(s *schema.Server, ipID int64) {
	if s.PublicNet.IPv4.ID == ipID {
		s.PublicNet.IPv4 = schema.ServerPublicNetIPv4{}
	}
	if s.PublicNet.IPv6.ID == ipID {
		s.PublicNet.IPv6 = schema.ServerPublicNetIPv6{}
	}
}

func (f *fakeAPI) createServer(w http.ResponseWriter, _ *http.Request, body map[string]any) {
	name, typ, loc := str_(body, "name"), str_(body, "server_type"), str_(body, "location")
	image := str_(body, "image")
	if f.refuse(w, name == "" || typ == "" || image == "", 400, "invalid_input", "name, server_type and image are required") {
		return
	}
	if loc == "" {
		loc = "fsn1"
	}
	if taken(f, w, f.servers, func(s *schema.Server) string { return s.Name }, name, "server") {
		return
	}
	keys, _ := body["ssh_keys"].([]any)
	for _, k := range keys {
		if _, ok := f.sshKeys[int64(k.(float64))]; !ok {
			f.fail(w, 422, "invalid_input", fmt.Sprintf("SSH key %v not found", k))
			return
		}
	}
	v4, v6 := true, true
	var ip4, ip6 int64
	if pn, ok := body["public_net"].(map[string]any); ok {
		v4, _ = pn["enable_ipv4"].(bool)
		v6, _ = pn["enable_ipv6"].(bool)
		if n, ok := pn["ipv4"].(float64); ok {
			ip4 = int64(n)
		}
		if n, ok := pn["ipv6"].(float64); ok {
			ip6 = int64(n)
		}
	}
	for _, id := range []int64{ip4, ip6} {
		if id == 0 {
			continue
		}
		ip, ok := f.primaryIPs[id]
		switch {
		case !ok:
			f.fail(w, 422, "invalid_input", fmt.Sprintf("primary IP %d not found", id))
			return
		case ip.AssigneeID != nil:
			f.fail(w, 422, "primary_ip_assigned", fmt.Sprintf("primary IP %d is assigned to another server", id))
			return
		case ip.Location.Name != loc:
			f.fail(w, 422, "invalid_input", "primary IP in another location")
			return
		}
	}
	s := &schema.Server{ID: f.id(), Name: name, Status: "running", Labels: labelsOf(body),
		ServerType: schema.ServerType{ID: 1, Name: typ}, Location: schema.Location{ID: 1, Name: loc},
		Image: &schema.Image{ID: 2, Name: &image}, PrimaryDiskSize: 40,
		PublicNet: schema.ServerPublicNet{Firewalls: []schema.ServerFirewall{}}}
	f.servers[s.ID] = s
	if v4 {
		ip := f.primaryIPs[ip4]
		if ip == nil {
			ip = f.newPrimaryIP("primary_ip-"+strconv.FormatInt(s.ID, 10)+"-v4", "ipv4", loc, true, nil)
		}
		f.attach(s, ip)
	}
	if v6 {
		ip := f.primaryIPs[ip6]
		if ip == nil {
			ip = f.newPrimaryIP("primary_ip-"+strconv.FormatInt(s.ID, 10)+"-v6", "ipv6", loc, true, nil)
		}
		f.attach(s, ip)
	}
	ref := schema.ActionResourceReference{ID: s.ID, Type: "server"}
	resp := schema.ServerCreateResponse{Server: *s, Action: f.action("create_server", ref),
		NextActions: []schema.Action{f.action("start_server", ref)}}
	resp.Server.Status = "initializing"
	f.json(w, 201, resp)
}

func (f *fakeAPI) deleteServer(w http.ResponseWriter, r *http.Request, s *schema.Server, _ map[string]any) {
	if f.refuse(w, s.Protection.Delete, 423, "protected", "server is protected") {
		return
	}
	for _, v := range f.volumes {
		if v.Server != nil && *v.Server == s.ID {
			v.Server = nil // the API detaches a deleted server's volumes
		}
	}
	for _, id := range []int64{s.PublicNet.IPv4.ID, s.PublicNet.IPv6.ID} {
		if ip := f.primaryIPs[id]; ip != nil {
			ip.AssigneeID = nil
			if ip.AutoDelete {
				delete(f.primaryIPs, id)
			}
		}
	}
	for _, fw := range f.firewalls {
		fw.AppliedTo = slices.DeleteFunc(fw.AppliedTo, func(a schema.FirewallResource) bool {
			return a.Server != nil && a.Server.ID == s.ID
		})
	}
	delete(f.servers, s.ID)
	f.json(w, 200, schema.ServerDeleteResponse{Action: f.action("delete_server", schema.ActionResourceReference{ID: s.ID, Type: "server"})})
}

func (f *fakeAPI) serverAction(w http.ResponseWriter, r *http.Request, s *schema.Server, body map[string]any) {
	ref := schema.ActionResourceReference{ID: s.ID, Type: "server"}
	switch a := r.PathValue("action"); a {
	case "poweroff":
		s.Status = "off"
		f.json(w, 201, map[string]any{"action": f.action("stop_server", ref)})
	case "poweron":
		s.Status = "running"
		f.json(w, 201, map[string]any{"action": f.action("start_server", ref)})
	case "change_type":
		if f.refuse(w, s.Status != "off", 422, "server_not_stopped", "server must be powered off") {
			return
		}
		if _, ok := body["upgrade_disk"].(bool); !ok {
			f.fail(w, 400, "invalid_input", "upgrade_disk is required")
			return
		}
		s.ServerType.Name = str_(body, "server_type")
		f.json(w, 201, map[string]any{"action": f.action("change_server_type", ref)})
	case "change_dns_ptr":
		f.changePtr(w, nil, s, body, ref)
	case "change_protection":
		flag(body, "delete", &s.Protection.Delete)
		flag(body, "rebuild", &s.Protection.Rebuild)
		f.json(w, 201, map[string]any{"action": f.action("change_protection", ref)})
	default:
		f.noAction(w, "server", a)
	}
}

// --- firewalls ----------------------------------------------------------------------------------------------------

func rulesFrom(body map[string]any) ([]schema.FirewallRule, error) {
	raw, _ := json.Marshal(body["rules"])
	var reqRules []schema.FirewallRuleRequest
	if err := json.Unmarshal(raw, &reqRules); err != nil {
		return nil, err
	}
	rules := []schema.FirewallRule{}
	for _, r := range reqRules {
		if r.Direction == "" || r.Protocol == "" {
			return nil, fmt.Errorf("direction and protocol are required")
		}
		rules = append(rules, schema.FirewallRule{Direction: r.Direction, Protocol: r.Protocol, Port: r.Port,
			Description: r.Description, SourceIPs: append([]string{}, r.SourceIPs...),
			DestinationIPs: append([]string{}, r.DestinationIPs...)})
	}
	return rules, nil
}

// rules reads the rules of a request, or answers that they are invalid.
func (f *fakeAPI) rules(w http.ResponseWriter, body map[string]any) ([]schema.FirewallRule, bool) {
	rules, err := rulesFrom(body)
	if err != nil {
		f.fail(w, 400, "invalid_input", err.Error())
	}
	return rules, err == nil
}

func (f *fakeAPI) createFirewall(w http.ResponseWriter, _ *http.Request, body map[string]any) {
	name := str_(body, "name")
	if f.refuse(w, name == "", 400, "invalid_input", "name is required") {
		return
	}
	if taken(f, w, f.firewalls, func(fw *schema.Firewall) string { return fw.Name }, name, "firewall") {
		return
	}
	rules, ok := f.rules(w, body)
	if !ok {
		return
	}
	fw := &schema.Firewall{ID: f.id(), Name: name, Labels: labelsOf(body), Rules: rules, AppliedTo: []schema.FirewallResource{}}
	f.firewalls[fw.ID] = fw
	f.json(w, 201, schema.FirewallCreateResponse{Firewall: *fw, Actions: []schema.Action{}})
}

func (f *fakeAPI) firewallAction(w http.ResponseWriter, r *http.Request, fw *schema.Firewall, body map[string]any) {
	ref := schema.ActionResourceReference{ID: fw.ID, Type: "firewall"}
	// resources reads the request's list; each answers (and refuses) any resource it returns false for.
	resources := func(key string, each func(schema.FirewallResource) bool) ([]schema.FirewallResource, bool) {
		raw, _ := json.Marshal(body[key])
		var rs []schema.FirewallResource
		if err := json.Unmarshal(raw, &rs); err != nil || len(rs) == 0 {
			f.fail(w, 400, "invalid_input", key+" must list resources")
			return nil, false
		}
		for _, res := range rs {
			if !each(res) {
				return nil, false
			}
		}
		return rs, true
	}
	same := func(a, b schema.FirewallResource) bool {
		return a.Type == b.Type && ((a.Server != nil && b.Server != nil && a.Server.ID == b.Server.ID) ||
			(a.LabelSelector != nil && b.LabelSelector != nil && a.LabelSelector.Selector == b.LabelSelector.Selector))
	}
	applied := func(res schema.FirewallResource) bool {
		return slices.ContainsFunc(fw.AppliedTo, func(x schema.FirewallResource) bool { return same(x, res) })
	}
	switch a := r.PathValue("action"); a {
	case "set_rules":
		if _, ok := body["rules"].([]any); !ok {
			f.fail(w, 400, "invalid_input", "rules must be a list")
			return
		}
		rules, ok := f.rules(w, body)
		if !ok {
			return
		}
		fw.Rules = rules
		f.json(w, 201, schema.FirewallActionSetRulesResponse{Actions: []schema.Action{f.action("set_firewall_rules", ref)}})
	case "apply_to_resources":
		rs, ok := resources("apply_to", func(res schema.FirewallResource) bool {
			if f.refuse(w, applied(res), 422, "firewall_already_applied", "firewall already applied") {
				return false
			}
			if res.Server != nil {
				s, ok := f.servers[res.Server.ID]
				if f.refuse(w, !ok, 422, "firewall_resource_not_found", "server not found") {
					return false
				}
				s.PublicNet.Firewalls = append(s.PublicNet.Firewalls, schema.ServerFirewall{ID: fw.ID, Status: "applied"})
			}
			return true
		})
		if !ok {
			return
		}
		fw.AppliedTo = append(fw.AppliedTo, rs...)
		f.json(w, 201, schema.FirewallActionApplyToResourcesResponse{Actions: []schema.Action{f.action("apply_firewall", ref)}})
	case "remove_from_resources":
		rs, ok := resources("remove_from", func(res schema.FirewallResource) bool {
			return !f.refuse(w, !applied(res), 422, "firewall_already_removed", "firewall not applied there")
		})
		if !ok {
			return
		}
		fw.AppliedTo = slices.DeleteFunc(fw.AppliedTo, func(x schema.FirewallResource) bool {
			return slices.ContainsFunc(rs, func(res schema.FirewallResource) bool { return same(x, res) })
		})
		for _, res := range rs {
			if s := f.servers[func() int64 {
				if res.Server != nil {
					return res.Server.ID
				}
				return 0
			}()]; s != nil {
				s.PublicNet.Firewalls = slices.DeleteFunc(s.PublicNet.Firewalls, func(x schema.ServerFirewall) bool { return x.ID == fw.ID })
			}
		}
		f.json(w, 201, schema.FirewallActionRemoveFromResourcesResponse{Actions: []schema.Action{f.action("remove_firewall", ref)}})
	default:
		f.noAction(w, "firewall", a)
	}
}

// --- volumes --------------------------------------------------------------------------------------------------------

func (f *fakeAPI) createVolume(w http.ResponseWriter, _ *http.Request, body map[string]any) {
	name, loc := str_(body, "name"), ""
	size, _ := body["size"].(float64)
	if l, ok := body["location"].(string); ok {
		loc = l
	}
	var server *schema.Server
	if n, ok := body["server"].(float64); ok {
		if server = f.servers[int64(n)]; server == nil {
			f.fail(w, 422, "invalid_input", "server not found")
			return
		}
		loc = server.Location.Name
	}
	if name == "" || size < 10 || loc == "" {
		f.fail(w, 400, "invalid_input", "name, size (at least 10) and location or server are required")
		return
	}
	if taken(f, w, f.volumes, func(v *schema.Volume) string { return v.Name }, name, "volume") {
		return
	}
	v := &schema.Volume{ID: f.id(), Name: name, Size: int(size), Status: "available", Labels: labelsOf(body),
		Location: schema.Location{ID: 1, Name: loc}}
	if fmt_, ok := body["format"].(string); ok {
		v.Format = &fmt_
	}
	v.LinuxDevice = fmt.Sprintf("/dev/disk/by-id/scsi-0HC_Volume_%d", v.ID)
	f.volumes[v.ID] = v
	ref := schema.ActionResourceReference{ID: v.ID, Type: "volume"}
	resp := schema.VolumeCreateResponse{Volume: *v, Action: hcloudAction(f.action("create_volume", ref)),
		NextActions: []schema.Action{}}
	if server != nil {
		v.Server = &server.ID
		resp.NextActions = append(resp.NextActions, f.action("attach_volume", ref))
	}
	f.json(w, 201, resp)
}

func hcloudAction(a schema.Action) *schema.Action { return &a }

func (f *fakeAPI) volumeAction(w http.ResponseWriter, r *http.Request, v *schema.Volume, body map[string]any) {
	ref := schema.ActionResourceReference{ID: v.ID, Type: "volume"}
	switch a := r.PathValue("action"); a {
	case "attach":
		n, _ := body["server"].(float64)
		s := f.servers[int64(n)]
		switch {
		case s == nil:
			f.fail(w, 422, "invalid_input", "server not found")
			return
		case v.Server != nil:
			f.fail(w, 422, "volume_already_attached", "volume is already attached to a server")
			return
		case s.Location.Name != v.Location.Name:
			f.fail(w, 422, "invalid_input", "server in another location")
			return
		}
		v.Server = &s.ID
		f.json(w, 201, map[string]any{"action": f.action("attach_volume", ref)})
	case "detach":
		v.Server = nil
		f.json(w, 201, map[string]any{"action": f.action("detach_volume", ref)})
	case "resize":
		n, _ := body["size"].(float64)
		if f.refuse(w, int(n) < v.Size, 422, "invalid_input", "volumes cannot shrink") {
			return
		}
		v.Size = int(n)
		f.json(w, 201, map[string]any{"action": f.action("resize_volume", ref)})
	case "change_protection":
		flag(body, "delete", &v.Protection.Delete)
		f.json(w, 201, map[string]any{"action": f.action("change_protection", ref)})
	default:
		f.noAction(w, "volume", a)
	}
}
