package hcloud

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"mailstack/toolchain/providers/internal/base"
)

// firewallKind is hcloud:index/firewall:Firewall. Nothing replaces it: name and labels update in place, rules are
// replaced as a whole by the set_rules action. Attach it with a FirewallAttachment (applyTos is not supported).
type firewallKind struct{ shape }

var firewallShape = shape{
	inputs:  fields("name rules:list labels:map applyTos:list"),
	rules:   diffRules{normal: map[string]func(resource.PropertyValue) resource.PropertyValue{"rules": sortedRules}},
	outputs: []string{"applyTos", "labels"}, restored: []string{"name", "rules", "labels"},
	reader: reads("firewall", func(c *hcloud.Client) getter[hcloud.Firewall] { return c.Firewall.GetByID }, firewallOutputs),
}

var ruleSpec = fields("direction!=in|out protocol!=tcp|udp|icmp|esp|gre port sourceIps:strings destinationIps:strings description")

// portRange is what the API takes: a port, a range "from-to", or "any".
var portRange = regexp.MustCompile(`^(any|[0-9]{1,5}(-[0-9]{1,5})?)$`)

func (firewallKind) check(news, _ resource.PropertyMap) []*pulumirpc.CheckFailure {
	failures := unsupported(news, map[string]resource.PropertyValue{"applyTos": resource.NewNullProperty()})
	failures = append(failures, validateObjects(news, "rules", ruleSpec)...)
	failures = append(failures, validateLabels(news)...)
	rules := base.Plain(news["rules"])
	if !rules.IsArray() {
		return failures
	}
	for i, r := range rules.ArrayValue() {
		if !r.IsObject() {
			continue
		}
		m := r.ObjectValue()
		path := fmt.Sprintf("rules[%d]", i)
		proto, _ := base.GetString(m, "protocol")
		port, hasPort := base.GetString(m, "port")
		switch {
		case (proto == "tcp" || proto == "udp") && m["port"].IsNull():
			failures = append(failures, base.Failure(path+".port", "'%s.port' is required for %s", path, proto))
		case (proto == "icmp" || proto == "esp" || proto == "gre") && !m["port"].IsNull():
			failures = append(failures, base.Failure(path+".port", "'%s.port' must not be set for %s", path, proto))
		case hasPort && !portRange.MatchString(port):
			failures = append(failures, base.Failure(path+".port",
				"'%s.port' must be a port, a range such as 1024-2048, or \"any\", not %q", path, port))
		}
		dir, _ := base.GetString(m, "direction")
		need := map[string]string{"in": "sourceIps", "out": "destinationIps"}[dir]
		if need != "" {
			if v := m[resource.PropertyKey(need)]; v.IsNull() || (v.IsArray() && len(v.ArrayValue()) == 0) {
				failures = append(failures, base.Failure(path+"."+need,
					"'%s.%s' is required for direction %q", path, need, dir))
			}
		}
		for _, key := range []string{"sourceIps", "destinationIps"} {
			for j, s := range stringList(m, key) {
				if _, err := parseCIDR(s); err != nil {
					failures = append(failures, base.Failure(fmt.Sprintf("%s.%s[%d]", path, key, j),
						"'%s.%s[%d]': %v", path, key, j, err))
				}
			}
		}
	}
	return failures
}

// parseCIDR takes a network in CIDR notation, or a single address.
func parseCIDR(s string) (net.IPNet, error) {
	if !strings.Contains(s, "/") {
		if ip := net.ParseIP(s); ip != nil {
			bits := 128
			if ip.To4() != nil {
				ip, bits = ip.To4(), 32
			}
			return net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
		}
	}
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		return net.IPNet{}, fmt.Errorf("%q is not an address or a network in CIDR notation", s)
	}
	if !ip.Equal(n.IP) {
		return net.IPNet{}, fmt.Errorf("%q has host bits set: the network is %s", s, n)
	}
	return *n, nil
}

// sortedRules is the rules as a set of rules with sets of addresses.
func sortedRules(v resource.PropertyValue) resource.PropertyValue {
	if !v.IsArray() {
		return v
	}
	arr := make([]resource.PropertyValue, len(v.ArrayValue()))
	for i, r := range v.ArrayValue() {
		if r.IsObject() {
			m := r.ObjectValue().Copy()
			for _, k := range []resource.PropertyKey{"sourceIps", "destinationIps"} {
				if ips, ok := m[k]; ok {
					m[k] = sortedSet(ips)
				}
			}
			r = resource.NewObjectProperty(m)
		}
		arr[i] = r
	}
	return sortedSet(resource.NewArrayProperty(arr))
}

