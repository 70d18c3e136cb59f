package hcloud

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"mailstack/toolchain/providers/internal/base"
)

// serverKind is hcloud:index/server:Server.
//
// As in the real provider: image, location, datacenter, sshKeys and userData replace (the API cannot change
// them; userData is compared without surrounding whitespace); name and labels update in place; serverType
// updates in place by a resize (power off, change type, upgrading the disk unless keepDisk, power on again), as
// the real provider does. publicNets: swapping the primary IP of IPv4 or IPv6 for another one updates in place
// (power off, unassign, assign, power on); turning IPv4 or IPv6 on or off, or dropping a pinned primary IP,
// replaces the server.
type serverKind struct{}

var publicNetSpec = base.Spec{
	"ipv4Enabled": {Kind: base.Bool},
	"ipv4":        {Kind: base.Int},
	"ipv6Enabled": {Kind: base.Bool},
	"ipv6":        {Kind: base.Int},
}

func (serverKind) spec() base.Spec {
	return base.Spec{
		"name":                    {Kind: base.String},
		"serverType":              {Kind: base.String, Required: true},
		"image":                   {Kind: base.String},
		"location":                {Kind: base.String},
		"datacenter":              {Kind: base.String},
		"sshKeys":                 {Kind: base.StringArray},
		"publicNets":              {Kind: base.Array},
		"labels":                  {Kind: base.StringMap},
		"userData":                {Kind: base.String},
		"keepDisk":                {Kind: base.Bool},
		"allowDeprecatedImages":   {Kind: base.Bool},
		"ignoreRemoteFirewallIds": {Kind: base.Bool},
		// Not implemented: only their defaults pass Check.
		"backups":                {Kind: base.Bool},
		"deleteProtection":       {Kind: base.Bool},
		"rebuildProtection":      {Kind: base.Bool},
		"shutdownBeforeDeletion": {Kind: base.Bool},
		"networks":               {Kind: base.Array},
		"firewallIds":            {Kind: base.Array},
		"placementGroupId":       {Kind: base.Int},
		"iso":                    {Kind: base.String},
		"rescue":                 {Kind: base.String},
	}
}

func (serverKind) check(news, _ resource.PropertyMap) []*pulumirpc.CheckFailure {
	for _, k := range []string{"keepDisk", "allowDeprecatedImages", "ignoreRemoteFirewallIds", "backups",
		"deleteProtection", "rebuildProtection", "shutdownBeforeDeletion"} {
		base.SetDefault(news, k, boolV(false))
	}
	failures := unsupported(news, map[string]resource.PropertyValue{
		"backups": boolV(false), "deleteProtection": boolV(false), "rebuildProtection": boolV(false),
		"shutdownBeforeDeletion": boolV(false), "networks": resource.NewNullProperty(),
		"firewallIds": resource.NewNullProperty(), "placementGroupId": resource.NewNullProperty(),
		"iso": resource.NewNullProperty(), "rescue": resource.NewNullProperty(),
	})
	if v := news["datacenter"]; !v.IsNull() {
		failures = append(failures, base.Failure("datacenter",
			"'datacenter' is not supported by mailstack's hcloud provider (Hetzner deprecated datacenters): use 'location'"))
	}
	if v := news["image"]; v.IsNull() {
		failures = append(failures, base.Failure("image",
			"missing required property 'image' (mailstack's hcloud provider creates servers from an image)"))
	}
	for i, s := range stringList(news, "sshKeys") {
		if s == "" {
			failures = append(failures, base.Failure(fmt.Sprintf("sshKeys[%d]", i),
				"'sshKeys[%d]' is empty: pass an SSH key ID or name", i))
		}
	}
	failures = append(failures, validateLabels(news)...)

	// publicNets: one entry, defaults made explicit as the real provider does (both families on).
	pn := base.Plain(news["publicNets"])
	if !pn.IsArray() {
		return failures
	}
	failures = append(failures, validateObjects(news, "publicNets", publicNetSpec)...)
	if len(pn.ArrayValue()) > 1 {
		failures = append(failures, base.Failure("publicNets", "'publicNets' takes at most one entry"))
	}
	if v := news["publicNets"]; v.IsArray() { // not secret: defaults can be added in place
		arr := slices.Clone(v.ArrayValue())
		for i, e := range arr {
			if e.IsObject() {
				m := e.ObjectValue().Copy()
				base.SetDefault(m, "ipv4Enabled", boolV(true))
				base.SetDefault(m, "ipv6Enabled", boolV(true))
				arr[i] = resource.NewObjectProperty(m)
				for _, fam := range []string{"ipv4", "ipv6"} {
					if _, set := intOf(m, fam); set && !base.GetBool(m, fam+"Enabled", true) {
						failures = append(failures, base.Failure(fmt.Sprintf("publicNets[%d].%s", i, fam),
							"'publicNets[%d]': %s is set but %sEnabled is false", i, fam, fam))
					}
				}
				if v4, v6 := m["ipv4Enabled"], m["ipv6Enabled"]; v4.IsBool() && v6.IsBool() && !v4.BoolValue() && !v6.BoolValue() {
					failures = append(failures, base.Failure(fmt.Sprintf("publicNets[%d]", i),
						"'publicNets[%d]' turns off both IPv4 and IPv6: a server without public network needs a "+
							"private network, which mailstack's hcloud provider does not support", i))
				}
			}
		}
		news["publicNets"] = resource.NewArrayProperty(arr)
	}
	return failures
}

