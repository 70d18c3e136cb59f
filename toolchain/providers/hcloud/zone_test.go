package hcloud

import (
	"strings"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func records(values ...string) []any {
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = map[string]any{"value": v}
	}
	return out
}

// terraform-provider-hcloud internal/zone/resource.go (Plugin Framework): name and mode RequiresReplace (create
// first: the bridge never deletes first for PF resources); ttl (default 3600) through change_ttl,
// delete_protection through change_protection, then the PUT of the labels, always made; Read removes a zone that
// is gone; Delete does not lift the protection; ImportState takes the ID or the name.
func TestZone(t *testing.T) {
	h := newHarness(t)
	urn := urnOf(zoneType, "example.org")
	in := h.mustCheck(urn, props(map[string]any{"name": "example.org", "mode": "primary",
		"labels": map[string]any{"managed-by": "mailstack"}}))
	if _, ok := in[defaultsKey]; ok {
		t.Error("a Plugin Framework resource got __defaults")
	}

	// A preview never calls the API.
	h.api.reset()
	_, pre, err := h.create(urn, in, true)
	if err != nil || len(h.api.reqs()) != 0 {
		t.Fatalf("preview: %v, %v", err, h.api.calls())
	}
	wantUnknown(t, pre, "ttl", "authoritativeNameservers", "registrar")

	id, outs := h.mustCreate(urn, in)
	wantNumericID(t, "zone", id)
	wantBody(t, "create", h.api.one("POST", "/zones"), map[string]any{"name": "example.org", "mode": "primary",
		"ttl": float64(3600), "labels": map[string]any{"managed-by": "mailstack"}})
	if !get(outs, "ttl").DeepEquals(numV(3600)) || !get(outs, "deleteProtection").DeepEquals(boolV(false)) {
		t.Errorf("outputs %v", outs)
	}
	if ns := get(outs, "authoritativeNameservers"); !ns.IsObject() || len(ns.ObjectValue()["assigned"].ArrayValue()) != 3 {
		t.Errorf("authoritativeNameservers %v", ns)
	}
	// the API made the SOA and NS sets
	if len(h.api.rrsets[mustID(t, id)]) != 2 {
		t.Errorf("record sets of a new zone: %v", h.api.rrsets[mustID(t, id)])
	}

	h.wantChanges(urn, id, in, outs, []change{
		{"name", "example.net", true, false}, {"mode", "secondary", true, false},
		{"ttl", 300, false, false}, {"deleteProtection", true, false, false},
	})
	// an unset ttl is the default: no change
	with := in.Copy()
	with["ttl"] = resource.NewPropertyValue(3600)
	wantDiff(t, "ttl 3600 = unset", h.diff(urn, id, in, outs, with), nil, nil, false)

	news := in.Copy()
	news["ttl"] = resource.NewPropertyValue(600)
	news["deleteProtection"] = boolV(true)
	news["labels"] = resource.NewPropertyValue(map[string]any{"managed-by": "mailstack", "x": "y"})
	h.api.reset()
	upd := h.mustUpdate(urn, id, in, outs, news)
	wantCalls(t, "update", h.api.calls(), []string{"POST /zones/" + id + "/actions/change_ttl",
		"POST /zones/" + id + "/actions/change_protection", "PUT /zones/" + id})
	if !get(upd, "ttl").DeepEquals(numV(600)) || !get(upd, "deleteProtection").DeepEquals(boolV(true)) {
		t.Errorf("after the update: %v", upd)
	}

	// Import by name: the numeric ID.
	gotID, imported, _ := h.read(urn, "example.org", resource.PropertyMap{}, nil)
	if gotID != id {
		t.Errorf("import by name: ID %q, want %q", gotID, id)
	}
	wantString(t, imported, "name", "example.org")
	if gotID, _, _ := h.read(urn, id, resource.PropertyMap{}, nil); gotID != id {
		t.Errorf("import by ID: %q", gotID)
	}

	// Protected: the delete fails at the API (upstream does not lift it).
	if err := h.delete(urn, id, upd); err == nil || !strings.Contains(errMessage(err), "protected") {
		t.Errorf("delete of a protected zone: %v", err)
	}
	unprotect := news.Copy()
	unprotect["deleteProtection"] = boolV(false)
	upd = h.mustUpdate(urn, id, news, upd, unprotect)
	h.mustDelete(urn, id, upd)
	if len(h.api.zones) != 0 || len(h.api.rrsets) != 0 {
		t.Errorf("left after delete: %v %v", h.api.zones, h.api.rrsets)
	}
	if gotID, _, _ := h.read(urn, id, upd, unprotect); gotID != "" {
		t.Errorf("read of a deleted zone: %q, want gone", gotID)
	}
	h.mustDelete(urn, id, upd) // gone: no error

	// A second zone of the same name is refused by the API.
	h.mustCreate(urn, in)
	if _, _, err := h.create(urn, in, false); err == nil || !strings.Contains(errMessage(err), "uniqueness_error") {
		t.Errorf("a zone created twice: %v", err)
	}

	if _, failures := h.check(urn, props(map[string]any{"name": "x.example", "mode": "secondary"}), nil); len(failures) == 0 {
		t.Error("secondary zones are not supported, Check passed")
	}
}

