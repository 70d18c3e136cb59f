package hcloud

// The fake API's DNS: zones and their record sets, as Hetzner's Cloud API documents them
// (https://docs.hetzner.cloud/reference/cloud#zones, #zone-rrsets): every path takes the zone's ID or its name; a
// new zone comes with the SOA and NS sets the API manages; a record set is unique per name and type in its zone;
// a zone with delete protection and a record set with change protection refuse deletes (and the set refuses
// changes of its records and TTL); deleting a zone deletes its record sets.

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

func (f *fakeAPI) zoneRoutes(route func(string, func(http.ResponseWriter, *http.Request, map[string]any))) {
	route("POST /zones", f.createZone)
	route("GET /zones/{zone}", f.inZone(func(w http.ResponseWriter, _ *http.Request, z *schema.Zone, _ map[string]any) {
		f.json(w, 200, schema.ZoneGetResponse{Zone: *z})
	}))
	route("PUT /zones/{zone}", f.inZone(func(w http.ResponseWriter, _ *http.Request, z *schema.Zone, body map[string]any) {
		if _, ok := body["labels"]; ok {
			z.Labels = labelsOf(body)
		}
		f.json(w, 200, schema.ZoneUpdateResponse{Zone: *z})
	}))
	route("DELETE /zones/{zone}", f.inZone(func(w http.ResponseWriter, _ *http.Request, z *schema.Zone, _ map[string]any) {
		if f.refuse(w, z.Protection.Delete, 423, "protected", "zone is delete protected") {
			return
		}
		delete(f.zones, z.ID)
		delete(f.rrsets, z.ID)
		f.json(w, 201, map[string]any{"action": f.action("delete_zone", zoneRef(z))})
	}))
	route("POST /zones/{zone}/actions/{action}", f.inZone(f.zoneAction))
	route("POST /zones/{zone}/rrsets", f.inZone(f.createRRSet))
	route("GET /zones/{zone}/rrsets/{name}/{type}", f.inRRSet(func(w http.ResponseWriter, _ *http.Request, _ *schema.Zone,
		r *schema.ZoneRRSet, _ map[string]any) {
		f.json(w, 200, schema.ZoneRRSetGetResponse{RRSet: *r})
	}))
	route("PUT /zones/{zone}/rrsets/{name}/{type}", f.inRRSet(func(w http.ResponseWriter, _ *http.Request, _ *schema.Zone,
		r *schema.ZoneRRSet, body map[string]any) {
		if _, ok := body["labels"]; ok {
			r.Labels = labelsOf(body)
		}
		f.json(w, 200, schema.ZoneRRSetUpdateResponse{RRSet: *r})
	}))
	route("DELETE /zones/{zone}/rrsets/{name}/{type}", f.inRRSet(func(w http.ResponseWriter, _ *http.Request, z *schema.Zone,
		r *schema.ZoneRRSet, _ map[string]any) {
		if f.refuse(w, r.Protection.Change, 423, "protected", "rrset is change protected") {
			return
		}
		delete(f.rrsets[z.ID], r.ID)
		f.json(w, 201, map[string]any{"action": f.action("delete_rrset", zoneRef(z))})
	}))
	route("POST /zones/{zone}/rrsets/{name}/{type}/actions/{action}", f.inRRSet(f.rrsetAction))
}

func zoneRef(z *schema.Zone) schema.ActionResourceReference {
	return schema.ActionResourceReference{ID: z.ID, Type: "zone"}
}

// zoneByIDOrName is the zone a path names, by its ID or its name; nil when there is none.
func (f *fakeAPI) zoneByIDOrName(s string) *schema.Zone {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return f.zones[n]
	}
	for _, z := range f.zones {
		if z.Name == s {
			return z
		}
	}
	return nil
}

func (f *fakeAPI) inZone(h func(http.ResponseWriter, *http.Request, *schema.Zone, map[string]any),
) func(http.ResponseWriter, *http.Request, map[string]any) {
	return func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		z := f.zoneByIDOrName(r.PathValue("zone"))
		if f.refuse(w, z == nil, 404, "not_found", "zone not found") {
			return
		}
		h(w, r, z, body)
	}
}

func (f *fakeAPI) inRRSet(h func(http.ResponseWriter, *http.Request, *schema.Zone, *schema.ZoneRRSet, map[string]any),
) func(http.ResponseWriter, *http.Request, map[string]any) {
	return f.inZone(func(w http.ResponseWriter, r *http.Request, z *schema.Zone, body map[string]any) {
		set := f.rrsets[z.ID][r.PathValue("name")+"/"+r.PathValue("type")]
		if f.refuse(w, set == nil, 404, "not_found", "rrset not found") {
			return
		}
		h(w, r, z, set, body)
	})
}

// addZone puts a zone into the fake as the API creates it, with its SOA and NS sets.
func (f *fakeAPI) addZone(name string, ttl int, labels map[string]string) *schema.Zone {
	z := &schema.Zone{ID: f.id(), Name: name, TTL: ttl, Mode: "primary", Labels: labels, Status: "ok",
		Registrar: "other", PrimaryNameservers: []schema.ZonePrimaryNameserver{},
		AuthoritativeNameservers: schema.ZoneAuthoritativeNameservers{
			Assigned: []string{"hydrogen.ns.hetzner.com.", "oxygen.ns.hetzner.com.", "helium.ns.hetzner.de."},
		}}
	f.zones[z.ID] = z
	f.rrsets[z.ID] = map[string]*schema.ZoneRRSet{}
	f.addRRSet(z, "@", "SOA", nil, map[string]string{}, []schema.ZoneRRSetRecord{
		{Value: "hydrogen.ns.hetzner.com. dns.hetzner.com. 2025102101 86400 10800 3600000 3600"}})
	f.addRRSet(z, "@", "NS", nil, map[string]string{}, []schema.ZoneRRSetRecord{
		{Value: "hydrogen.ns.hetzner.com."}, {Value: "oxygen.ns.hetzner.com."}, {Value: "helium.ns.hetzner.de."}})
	return z
}

