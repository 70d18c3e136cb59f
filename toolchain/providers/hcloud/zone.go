package hcloud

// Zone and ZoneRrset: Hetzner's DNS, part of the Cloud API (/zones, /zones/{id_or_name}/rrsets), as
// terraform-provider-hcloud internal/zone/resource.go and internal/zonerrset/resource.go (both Plugin Framework
// resources: no "__defaults", a replacement creates first).

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"mailstack/toolchain/providers/internal/base"
)

// zoneDefaultTTL is the schema default of the zone's ttl (internal/zone/resource.go, int32default 3600).
const zoneDefaultTTL = 3600

// zoneKind is hcloud:index/zone:Zone. name and mode replace (RequiresReplace); ttl (change_ttl), deleteProtection
// (change_protection) and labels (PUT, always the last call) update in place, in upstream's order. Its ID is the
// zone's numeric ID; an import takes the ID or the name (ImportState: GetByName). Read of a zone that is gone
// removes it; a delete of a protected zone fails at the API (upstream does not lift the protection).
// Only primary zones: secondary ones need primaryNameservers, which the stack does not use.
type zoneKind struct{ shape }

var zoneShape = shape{
	inputs: fields("name mode!=primary|secondary ttl:int labels:map deleteProtection:bool primaryNameservers:list"),
	rules:  diffRules{replace: []string{"name", "mode"}},
	outputs: []string{"ttl", "labels", "deleteProtection", "primaryNameservers", "authoritativeNameservers",
		"registrar"},
	restored: []string{"name", "mode", "ttl", "labels", "deleteProtection"},
	reader:   reads("zone", func(c *hcloud.Client) getter[hcloud.Zone] { return c.Zone.GetByID }, zoneOutputs),
}

func (zoneKind) check(news, _ resource.PropertyMap) []*pulumirpc.CheckFailure {
	failures := unsupported(news, map[string]resource.PropertyValue{"primaryNameservers": resource.NewNullProperty()})
	if m, ok := base.GetString(news, "mode"); ok && m == "secondary" {
		failures = append(failures, base.Failure("mode", "'mode' secondary is not supported by mailstack's hcloud "+
			"provider (it needs primaryNameservers); use primary"))
	}
	failures = append(failures, validateInt(news, "ttl")...)
	return append(failures, validateLabels(news)...)
}

// diff compares ttl with the schema default filled in on both sides, as a Terraform plan does (an unset ttl is 3600).
func (k zoneKind) diff(olds, news resource.PropertyMap, ignore []string) *pulumirpc.DiffResponse {
	o, n := olds.Copy(), news.Copy()
	for _, pm := range []resource.PropertyMap{o, n} {
		if v := pm["ttl"]; !v.HasValue() || v.IsNull() {
			pm["ttl"] = numV(zoneDefaultTTL)
		}
	}
	return k.shape.diff(o, n, ignore)
}

func zoneOutputs(inputs resource.PropertyMap, z *hcloud.Zone) resource.PropertyMap {
	ns := make([]resource.PropertyValue, 0, len(z.PrimaryNameservers))
	for _, p := range z.PrimaryNameservers {
		ns = append(ns, resource.NewObjectProperty(resource.PropertyMap{
			"address": strV(p.Address), "port": numV(int64(p.Port)),
		}))
	}
	api := resource.PropertyMap{
		"name":                     strV(z.Name),
		"mode":                     strV(string(z.Mode)),
		"ttl":                      numV(int64(z.TTL)),
		"labels":                   labelsV(z.Labels),
		"deleteProtection":         boolV(z.Protection.Delete),
		"primaryNameservers":       resource.NewArrayProperty(ns),
		"authoritativeNameservers": resource.NewObjectProperty(resource.PropertyMap{"assigned": stringsV(z.AuthoritativeNameservers.Assigned)}),
		"registrar":                strV(string(z.Registrar)),
	}
	return mergeOutputs(inputs, api)
}