func rulesOf(in resource.PropertyMap) ([]hcloud.FirewallRule, error) {
	var rules []hcloud.FirewallRule
	v := base.Plain(in["rules"])
	if !v.IsArray() {
		return nil, nil
	}
	for _, e := range v.ArrayValue() {
		m := e.ObjectValue()
		r := hcloud.FirewallRule{
			Direction: hcloud.FirewallRuleDirection(str(m, "direction")),
			Protocol:  hcloud.FirewallRuleProtocol(str(m, "protocol")),
		}
		if p, ok := base.GetString(m, "port"); ok {
			r.Port = &p
		}
		if d, ok := base.GetString(m, "description"); ok {
			r.Description = &d
		}
		for _, s := range stringList(m, "sourceIps") {
			n, err := parseCIDR(s)
			if err != nil {
				return nil, err
			}
			r.SourceIPs = append(r.SourceIPs, n)
		}
		for _, s := range stringList(m, "destinationIps") {
			n, err := parseCIDR(s)
			if err != nil {
				return nil, err
			}
			r.DestinationIPs = append(r.DestinationIPs, n)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func rulesV(rules []hcloud.FirewallRule) resource.PropertyValue {
	arr := []resource.PropertyValue{}
	for _, r := range rules {
		m := resource.PropertyMap{"direction": strV(string(r.Direction)), "protocol": strV(string(r.Protocol))}
		if r.Port != nil {
			m["port"] = strV(*r.Port)
		}
		if r.Description != nil && *r.Description != "" {
			m["description"] = strV(*r.Description)
		}
		for key, nets := range map[resource.PropertyKey][]net.IPNet{"sourceIps": r.SourceIPs, "destinationIps": r.DestinationIPs} {
			if len(nets) > 0 {
				ss := make([]string, len(nets))
				for i, n := range nets {
					ss[i] = n.String()
				}
				m[key] = stringsV(ss)
			}
		}
		arr = append(arr, resource.NewObjectProperty(m))
	}
	return resource.NewArrayProperty(arr)
}

func applyTosV(applied []hcloud.FirewallResource) resource.PropertyValue {
	arr := []resource.PropertyValue{}
	for _, a := range applied {
		switch {
		case a.Type == hcloud.FirewallResourceTypeServer && a.Server != nil:
			arr = append(arr, resource.NewObjectProperty(resource.PropertyMap{"server": numV(a.Server.ID)}))
		case a.Type == hcloud.FirewallResourceTypeLabelSelector && a.LabelSelector != nil:
			arr = append(arr, resource.NewObjectProperty(resource.PropertyMap{
				"labelSelector": strV(a.LabelSelector.Selector)}))
		}
	}
	return resource.NewArrayProperty(arr)
}

func firewallOutputs(inputs resource.PropertyMap, fw *hcloud.Firewall) resource.PropertyMap {
	api := resource.PropertyMap{
		"name":     strV(fw.Name),
		"labels":   labelsV(fw.Labels),
		"applyTos": applyTosV(fw.AppliedTo),
	}
	// Rules as the API has them, unless they mean the same as the inputs (which keeps the inputs' spelling).
	if got, err := rulesOf(inputs); inputs == nil || err != nil || !rulesV(got).DeepEquals(rulesV(fw.Rules)) {
		api["rules"] = rulesV(fw.Rules)
	}
	return mergeOutputs(inputs, api)
}

func (firewallKind) delete(ctx context.Context, op *operation, id string, _ resource.PropertyMap) error {
	return deleteByID("firewall", id, func(n int64) (*hcloud.Response, error) {
		return op.client.Firewall.Delete(ctx, &hcloud.Firewall{ID: n})
	})
}

func (firewallKind) create(ctx context.Context, op *operation, in resource.PropertyMap) (string, resource.PropertyMap, error) {
	name := str(in, "name")
	rules, err := rulesOf(in)
	if err != nil {
		return "", nil, err
	}
	res, _, err := op.client.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: name, Labels: labels(in), Rules: rules})
	if err != nil {
		return "", nil, fmt.Errorf("creating firewall %q: %w", name, err)
	}
	id := idString(res.Firewall.ID)
	if err := op.wait(ctx, res.Actions...); err != nil {
		return id, nil, fmt.Errorf("creating firewall %q (%s): %w", name, id, err)
	}
	return id, firewallOutputs(in, res.Firewall), nil
}

func (firewallKind) update(ctx context.Context, op *operation, id string, olds, _, news resource.PropertyMap) (resource.PropertyMap, error) {
	n, err := parseID("firewall", id)
	if err != nil {
		return nil, err
	}
	fw := &hcloud.Firewall{ID: n}
	if str(olds, "name") != str(news, "name") || !labelsV(labels(olds)).DeepEquals(labelsV(labels(news))) {
		if _, _, err := op.client.Firewall.Update(ctx, fw, hcloud.FirewallUpdateOpts{
			Name: str(news, "name"), Labels: labels(news),
		}); err != nil {
			return nil, fmt.Errorf("updating firewall %s: %w", id, err)
		}
	}
	if !sortedRules(base.Plain(olds["rules"])).DeepEquals(sortedRules(base.Plain(news["rules"]))) {
		rules, err := rulesOf(news)
		if err != nil {
			return nil, err
		}
		if rules == nil {
			rules = []hcloud.FirewallRule{} // no rules: an empty list, not a missing one
		}
		actions, _, err := op.client.Firewall.SetRules(ctx, fw, hcloud.FirewallSetRulesOpts{Rules: rules})
		if err == nil {
			err = op.wait(ctx, actions...)
		}
		if err != nil {
			return nil, fmt.Errorf("setting the rules of firewall %s: %w", id, err)
		}
	}
	got, _, err := op.client.Firewall.GetByID(ctx, n)
	if err == nil && got == nil {
		err = errors.New("it is gone")
	}
	if err != nil {
		return nil, fmt.Errorf("reading firewall %s after its update: %w", id, err)
	}
	return firewallOutputs(news, got), nil
}

// firewallAttachmentKind is hcloud:index/firewallAttachment:FirewallAttachment: which servers (by ID) and label
// selectors a firewall applies to. Its ID is the firewall's. A new firewallId replaces it; the lists update in
// place (applying and removing the difference) and, as sets, are kept sorted.
type firewallAttachmentKind struct{ shape }

var firewallAttachmentShape = shape{
	inputs: fields("firewallId:int! serverIds:list labelSelectors:strings"),
	rules: diffRules{replace: []string{"firewallId"}, normal: map[string]func(resource.PropertyValue) resource.PropertyValue{
		"serverIds": sortedSet, "labelSelectors": sortedSet,
	}},
	restored: []string{"firewallId", "serverIds", "labelSelectors"},
}

func (firewallAttachmentKind) check(news, _ resource.PropertyMap) []*pulumirpc.CheckFailure {
	failures := validateInt(news, "firewallId")
	failures = append(failures, validateInts(news, "serverIds")...)
	s, l := news["serverIds"], news["labelSelectors"]
	count := func(v resource.PropertyValue) int {
		if v = base.Plain(v); v.IsArray() {
			return len(v.ArrayValue())
		}
		return 0
	}
	if !s.ContainsUnknowns() && !l.ContainsUnknowns() && count(s)+count(l) == 0 {
		failures = append(failures, base.Failure("serverIds",
			"at least one of 'serverIds' or 'labelSelectors' must list something to attach the firewall to"))
	}
	return failures
}

func attachmentResources(serverIDs []int64, selectors []string) []hcloud.FirewallResource {
	var rs []hcloud.FirewallResource
	for _, id := range serverIDs {
		rs = append(rs, hcloud.FirewallResource{Type: hcloud.FirewallResourceTypeServer,
			Server: &hcloud.FirewallResourceServer{ID: id}})
	}
	for _, s := range selectors {
		rs = append(rs, hcloud.FirewallResource{Type: hcloud.FirewallResourceTypeLabelSelector,
			LabelSelector: &hcloud.FirewallResourceLabelSelector{Selector: s}})
	}
	return rs
}

func (firewallAttachmentKind) create(ctx context.Context, op *operation, in resource.PropertyMap) (string, resource.PropertyMap, error) {
	fwID, _ := intOf(in, "firewallId")
	id := idString(fwID)
	rs := attachmentResources(ints(in, "serverIds"), stringList(in, "labelSelectors"))
	actions, _, err := op.client.Firewall.ApplyResources(ctx, &hcloud.Firewall{ID: fwID}, rs)
	if hcloud.IsError(err, hcloud.ErrorCodeFirewallAlreadyApplied) {
		return id, in.Copy(), nil
	}
	if err == nil {
		err = op.wait(ctx, actions...)
	}
	if err != nil {
		return "", nil, fmt.Errorf("applying firewall %s: %w", id, err)
	}
	return id, in.Copy(), nil
}

// attached reads what the firewall applies to now.
func attached(ctx context.Context, op *operation, fwID int64) (*hcloud.Firewall, []int64, []string, error) {
	fw, _, err := op.client.Firewall.GetByID(ctx, fwID)
	if err != nil || fw == nil {
		return fw, nil, nil, err
	}
	servers, selectors := []int64{}, []string{}
	for _, a := range fw.AppliedTo {
		switch {
		case a.Type == hcloud.FirewallResourceTypeServer && a.Server != nil:
			servers = append(servers, a.Server.ID)
		case a.Type == hcloud.FirewallResourceTypeLabelSelector && a.LabelSelector != nil:
			selectors = append(selectors, a.LabelSelector.Selector)
		}
	}
	slices.Sort(servers)
	sort.Strings(selectors)
	return fw, servers, selectors, nil
}

func (firewallAttachmentKind) read(ctx context.Context, op *operation, id string, inputs, _ resource.PropertyMap) (resource.PropertyMap, error) {
	n, err := parseID("firewall", id)
	if err != nil {
		return nil, err
	}
	fw, servers, selectors, err := attached(ctx, op, n)
	if err != nil {
		return nil, fmt.Errorf("reading firewall %s: %w", id, err)
	}
	if fw == nil {
		return nil, nil
	}
	// A firewall that applies to nothing keeps its attachment, with empty sets, as upstream's read does; the next
	// up applies it again.
	api := resource.PropertyMap{"firewallId": numV(n), "serverIds": intsV(servers), "labelSelectors": stringsV(selectors)}
	if inputs == nil {
		return api, nil
	}
	outs := mergeOutputs(inputs, api)
	if _, ok := inputs["labelSelectors"]; !ok && len(selectors) == 0 {
		delete(outs, "labelSelectors")
	}
	if _, ok := inputs["serverIds"]; !ok && len(servers) == 0 {
		delete(outs, "serverIds")
	}
	return outs, nil
}

func (firewallAttachmentKind) update(ctx context.Context, op *operation, id string, _, _, news resource.PropertyMap) (resource.PropertyMap, error) {
	n, err := parseID("firewall", id)
	if err != nil {
		return nil, err
	}
	fw, servers, selectors, err := attached(ctx, op, n)
	if err == nil && fw == nil {
		err = errors.New("the firewall no longer exists")
	}
	if err != nil {
		return nil, fmt.Errorf("updating the attachment of firewall %s: %w", id, err)
	}
	wantServers, wantSelectors := ints(news, "serverIds"), stringList(news, "labelSelectors")
	missing := func(from []int64, in []int64) (out []int64) {
		for _, x := range from {
			if !slices.Contains(in, x) {
				out = append(out, x)
			}
		}
		return out
	}
	missingS := func(from []string, in []string) (out []string) {
		for _, x := range from {
			if !slices.Contains(in, x) {
				out = append(out, x)
			}
		}
		return out
	}
	var actions []*hcloud.Action
	if rm := attachmentResources(missing(servers, wantServers), missingS(selectors, wantSelectors)); len(rm) > 0 {
		as, _, err := op.client.Firewall.RemoveResources(ctx, fw, rm)
		if err != nil && !hcloud.IsError(err, hcloud.ErrorCodeFirewallAlreadyRemoved) {
			return nil, fmt.Errorf("removing firewall %s from resources: %w", id, err)
		}
		actions = append(actions, as...)
	}
	if add := attachmentResources(missing(wantServers, servers), missingS(wantSelectors, selectors)); len(add) > 0 {
		as, _, err := op.client.Firewall.ApplyResources(ctx, fw, add)
		if err != nil && !hcloud.IsError(err, hcloud.ErrorCodeFirewallAlreadyApplied) {
			return nil, fmt.Errorf("applying firewall %s: %w", id, err)
		}
		actions = append(actions, as...)
	}
	if err := op.wait(ctx, actions...); err != nil {
		return nil, fmt.Errorf("updating the attachment of firewall %s: %w", id, err)
	}
	return news.Copy(), nil
}

func (firewallAttachmentKind) delete(ctx context.Context, op *operation, id string, state resource.PropertyMap) error {
	n, err := parseID("firewall", id)
	if err != nil {
		return err
	}
	rs := attachmentResources(ints(state, "serverIds"), stringList(state, "labelSelectors"))
	if len(rs) == 0 {
		return nil
	}
	actions, _, err := op.client.Firewall.RemoveResources(ctx, &hcloud.Firewall{ID: n}, rs)
	if hcloud.IsError(err, hcloud.ErrorCodeFirewallAlreadyRemoved) {
		return nil
	}
	if err == nil {
		err = op.wait(ctx, actions...)
	}
	if err != nil {
		return fmt.Errorf("removing firewall %s from its resources: %w", id, err)
	}
	return nil
}