// internal/zonerrset/resource.go (Plugin Framework): zone, name and type RequiresReplace (create first); ttl
// through change_ttl, records through set_records (the whole set), the PUT last (always), change_protection
// lifted first and set last; the ID is the API's "NAME/TYPE", the zone taken as given (ID or name); Read removes a
// set that is gone; Delete of a gone set is no error; ImportState "ZONE/NAME/TYPE". Records compare as a set
// (internal/zonerrset/model.go: Records types.Set).
func TestZoneRrset(t *testing.T) {
	h := newHarness(t)
	h.api.mu.Lock()
	z := h.api.addZone("example.org", 3600, map[string]string{})
	h.api.mu.Unlock()
	urn := urnOf(zoneRrsetType, "mx")
	in := h.mustCheck(urn, props(map[string]any{"zone": "example.org", "name": "@", "type": "MX", "ttl": 300,
		"records": records("10 mail.example.org."), "labels": map[string]any{"managed-by": "mailstack"}}))

	h.api.reset()
	_, pre, err := h.create(urn, in, true)
	if err != nil || len(h.api.reqs()) != 0 {
		t.Fatalf("preview: %v, %v", err, h.api.calls())
	}
	wantUnknown(t, pre, "changeProtection")

	id, outs := h.mustCreate(urn, in)
	if id != "@/MX" {
		t.Errorf("ID %q, want @/MX", id)
	}
	wantBody(t, "create", h.api.one("POST", "/zones/example.org/rrsets"), map[string]any{"name": "@", "type": "MX",
		"ttl": float64(300), "records": records("10 mail.example.org."), "labels": map[string]any{"managed-by": "mailstack"}})
	wantString(t, outs, "zone", "example.org")
	if !get(outs, "ttl").DeepEquals(numV(300)) || !get(outs, "changeProtection").DeepEquals(boolV(false)) {
		t.Errorf("outputs %v", outs)
	}

	h.wantChanges(urn, id, in, outs, []change{
		{"zone", "example.net", true, false}, {"name", "www", true, false}, {"type", "TXT", true, false},
		{"ttl", 600, false, false}, {"records", records("20 mx.example.org."), false, false},
		{"changeProtection", true, false, false},
	})
	two := in.Copy()
	two["records"] = resource.NewPropertyValue(records("10 a.example.org.", "20 b.example.org."))
	swapped := in.Copy()
	swapped["records"] = resource.NewPropertyValue(records("20 b.example.org.", "10 a.example.org."))
	wantDiff(t, "records in another order", h.diff(urn, id, two, outs, swapped), nil, nil, false)

	// records and ttl: set_records and change_ttl, then the PUT; an unset ttl goes back to the zone's (null).
	news := in.Copy()
	news["records"] = resource.NewPropertyValue(records("10 mail.example.org.", "20 backup.example.org."))
	delete(news, "ttl")
	h.api.reset()
	upd := h.mustUpdate(urn, id, in, outs, news)
	wantCalls(t, "update", h.api.calls(), []string{"POST /zones/example.org/rrsets/@/MX/actions/change_ttl",
		"POST /zones/example.org/rrsets/@/MX/actions/set_records", "PUT /zones/example.org/rrsets/@/MX"})
	if body := h.api.one("POST", "/zones/example.org/rrsets/@/MX/actions/change_ttl"); body["ttl"] != nil {
		t.Errorf("change_ttl to the zone's: %v", body)
	}
	if _, ok := upd["ttl"]; ok {
		t.Errorf("ttl output after it was unset: %v", upd["ttl"])
	}
	if n := len(get(upd, "records").ArrayValue()); n != 2 {
		t.Errorf("records after the update: %v", get(upd, "records"))
	}

	// Protected: lifted first, before the other changes; set last.
	prot := news.Copy()
	prot["changeProtection"] = boolV(true)
	h.api.reset()
	upd = h.mustUpdate(urn, id, news, upd, prot)
	wantCalls(t, "protect", h.api.calls(), []string{"PUT /zones/example.org/rrsets/@/MX",
		"POST /zones/example.org/rrsets/@/MX/actions/change_protection"})
	unprot := prot.Copy()
	unprot["changeProtection"] = boolV(false)
	unprot["records"] = resource.NewPropertyValue(records("10 mail.example.org."))
	h.api.reset()
	upd = h.mustUpdate(urn, id, prot, upd, unprot)
	wantCalls(t, "unprotect", h.api.calls(), []string{"POST /zones/example.org/rrsets/@/MX/actions/change_protection",
		"POST /zones/example.org/rrsets/@/MX/actions/set_records", "PUT /zones/example.org/rrsets/@/MX"})

	// The zone by ID works the same (the API's paths take both).
	byID := urnOf(zoneRrsetType, "a")
	aIn := h.mustCheck(byID, props(map[string]any{"zone": idString(z.ID), "name": "mail", "type": "A",
		"records": records("192.0.2.10")}))
	aID, aOuts := h.mustCreate(byID, aIn)
	if _, ok := h.api.rrsets[z.ID]["mail/A"]; !ok || aID != "mail/A" {
		t.Errorf("record set by zone ID: %q %v", aID, h.api.rrsets[z.ID])
	}
	if gotID, _, _ := h.read(byID, aID, aOuts, aIn); gotID != aID {
		t.Errorf("read by zone ID: %q", gotID)
	}

	// A set that already exists (someone else's) is never taken over: the create fails.
	if _, _, err := h.create(urn, in, false); err == nil || !strings.Contains(errMessage(err), "uniqueness_error") {
		t.Errorf("a record set created twice: %v", err)
	}

	// Import "ZONE/NAME/TYPE".
	gotID, imported, importedIn := h.read(urn, "example.org/@/MX", resource.PropertyMap{}, nil)
	if gotID != "@/MX" {
		t.Errorf("import: ID %q", gotID)
	}
	wantString(t, imported, "zone", "example.org")
	wantString(t, importedIn, "type", "MX")

	// Gone behind our back: Read removes it, Delete is no error.
	h.api.mu.Lock()
	delete(h.api.rrsets[z.ID], "@/MX")
	h.api.mu.Unlock()
	if gotID, _, _ := h.read(urn, id, upd, unprot); gotID != "" {
		t.Errorf("read of a deleted set: %q, want gone", gotID)
	}
	h.mustDelete(urn, id, upd)
	h.mustDelete(byID, aID, aOuts)
	if _, ok := h.api.rrsets[z.ID]["mail/A"]; ok {
		t.Error("the A set is still there")
	}

	for _, bad := range []map[string]any{
		{"zone": "example.org", "name": "x", "type": "A", "records": []any{}},
		{"zone": "example.org", "name": "@", "type": "SOA", "records": records("a b 1 2 3 4 5")},
		{"zone": "example.org", "name": "x", "type": "A", "records": []any{map[string]any{"comment": "no value"}}},
	} {
		if _, failures := h.check(urn, props(bad), nil); len(failures) == 0 {
			t.Errorf("Check passed %v", bad)
		}
	}
}