// publicNet is the public network an input asks for. IDs are 0 when the API chooses the address.
type publicNet struct {
	v4, v6               bool
	v4ID, v6ID           int64
	v4Unknown, v6Unknown bool // the primary IP's ID is not known yet (preview)
	flagsUnknown         bool
}

func publicNetOf(pm resource.PropertyMap) publicNet {
	pn := publicNet{v4: true, v6: true}
	v := base.Plain(pm["publicNets"])
	if v.IsComputed() || v.IsOutput() {
		pn.flagsUnknown = true
		return pn
	}
	if !v.IsArray() || len(v.ArrayValue()) == 0 {
		return pn
	}
	e := v.ArrayValue()[0]
	if !e.IsObject() {
		pn.flagsUnknown = true
		return pn
	}
	m := e.ObjectValue()
	flag := func(key string) bool {
		f := m[resource.PropertyKey(key)]
		if f.IsComputed() || f.IsOutput() {
			pn.flagsUnknown = true
		}
		return !f.IsBool() || f.BoolValue()
	}
	pn.v4, pn.v6 = flag("ipv4Enabled"), flag("ipv6Enabled")
	pn.v4ID, _ = intOf(m, "ipv4")
	pn.v6ID, _ = intOf(m, "ipv6")
	pn.v4Unknown = m["ipv4"].ContainsUnknowns()
	pn.v6Unknown = m["ipv6"].ContainsUnknowns()
	if pn.v4ID != 0 {
		pn.v4 = true
	}
	if pn.v6ID != 0 {
		pn.v6 = true
	}
	return pn
}

// publicNetReplaces says whether going from o to n needs a new server (see serverKind).
func publicNetReplaces(o, n publicNet) bool {
	switch {
	case n.flagsUnknown || o.v4 != n.v4 || o.v6 != n.v6:
		return true
	case !n.v4Unknown && n.v4ID == 0 && o.v4ID != 0:
		return true
	case !n.v6Unknown && n.v6ID == 0 && o.v6ID != 0:
		return true
	}
	return false
}

func (serverKind) diff(olds, news resource.PropertyMap, ignore []string) *pulumirpc.DiffResponse {
	o, n := publicNetOf(olds), publicNetOf(news)
	resp := diffInputs(olds, news, ignore, diffRules{
		replace: []string{"image", "location", "datacenter", "sshKeys", "userData"},
		trim:    []string{"userData"},
		custom: func(_, _ resource.PropertyMap) []string {
			if publicNetReplaces(o, n) {
				return []string{"publicNets"}
			}
			return nil
		},
	})
	// A server that keeps its primary IP must go first: the API cannot assign the IP to a second server.
	if len(resp.Replaces) > 0 &&
		((o.v4ID != 0 && !n.v4Unknown && o.v4ID == n.v4ID) || (o.v6ID != 0 && !n.v6Unknown && o.v6ID == n.v6ID)) {
		resp.DeleteBeforeReplace = true
	}
	return resp
}

