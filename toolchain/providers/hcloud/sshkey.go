package hcloud

import (
	"context"
	"fmt"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"mailstack/toolchain/providers/internal/base"
)

// sshKeyKind is hcloud:index/sshKey:SshKey. A new public key replaces the key (compared as written, without
// normalising whitespace: terraform-provider-hcloud internal/sshkey/resource.go, public_key RequiresReplace);
// name and labels update in place.
type sshKeyKind struct{}

func (sshKeyKind) spec() base.Spec {
	return base.Spec{
		"name":      {Kind: base.String},
		"publicKey": {Kind: base.String, Required: true},
		"labels":    {Kind: base.StringMap},
	}
}

func (sshKeyKind) check(news, _ resource.PropertyMap) []*pulumirpc.CheckFailure {
	var failures []*pulumirpc.CheckFailure
	if s, ok := base.GetString(news, "publicKey"); ok && s == "" {
		failures = append(failures, base.Failure("publicKey", "'publicKey' must not be empty"))
	}
	return append(failures, validateLabels(news)...)
}

func (sshKeyKind) diff(olds, news resource.PropertyMap, ignore []string) *pulumirpc.DiffResponse {
	return diffInputs(olds, news, ignore, diffRules{replace: []string{"publicKey"}})
}

func (sshKeyKind) computed() []string { return []string{"fingerprint", "labels"} }

func sshKeyOutputs(inputs resource.PropertyMap, k *hcloud.SSHKey) resource.PropertyMap {
	api := resource.PropertyMap{
		"name":        strV(k.Name),
		"fingerprint": strV(k.Fingerprint),
		"labels":      labelsV(k.Labels),
	}
	if inputs == nil {
		api["publicKey"] = strV(k.PublicKey)
		return api
	}
	return mergeOutputs(inputs, api)
}

func (sshKeyKind) create(ctx context.Context, op *operation, in resource.PropertyMap) (string, resource.PropertyMap, error) {
	k, _, err := op.client.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{
		Name:      str(in, "name"),
		PublicKey: str(in, "publicKey"),
		Labels:    labels(in),
	})
	if err != nil {
		return "", nil, fmt.Errorf("creating SSH key %q: %w", str(in, "name"), err)
	}
	return idString(k.ID), sshKeyOutputs(in, k), nil
}

func (sshKeyKind) read(ctx context.Context, op *operation, id string, inputs, _ resource.PropertyMap) (resource.PropertyMap, error) {
	k, err := fetch(ctx, "SSH key", id, op.client.SSHKey.GetByID)
	if err != nil || k == nil {
		return nil, err
	}
	return sshKeyOutputs(inputs, k), nil
}

func (sshKeyKind) update(ctx context.Context, op *operation, id string, _, _, news resource.PropertyMap) (resource.PropertyMap, error) {
	n, err := parseID("SSH key", id)
	if err != nil {
		return nil, err
	}
	k, _, err := op.client.SSHKey.Update(ctx, &hcloud.SSHKey{ID: n}, hcloud.SSHKeyUpdateOpts{
		Name:   str(news, "name"),
		Labels: labels(news),
	})
	if err != nil {
		return nil, fmt.Errorf("updating SSH key %s: %w", id, err)
	}
	return sshKeyOutputs(news, k), nil
}

func (k sshKeyKind) previewUpdate(_, state, news resource.PropertyMap) resource.PropertyMap {
	return keepComputed(state, news, k.computed())
}

func (sshKeyKind) delete(ctx context.Context, op *operation, id string, _ resource.PropertyMap) error {
	return deleteByID("SSH key", id, func(n int64) (*hcloud.Response, error) {
		return op.client.SSHKey.Delete(ctx, &hcloud.SSHKey{ID: n})
	})
}

func (sshKeyKind) inputsFromOutputs(outs resource.PropertyMap) resource.PropertyMap {
	return inputsOf(outs, "name", "publicKey", "labels")
}