func (f *fakeAPI) addRRSet(z *schema.Zone, name, typ string, ttl *int, labels map[string]string,
	records []schema.ZoneRRSetRecord,
) *schema.ZoneRRSet {
	r := &schema.ZoneRRSet{ID: name + "/" + typ, Name: name, Type: typ, TTL: ttl, Labels: labels, Records: records, Zone: z.ID}
	f.rrsets[z.ID][r.ID] = r
	return r
}

func (f *fakeAPI) createZone(w http.ResponseWriter, _ *http.Request, body map[string]any) {
	name, mode := str_(body, "name"), str_(body, "mode")
	if f.refuse(w, name == "" || mode != "primary", 400, "invalid_input", "name and mode primary are required") {
		return
	}
	if taken(f, w, f.zones, func(z *schema.Zone) string { return z.Name }, name, "zone") {
		return
	}
	ttl := 3600
	if n, ok := body["ttl"].(float64); ok {
		ttl = int(n)
	}
	z := f.addZone(name, ttl, labelsOf(body))
	f.json(w, 201, schema.ZoneCreateResponse{Zone: *z, Action: f.action("create_zone", zoneRef(z))})
}

func (f *fakeAPI) zoneAction(w http.ResponseWriter, r *http.Request, z *schema.Zone, body map[string]any) {
	switch a := r.PathValue("action"); a {
	case "change_ttl":
		n, ok := body["ttl"].(float64)
		if f.refuse(w, !ok, 400, "invalid_input", "ttl is required") {
			return
		}
		z.TTL = int(n)
		f.json(w, 201, map[string]any{"action": f.action("change_zone_ttl", zoneRef(z))})
	case "change_protection":
		flag(body, "delete", &z.Protection.Delete)
		f.json(w, 201, map[string]any{"action": f.action("change_protection", zoneRef(z))})
	default:
		f.noAction(w, "zone", a)
	}
}

// recordsFrom reads the records of a request: at least one, each with a value, no value twice.
func recordsFrom(body map[string]any) ([]schema.ZoneRRSetRecord, error) {
	list, _ := body["records"].([]any)
	var out []schema.ZoneRRSetRecord
	for _, e := range list {
		m, _ := e.(map[string]any)
		v := str_(m, "value")
		if v == "" || slices.ContainsFunc(out, func(r schema.ZoneRRSetRecord) bool { return r.Value == v }) {
			return nil, fmt.Errorf("invalid record %v", e)
		}
		out = append(out, schema.ZoneRRSetRecord{Value: v, Comment: str_(m, "comment")})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("records must not be empty")
	}
	return out, nil
}

func (f *fakeAPI) createRRSet(w http.ResponseWriter, _ *http.Request, z *schema.Zone, body map[string]any) {
	name, typ := str_(body, "name"), str_(body, "type")
	records, err := recordsFrom(body)
	if f.refuse(w, name == "" || typ == "" || err != nil, 400, "invalid_input", fmt.Sprintf("name, type and records: %v", err)) {
		return
	}
	if f.refuse(w, typ == "SOA", 422, "invalid_input", "the SOA record is managed by the API") {
		return
	}
	if f.refuse(w, f.rrsets[z.ID][name+"/"+typ] != nil, 409, "uniqueness_error", "rrset with the same name and type already exists") {
		return
	}
	var ttl *int
	if n, ok := body["ttl"].(float64); ok {
		t := int(n)
		ttl = &t
	}
	set := f.addRRSet(z, name, typ, ttl, labelsOf(body), records)
	f.json(w, 201, schema.ZoneRRSetCreateResponse{RRSet: *set, Action: f.action("create_rrset", zoneRef(z))})
}

func (f *fakeAPI) rrsetAction(w http.ResponseWriter, r *http.Request, z *schema.Zone, set *schema.ZoneRRSet, body map[string]any) {
	a := r.PathValue("action")
	if a != "change_protection" && f.refuse(w, set.Protection.Change, 423, "protected", "rrset is change protected") {
		return
	}
	switch a {
	case "set_records":
		records, err := recordsFrom(body)
		if f.refuse(w, err != nil, 400, "invalid_input", fmt.Sprint(err)) {
			return
		}
		set.Records = records
		f.json(w, 201, map[string]any{"action": f.action("set_rrset_records", zoneRef(z))})
	case "change_ttl":
		set.TTL = nil
		if n, ok := body["ttl"].(float64); ok {
			t := int(n)
			set.TTL = &t
		}
		f.json(w, 201, map[string]any{"action": f.action("change_rrset_ttl", zoneRef(z))})
	case "change_protection":
		flag(body, "change", &set.Protection.Change)
		f.json(w, 201, map[string]any{"action": f.action("change_rrset_protection", zoneRef(z))})
	default:
		f.noAction(w, "rrset", a)
	}
}