func (serverKind) computed() []string {
	return []string{"ipv4Address", "ipv6Address", "ipv6Network", "status", "location", "backupWindow",
		"primaryDiskSize", "firewallIds", "labels"}
}

func serverOutputs(inputs resource.PropertyMap, s *hcloud.Server) resource.PropertyMap {
	api := resource.PropertyMap{
		"name":            strV(s.Name),
		"status":          strV(string(s.Status)),
		"ipv4Address":     strV(""),
		"ipv6Address":     strV(""),
		"ipv6Network":     strV(""),
		"labels":          labelsV(s.Labels),
		"primaryDiskSize": numV(int64(s.PrimaryDiskSize)),
		"backupWindow":    strV(s.BackupWindow),
	}
	if s.ServerType != nil {
		api["serverType"] = strV(s.ServerType.Name)
	}
	if s.Location != nil {
		api["location"] = strV(s.Location.Name)
	}
	if !s.PublicNet.IPv4.IsUnspecified() {
		api["ipv4Address"] = strV(s.PublicNet.IPv4.IP.String())
	}
	if net6 := s.PublicNet.IPv6.Network; net6 != nil && !s.PublicNet.IPv6.IsUnspecified() {
		api["ipv6Network"] = strV(net6.String())
		// The server's own address is the first one of its /64, as the real provider reports it.
		first := slices.Clone(net6.IP.To16())
		first[len(first)-1]++
		api["ipv6Address"] = strV(net.IP(first).String())
	}
	fw := []int64{}
	for _, f := range s.PublicNet.Firewalls {
		fw = append(fw, f.Firewall.ID)
	}
	api["firewallIds"] = intsV(fw)
	if inputs == nil {
		if s.Image != nil {
			api["image"] = strV(s.Image.Name)
		}
		api["publicNets"] = resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(resource.PropertyMap{
			"ipv4Enabled": boolV(!s.PublicNet.IPv4.IsUnspecified()), "ipv4": numV(s.PublicNet.IPv4.ID),
			"ipv6Enabled": boolV(!s.PublicNet.IPv6.IsUnspecified()), "ipv6": numV(s.PublicNet.IPv6.ID),
		})})
		return api
	}
	if t, ok := base.GetString(inputs, "serverType"); ok {
		if id, _ := idOrName(t); id != 0 {
			delete(api, "serverType") // given by ID: keep it so, or every refresh would see a change
		}
	}
	return mergeOutputs(inputs, api)
}

func (serverKind) create(ctx context.Context, op *operation, in resource.PropertyMap) (string, resource.PropertyMap, error) {
	name := str(in, "name")
	keys, err := sshKeys(ctx, op, stringList(in, "sshKeys"))
	if err != nil {
		return "", nil, fmt.Errorf("creating server %q: %w", name, err)
	}
	typeID, typeName := idOrName(str(in, "serverType"))
	imageID, imageName := idOrName(str(in, "image"))
	opts := hcloud.ServerCreateOpts{
		Name:       name,
		ServerType: &hcloud.ServerType{ID: typeID, Name: typeName},
		Image:      &hcloud.Image{ID: imageID, Name: imageName},
		SSHKeys:    keys,
		UserData:   str(in, "userData"),
		Labels:     labels(in),
	}
	if loc := str(in, "location"); loc != "" {
		opts.Location = &hcloud.Location{Name: loc}
	}
	if v := in["publicNets"]; v.IsArray() && len(v.ArrayValue()) > 0 {
		pn := publicNetOf(in)
		opts.PublicNet = &hcloud.ServerCreatePublicNet{EnableIPv4: pn.v4, EnableIPv6: pn.v6}
		if pn.v4ID != 0 {
			opts.PublicNet.IPv4 = &hcloud.PrimaryIP{ID: pn.v4ID}
		}
		if pn.v6ID != 0 {
			opts.PublicNet.IPv6 = &hcloud.PrimaryIP{ID: pn.v6ID}
		}
	}
	res, _, err := op.client.Server.Create(ctx, opts)
	if err != nil {
		return "", nil, fmt.Errorf("creating server %q: %w", name, err)
	}
	id := idString(res.Server.ID)
	op.status(fmt.Sprintf("waiting for server %s (%s) to start", name, id))
	if err := op.wait(ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...); err != nil {
		return id, serverOutputs(in, res.Server), fmt.Errorf("creating server %q (%s): %w", name, id, err)
	}
	s, _, err := op.client.Server.GetByID(ctx, res.Server.ID)
	if err == nil && s == nil {
		err = errors.New("it is gone right after its creation")
	}
	if err != nil {
		return id, serverOutputs(in, res.Server), fmt.Errorf("reading server %q (%s): %w", name, id, err)
	}
	return id, serverOutputs(in, s), nil
}