func (zoneKind) create(ctx context.Context, op *operation, in resource.PropertyMap) (string, resource.PropertyMap, error) {
	ttl := zoneDefaultTTL // the plan's value when unset
	if n, ok := intOf(in, "ttl"); ok {
		ttl = int(n)
	}
	res, _, err := op.client.Zone.Create(ctx, hcloud.ZoneCreateOpts{
		Name: str(in, "name"), Mode: hcloud.ZoneMode(str(in, "mode")), TTL: &ttl, Labels: labels(in),
	})
	if err != nil {
		return "", nil, fmt.Errorf("creating zone %q: %w", str(in, "name"), err)
	}
	id := idString(res.Zone.ID)
	actions := []*hcloud.Action{res.Action}
	if v := base.Plain(in["deleteProtection"]); v.IsBool() {
		on := v.BoolValue()
		a, _, err := op.client.Zone.ChangeProtection(ctx, res.Zone, hcloud.ZoneChangeProtectionOpts{Delete: &on})
		if err != nil {
			return id, nil, fmt.Errorf("setting the delete protection of zone %s: %w", id, err)
		}
		actions = append(actions, a)
	}
	if err := op.wait(ctx, actions...); err != nil {
		return id, nil, fmt.Errorf("creating zone %q (%s): %w", str(in, "name"), id, err)
	}
	outs, err := readBy(ctx, "zone", id, op.client.Zone.GetByID, in, zoneOutputs)
	if err == nil && outs == nil {
		err = fmt.Errorf("zone %s is gone", id)
	}
	return id, outs, err
}

// update follows internal/zone/resource.go Update: change_ttl, change_protection (waited for), then the PUT,
// always made, with the labels only when they changed.
func (zoneKind) update(ctx context.Context, op *operation, id string, olds, _, news resource.PropertyMap) (resource.PropertyMap, error) {
	n, err := parseID("zone", id)
	if err != nil {
		return nil, err
	}
	z := &hcloud.Zone{ID: n}
	var actions []*hcloud.Action
	oldTTL, newTTL := int64(zoneDefaultTTL), int64(zoneDefaultTTL)
	if v, ok := intOf(olds, "ttl"); ok {
		oldTTL = v
	}
	if v, ok := intOf(news, "ttl"); ok {
		newTTL = v
	}
	if newTTL != oldTTL {
		a, _, err := op.client.Zone.ChangeTTL(ctx, z, hcloud.ZoneChangeTTLOpts{TTL: int(newTTL)})
		if err != nil {
			return nil, fmt.Errorf("changing the TTL of zone %s: %w", id, err)
		}
		actions = append(actions, a)
	}
	if v := base.Plain(news["deleteProtection"]); v.IsBool() && v.BoolValue() != base.GetBool(olds, "deleteProtection", false) {
		on := v.BoolValue()
		a, _, err := op.client.Zone.ChangeProtection(ctx, z, hcloud.ZoneChangeProtectionOpts{Delete: &on})
		if err != nil {
			return nil, fmt.Errorf("changing the delete protection of zone %s: %w", id, err)
		}
		actions = append(actions, a)
	}
	if err := op.wait(ctx, actions...); err != nil {
		return nil, fmt.Errorf("updating zone %s: %w", id, err)
	}
	opts := hcloud.ZoneUpdateOpts{}
	if !labelsV(labels(olds)).DeepEquals(labelsV(labels(news))) {
		opts.Labels = labels(news)
	}
	updated, _, err := op.client.Zone.Update(ctx, z, opts)
	if err != nil {
		return nil, fmt.Errorf("updating zone %s: %w", id, err)
	}
	return zoneOutputs(news, updated), nil
}

func (zoneKind) delete(ctx context.Context, op *operation, id string, _ resource.PropertyMap) error {
	n, err := parseID("zone", id)
	if err != nil {
		return err
	}
	res, _, err := op.client.Zone.Delete(ctx, &hcloud.Zone{ID: n})
	if err != nil {
		if notFound(err) {
			return nil
		}
		return fmt.Errorf("deleting zone %s: %w", id, err)
	}
	if err := op.wait(ctx, res.Action); err != nil {
		return fmt.Errorf("deleting zone %s: %w", id, err)
	}
	return nil
}