// The stack's record sets in an adopted zone (one it did not create): a foreign set there (the company's www) is
// never read, changed nor deleted, and deleting the stack's sets leaves the zone and the foreign set as they were.
func TestZoneRrsetForeignSetLeftAlone(t *testing.T) {
	h := newHarness(t)
	h.api.mu.Lock()
	z := h.api.addZone("example.net", 3600, map[string]string{})
	www := h.api.addRRSet(z, "www", "A", nil, map[string]string{}, []schema.ZoneRRSetRecord{{Value: "198.51.100.7"}})
	h.api.mu.Unlock()
	type made struct {
		urn, id string
		in, out resource.PropertyMap
	}
	var sets []made
	for _, s := range []struct{ name, typ, value string }{
		{"@", "MX", "10 mail.example.org."}, {"@", "TXT", `"v=spf1 mx -all"`}, {"autoconfig", "A", "192.0.2.10"},
	} {
		urn := urnOf(zoneRrsetType, s.name+"-"+s.typ)
		in := h.mustCheck(urn, props(map[string]any{"zone": "example.net", "name": s.name, "type": s.typ, "ttl": 300,
			"records": records(s.value)}))
		id, out := h.mustCreate(urn, in)
		sets = append(sets, made{urn, id, in, out})
	}
	news := sets[1].in.Copy()
	news["records"] = resource.NewPropertyValue(records(`"v=spf1 mx ip4:192.0.2.10 -all"`))
	h.mustUpdate(sets[1].urn, sets[1].id, sets[1].in, sets[1].out, news)
	for _, s := range sets {
		h.mustDelete(s.urn, s.id, s.out)
	}
	for _, r := range h.api.reqs() {
		if strings.Contains(r.Path, "/www/") || (r.Method == "DELETE" && !strings.Contains(r.Path, "/rrsets/")) {
			t.Errorf("touched what is not the stack's: %s %s", r.Method, r.Path)
		}
	}
	h.api.mu.Lock()
	defer h.api.mu.Unlock()
	left := h.api.rrsets[z.ID]
	if h.api.zones[z.ID] == nil || left["www/A"] != www || len(left) != 3 { // SOA, NS, www
		t.Errorf("after the stack's sets went: zone %v, sets %v", h.api.zones[z.ID], left)
	}
	if www.Records[0].Value != "198.51.100.7" {
		t.Errorf("the foreign set changed: %v", www.Records)
	}
}