// sshKeys turns IDs and names into keys; only names need a look-up.
func sshKeys(ctx context.Context, op *operation, idsOrNames []string) ([]*hcloud.SSHKey, error) {
	var keys []*hcloud.SSHKey
	for _, s := range idsOrNames {
		if id, _ := idOrName(s); id != 0 {
			keys = append(keys, &hcloud.SSHKey{ID: id})
			continue
		}
		k, _, err := op.client.SSHKey.GetByName(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("looking up SSH key %q: %w", s, err)
		}
		if k == nil {
			return nil, fmt.Errorf("SSH key not found: %s", s)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func (serverKind) read(ctx context.Context, op *operation, id string, inputs, _ resource.PropertyMap) (resource.PropertyMap, error) {
	n, err := parseID("server", id)
	if err != nil {
		return nil, err
	}
	s, _, err := op.client.Server.GetByID(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("reading server %s: %w", id, err)
	}
	if s == nil {
		return nil, nil
	}
	return serverOutputs(inputs, s), nil
}

func (serverKind) update(ctx context.Context, op *operation, id string, olds, _, news resource.PropertyMap) (resource.PropertyMap, error) {
	n, err := parseID("server", id)
	if err != nil {
		return nil, err
	}
	s, _, err := op.client.Server.GetByID(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("updating server %s: %w", id, err)
	}
	if s == nil {
		return nil, fmt.Errorf("updating server %s: it no longer exists (run `pulumi refresh`)", id)
	}
	if err := updateServer(ctx, op, s, olds, news); err != nil {
		return nil, fmt.Errorf("updating server %s: %w", id, err)
	}
	// Read back after the power-on, so that the status is current.
	if s, _, err = op.client.Server.GetByID(ctx, n); err == nil && s == nil {
		err = errors.New("it is gone")
	}
	if err != nil {
		return nil, fmt.Errorf("reading server %s after its update: %w", id, err)
	}
	return serverOutputs(news, s), nil
}

// updateServer applies the in-place changes: name and labels; then, with the server off, a new type and swapped
// primary IPs. A server that was running is powered on again afterwards, also after a failure.
func updateServer(ctx context.Context, op *operation, s *hcloud.Server, olds, news resource.PropertyMap) (err error) {
	if str(olds, "name") != str(news, "name") || !labelsV(labels(olds)).DeepEquals(labelsV(labels(news))) {
		if _, _, err := op.client.Server.Update(ctx, s, hcloud.ServerUpdateOpts{
			Name: str(news, "name"), Labels: labels(news),
		}); err != nil {
			return err
		}
	}
	newType := str(news, "serverType")
	resize := str(olds, "serverType") != newType
	pn := publicNetOf(news)
	swap4 := pn.v4ID != 0 && pn.v4ID != s.PublicNet.IPv4.ID
	swap6 := pn.v6ID != 0 && pn.v6ID != s.PublicNet.IPv6.ID
	if !resize && !swap4 && !swap6 {
		return nil
	}
	if s.Status == hcloud.ServerStatusRunning {
		op.warn(fmt.Sprintf("powering off server %s (%d) for the change", s.Name, s.ID))
		if err := powerOff(ctx, op, s); err != nil {
			return err
		}
		defer func() {
			if perr := powerOn(ctx, op, s); perr != nil && err == nil {
				err = perr
			}
		}()
	}
	if resize {
		op.status(fmt.Sprintf("changing the type of server %s to %s", s.Name, newType))
		typeID, typeName := idOrName(newType)
		action, _, err := op.client.Server.ChangeType(ctx, s, hcloud.ServerChangeTypeOpts{
			ServerType:  &hcloud.ServerType{ID: typeID, Name: typeName},
			UpgradeDisk: !base.GetBool(news, "keepDisk", false),
		})
		if err == nil {
			err = op.wait(ctx, action)
		}
		if err != nil {
			return fmt.Errorf("changing the type to %s: %w", newType, err)
		}
	}
	if swap4 {
		if err := swapPrimaryIP(ctx, op, s.ID, s.PublicNet.IPv4.ID, pn.v4ID); err != nil {
			return err
		}
	}
	if swap6 {
		if err := swapPrimaryIP(ctx, op, s.ID, s.PublicNet.IPv6.ID, pn.v6ID); err != nil {
			return err
		}
	}
	return nil
}

// swapPrimaryIP unassigns old (if any) from the server, which is off, and assigns new to it.
func swapPrimaryIP(ctx context.Context, op *operation, serverID, old, new int64) error {
	if old != 0 {
		op.status(fmt.Sprintf("unassigning primary IP %d", old))
		action, _, err := op.client.PrimaryIP.Unassign(ctx, old)
		if err == nil {
			err = op.wait(ctx, action)
		}
		if err != nil {
			return fmt.Errorf("unassigning primary IP %d: %w", old, err)
		}
	}
	op.status(fmt.Sprintf("assigning primary IP %d", new))
	action, _, err := op.client.PrimaryIP.Assign(ctx, hcloud.PrimaryIPAssignOpts{
		ID: new, AssigneeID: serverID, AssigneeType: "server",
	})
	if err == nil {
		err = op.wait(ctx, action)
	}
	if err != nil {
		return fmt.Errorf("assigning primary IP %d: %w", new, err)
	}
	return nil
}

func powerOff(ctx context.Context, op *operation, s *hcloud.Server) error {
	action, _, err := op.client.Server.Poweroff(ctx, s)
	if err == nil {
		err = op.wait(ctx, action)
	}
	if err != nil {
		return fmt.Errorf("powering off server %d: %w", s.ID, err)
	}
	return nil
}

func powerOn(ctx context.Context, op *operation, s *hcloud.Server) error {
	action, _, err := op.client.Server.Poweron(ctx, s)
	if err == nil {
		err = op.wait(ctx, action)
	}
	if err != nil {
		return fmt.Errorf("powering on server %d: %w", s.ID, err)
	}
	return nil
}

func (k serverKind) previewUpdate(olds, state, news resource.PropertyMap) resource.PropertyMap {
	var changed []string
	if o, n := base.Plain(olds["publicNets"]), base.Plain(news["publicNets"]); n.ContainsUnknowns() || !o.DeepEquals(n) {
		changed = append(changed, "ipv4Address", "ipv6Address", "ipv6Network")
	}
	return keepComputed(state, news, k.computed(), changed...)
}

func (serverKind) delete(ctx context.Context, op *operation, id string, _ resource.PropertyMap) error {
	n, err := parseID("server", id)
	if err != nil {
		return err
	}
	res, _, err := op.client.Server.DeleteWithResult(ctx, &hcloud.Server{ID: n})
	if notFound(err) {
		return nil
	}
	if err == nil {
		op.status(fmt.Sprintf("waiting for server %s to be deleted", id))
		err = op.wait(ctx, res.Action)
	}
	if err != nil {
		return fmt.Errorf("deleting server %s: %w", id, err)
	}
	return nil
}

func (serverKind) inputsFromOutputs(outs resource.PropertyMap) resource.PropertyMap {
	return inputsOf(outs, "name", "serverType", "image", "location", "sshKeys", "publicNets", "labels", "userData",
		"keepDisk", "allowDeprecatedImages", "ignoreRemoteFirewallIds", "backups", "deleteProtection",
		"rebuildProtection", "shutdownBeforeDeletion")
}