// resolveImport turns the import ID of a zone (its ID or its name, ImportState) into the numeric ID.
func (zoneKind) resolveImport(ctx context.Context, op *operation, id string) (string, resource.PropertyMap, error) {
	if _, err := strconv.ParseInt(id, 10, 64); err == nil {
		return id, nil, nil
	}
	z, _, err := op.client.Zone.GetByName(ctx, id)
	if err != nil {
		return "", nil, fmt.Errorf("reading zone %q: %w", id, err)
	}
	if z == nil {
		return "", nil, fmt.Errorf("zone with name %q not found", id)
	}
	return idString(z.ID), nil, nil
}

// zoneRrsetKind is hcloud:index/zoneRrset:ZoneRrset: one name and type in a zone, which the zone input names by ID
// or by name, whichever was given (the API's paths take both). Its ID is the API's "NAME/TYPE"; the zone stays in
// the state. zone, name and type replace (RequiresReplace); ttl (change_ttl), records (set_records: the whole set,
// compared without order), labels (PUT, always the last call) and changeProtection (lifted before the other
// changes, set after them) update in place, in upstream's order. A record set that is gone, or whose zone is gone,
// is removed on Read; a delete of one that is gone is no error. Import: "ZONE/NAME/TYPE".
// SOA sets are not supported (upstream imports and forgets them instead of creating and deleting: the API owns
// them); the stack never declares one.
type zoneRrsetKind struct{ shape }

var zoneRrsetShape = shape{
	inputs: fields("zone! name type! ttl:int labels:map changeProtection:bool records:list!"),
	rules: diffRules{replace: []string{"zone", "name", "type"},
		normal: map[string]func(resource.PropertyValue) resource.PropertyValue{"records": sortedSet}},
	outputs:  []string{"labels", "changeProtection"},
	restored: []string{"zone", "name", "type", "ttl", "labels", "changeProtection", "records"},
}

var recordSpec = base.Spec{"value": {Kind: base.String, Required: true}, "comment": {Kind: base.String}}

func (zoneRrsetKind) check(news, _ resource.PropertyMap) []*pulumirpc.CheckFailure {
	var failures []*pulumirpc.CheckFailure
	failures = append(failures, validateObjects(news, "records", recordSpec)...)
	if v := base.Plain(news["records"]); v.IsArray() && len(v.ArrayValue()) == 0 {
		// listvalidator.SizeAtLeast(1)'s text
		failures = append(failures, base.Failure("records", "Attribute records list must contain at least 1 elements, got: 0"))
	}
	if t, ok := base.GetString(news, "type"); ok && t == string(hcloud.ZoneRRSetTypeSOA) {
		failures = append(failures, base.Failure("type", "'type' SOA is not supported by mailstack's hcloud provider: "+
			"the API manages the SOA record"))
	}
	if z, ok := base.GetString(news, "zone"); ok && z == "" {
		failures = append(failures, base.Failure("zone", "'zone' must not be empty"))
	}
	failures = append(failures, validateInt(news, "ttl")...)
	return append(failures, validateLabels(news)...)
}

// rrsetOf is the API's handle of a record set: the zone as the input gave it (ID or name) and "NAME/TYPE".
func rrsetOf(zone, id string) *hcloud.ZoneRRSet {
	return &hcloud.ZoneRRSet{Zone: &hcloud.Zone{Name: zone}, ID: id}
}

func recordsOf(pm resource.PropertyMap) []hcloud.ZoneRRSetRecord {
	out := []hcloud.ZoneRRSetRecord{}
	if v := base.Plain(pm["records"]); v.IsArray() {
		for _, e := range v.ArrayValue() {
			if e.IsObject() {
				r := e.ObjectValue()
				out = append(out, hcloud.ZoneRRSetRecord{Value: str(r, "value"), Comment: str(r, "comment")})
			}
		}
	}
	return out
}

func rrsetOutputs(inputs resource.PropertyMap, zone string, r *hcloud.ZoneRRSet) resource.PropertyMap {
	records := make([]resource.PropertyValue, 0, len(r.Records))
	for _, rec := range r.Records {
		pm := resource.PropertyMap{"value": strV(rec.Value)}
		if rec.Comment != "" {
			pm["comment"] = strV(rec.Comment)
		}
		records = append(records, resource.NewObjectProperty(pm))
	}
	api := resource.PropertyMap{
		"zone":             strV(zone),
		"name":             strV(r.Name),
		"type":             strV(string(r.Type)),
		"ttl":              resource.NewNullProperty(),
		"labels":           labelsV(r.Labels),
		"changeProtection": boolV(r.Protection.Change),
		"records":          resource.NewArrayProperty(records),
	}
	if r.TTL != nil {
		api["ttl"] = numV(int64(*r.TTL))
	}
	outs := mergeOutputs(inputs, api)
	if outs["ttl"].IsNull() {
		delete(outs, "ttl")
	}
	return outs
}

func (zoneRrsetKind) create(ctx context.Context, op *operation, in resource.PropertyMap) (string, resource.PropertyMap, error) {
	zone := str(in, "zone")
	opts := hcloud.ZoneRRSetCreateOpts{
		Name: str(in, "name"), Type: hcloud.ZoneRRSetType(str(in, "type")), Labels: labels(in), Records: recordsOf(in),
	}
	if n, ok := intOf(in, "ttl"); ok {
		opts.TTL = hcloud.Ptr(int(n))
	}
	what := fmt.Sprintf("record set %s %s in zone %s", opts.Name, opts.Type, zone)
	res, _, err := op.client.Zone.CreateRRSet(ctx, &hcloud.Zone{Name: zone}, opts)
	if err != nil {
		return "", nil, fmt.Errorf("creating %s: %w", what, err)
	}
	id := res.RRSet.ID
	actions := []*hcloud.Action{res.Action}
	if v := base.Plain(in["changeProtection"]); v.IsBool() {
		on := v.BoolValue()
		a, _, err := op.client.Zone.ChangeRRSetProtection(ctx, rrsetOf(zone, id), hcloud.ZoneRRSetChangeProtectionOpts{Change: &on})
		if err != nil {
			return id, nil, fmt.Errorf("setting the change protection of %s: %w", what, err)
		}
		actions = append(actions, a)
	}
	if err := op.wait(ctx, actions...); err != nil {
		return id, nil, fmt.Errorf("creating %s: %w", what, err)
	}
	outs, err := readRrset(ctx, op, zone, id, in)
	if err == nil && outs == nil {
		err = fmt.Errorf("%s is gone", what)
	}
	return id, outs, err
}

func readRrset(ctx context.Context, op *operation, zone, id string, inputs resource.PropertyMap) (resource.PropertyMap, error) {
	r, _, err := op.client.Zone.GetRRSetByID(ctx, &hcloud.Zone{Name: zone}, id)
	if err != nil {
		return nil, fmt.Errorf("reading record set %s in zone %s: %w", id, zone, err)
	}
	if r == nil {
		return nil, nil
	}
	return rrsetOutputs(inputs, zone, r), nil
}

// read takes the zone from the inputs or the state; an import's ID is "ZONE/NAME/TYPE" (see resolveImport).
func (zoneRrsetKind) read(ctx context.Context, op *operation, id string, inputs, state resource.PropertyMap) (resource.PropertyMap, error) {
	zone := str(inputs, "zone")
	if zone == "" {
		zone = str(state, "zone")
	}
	if zone == "" {
		return nil, fmt.Errorf("record set %s: no zone in the state", id)
	}
	return readRrset(ctx, op, zone, id, inputs)
}

// resolveImport splits "ZONE/NAME/TYPE" as ImportState does: the zone into the state, "NAME/TYPE" the ID.
func (zoneRrsetKind) resolveImport(_ context.Context, _ *operation, id string) (string, resource.PropertyMap, error) {
	zone, rrsetID, ok := strings.Cut(id, "/")
	if !ok || zone == "" || !strings.Contains(rrsetID, "/") {
		return "", nil, fmt.Errorf("invalid import ID %q: expected $ZONE_ID_OR_NAME/$RRSET_NAME/$RRSET_TYPE", id)
	}
	return rrsetID, resource.PropertyMap{"zone": strV(zone)}, nil
}

// update follows internal/zonerrset/resource.go Update: the change protection lifted first (waited for), then
// change_ttl and set_records (waited for), the PUT (always made, labels only when they changed), and the change
// protection set last.
func (zoneRrsetKind) update(ctx context.Context, op *operation, id string, olds, _, news resource.PropertyMap) (resource.PropertyMap, error) {
	zone := str(olds, "zone")
	h := rrsetOf(zone, id)
	what := fmt.Sprintf("record set %s in zone %s", id, zone)
	newProt := base.Plain(news["changeProtection"])
	protChanged := newProt.IsBool() && newProt.BoolValue() != base.GetBool(olds, "changeProtection", false)
	if protChanged && !newProt.BoolValue() {
		if err := op.act(ctx, "lifting the change protection of "+what, func() (*hcloud.Action, *hcloud.Response, error) {
			return op.client.Zone.ChangeRRSetProtection(ctx, h, hcloud.ZoneRRSetChangeProtectionOpts{Change: hcloud.Ptr(false)})
		}); err != nil {
			return nil, err
		}
	}
	var actions []*hcloud.Action
	oldTTL, oldSet := intOf(olds, "ttl")
	newTTL, newSet := intOf(news, "ttl")
	if oldTTL != newTTL || oldSet != newSet {
		opts := hcloud.ZoneRRSetChangeTTLOpts{}
		if newSet {
			opts.TTL = hcloud.Ptr(int(newTTL))
		}
		a, _, err := op.client.Zone.ChangeRRSetTTL(ctx, h, opts)
		if err != nil {
			return nil, fmt.Errorf("changing the TTL of %s: %w", what, err)
		}
		actions = append(actions, a)
	}
	if !sortedSet(base.Plain(olds["records"])).DeepEquals(sortedSet(base.Plain(news["records"]))) {
		a, _, err := op.client.Zone.SetRRSetRecords(ctx, h, hcloud.ZoneRRSetSetRecordsOpts{Records: recordsOf(news)})
		if err != nil {
			return nil, fmt.Errorf("setting the records of %s: %w", what, err)
		}
		actions = append(actions, a)
	}
	if err := op.wait(ctx, actions...); err != nil {
		return nil, fmt.Errorf("updating %s: %w", what, err)
	}
	opts := hcloud.ZoneRRSetUpdateOpts{}
	if !labelsV(labels(olds)).DeepEquals(labelsV(labels(news))) {
		opts.Labels = labels(news)
	}
	updated, _, err := op.client.Zone.UpdateRRSet(ctx, h, opts)
	if err != nil {
		return nil, fmt.Errorf("updating %s: %w", what, err)
	}
	if protChanged && newProt.BoolValue() {
		if err := op.act(ctx, "setting the change protection of "+what, func() (*hcloud.Action, *hcloud.Response, error) {
			return op.client.Zone.ChangeRRSetProtection(ctx, h, hcloud.ZoneRRSetChangeProtectionOpts{Change: hcloud.Ptr(true)})
		}); err != nil {
			return nil, err
		}
		updated.Protection.Change = true
	}
	return rrsetOutputs(news, zone, updated), nil
}

func (zoneRrsetKind) delete(ctx context.Context, op *operation, id string, state resource.PropertyMap) error {
	zone := str(state, "zone")
	res, _, err := op.client.Zone.DeleteRRSet(ctx, rrsetOf(zone, id))
	if err != nil {
		if notFound(err) {
			return nil
		}
		return fmt.Errorf("deleting record set %s in zone %s: %w", id, zone, err)
	}
	if err := op.wait(ctx, res.Action); err != nil {
		return fmt.Errorf("deleting record set %s in zone %s: %w", id, zone, err)
	}
	return nil
}
