package command

import (
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"mailstack/toolchain/providers/internal/base"
)

// The resource type tokens, as the @pulumi/command npm SDK registers them.
const (
	remoteCommandType = "command:remote:Command"
	localCommandType  = "command:local:Command"
	copyToRemoteType  = "command:remote:CopyToRemote"
)

// Logging modes of the `logging` input; absent means stdoutAndStderr.
var loggingModes = []string{"stdout", "stderr", "stdoutAndStderr", "none"}

// The members of `connection` (and of `connection.proxy`, which is the same minus its own proxy).
var proxySpec = base.Spec{
	"host":               {Kind: base.String, Required: true},
	"port":               {Kind: base.Int, Min: base.Int64Ptr(1)},
	"user":               {Kind: base.String},
	"password":           {Kind: base.String},
	"privateKey":         {Kind: base.String},
	"privateKeyPassword": {Kind: base.String},
	"agentSocketPath":    {Kind: base.String},
	"dialErrorLimit":     {Kind: base.Int, Min: base.Int64Ptr(-1)},
	"perDialTimeout":     {Kind: base.Int, Min: base.Int64Ptr(0)}, // 0: no bound
	"hostKey":            {Kind: base.String},
}

var connectionSpec = func() base.Spec {
	s := base.Spec{"proxy": {Kind: base.Object, Fields: proxySpec}}
	for k, v := range proxySpec {
		s[k] = v
	}
	return s
}()

// Inputs every Command has.
var commonSpec = base.Spec{
	"create":                 {Kind: base.String},
	"update":                 {Kind: base.String},
	"delete":                 {Kind: base.String},
	"stdin":                  {Kind: base.String},
	"environment":            {Kind: base.StringMap},
	"triggers":               {Kind: base.Array},
	"addPreviousOutputInEnv": {Kind: base.Bool},
	"logging":                {Kind: base.String, Enum: loggingModes},
}

var specs = map[string]base.Spec{
	remoteCommandType: merge(commonSpec, base.Spec{
		"connection": {Kind: base.Object, Required: true, Fields: connectionSpec},
	}),
	localCommandType: merge(commonSpec, base.Spec{
		"dir":         {Kind: base.String},
		"interpreter": {Kind: base.StringArray},
		// Accepted so that programs written for the real provider pass Check, but not implemented: setting
		// them fails in Create with a clear message.
		"assetPaths":   {Kind: base.StringArray},
		"archivePaths": {Kind: base.StringArray},
	}),
	copyToRemoteType: {
		"connection": {Kind: base.Object, Required: true, Fields: connectionSpec},
		"source":     {Kind: base.Asset, Required: true},
		"remotePath": {Kind: base.String, Required: true},
		"triggers":   {Kind: base.Array},
	},
}

func merge(a, b base.Spec) base.Spec {
	out := base.Spec{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// connection is the parsed `connection` input.
type connection struct {
	host, user, password, privateKey, privateKeyPassword, agentSocketPath, hostKey string
	port                                                                           int
	dialErrorLimit                                                                 int // -1: retry forever
	perDialTimeout                                                                 int // seconds
	proxy                                                                          *connection
}

func parseConnection(pm resource.PropertyMap) *connection {
	c := &connection{
		port:           int(base.GetInt(pm, "port", 22)),
		dialErrorLimit: int(base.GetInt(pm, "dialErrorLimit", 10)),
		perDialTimeout: int(base.GetInt(pm, "perDialTimeout", 15)),
	}
	c.host, _ = base.GetString(pm, "host")
	c.user, _ = base.GetString(pm, "user")
	if c.user == "" {
		c.user = "root"
	}
	c.password, _ = base.GetString(pm, "password")
	c.privateKey, _ = base.GetString(pm, "privateKey")
	c.privateKeyPassword, _ = base.GetString(pm, "privateKeyPassword")
	c.agentSocketPath, _ = base.GetString(pm, "agentSocketPath")
	c.hostKey, _ = base.GetString(pm, "hostKey")
	if p := base.Plain(pm["proxy"]); p.IsObject() {
		c.proxy = parseConnection(p.ObjectValue())
	}
	return c
}

// commandInputs are the parsed, known inputs of a Command (local or remote).
type commandInputs struct {
	create, update, delete string
	stdin                  *string // nil: no stdin at all (the command sees an empty, closed stdin)
	environment            map[string]string
	addPreviousOutputInEnv bool
	logging                string
	dir                    string   // local only
	interpreter            []string // local only
	conn                   *connection
}

func parseInputs(pm resource.PropertyMap) (*commandInputs, error) {
	in := &commandInputs{
		addPreviousOutputInEnv: base.GetBool(pm, "addPreviousOutputInEnv", true),
		logging:                "stdoutAndStderr",
		interpreter:            []string{"/bin/sh", "-c"},
		environment:            map[string]string{},
	}
	in.create, _ = base.GetString(pm, "create")
	in.update, _ = base.GetString(pm, "update")
	in.delete, _ = base.GetString(pm, "delete")
	in.dir, _ = base.GetString(pm, "dir")
	if s, ok := base.GetString(pm, "stdin"); ok {
		in.stdin = &s
	}
	if l, ok := base.GetString(pm, "logging"); ok {
		in.logging = l
	}
	if v := base.Plain(pm["interpreter"]); v.IsArray() && len(v.ArrayValue()) > 0 {
		in.interpreter = nil
		for _, e := range v.ArrayValue() {
			in.interpreter = append(in.interpreter, e.StringValue())
		}
	}
	if v := base.Plain(pm["environment"]); v.IsObject() {
		for k, e := range v.ObjectValue() {
			if e.IsString() {
				in.environment[string(k)] = e.StringValue()
			}
		}
	}
	if v := base.Plain(pm["connection"]); v.IsObject() {
		in.conn = parseConnection(v.ObjectValue())
	}
	for _, key := range []string{"assetPaths", "archivePaths"} {
		if v := base.Plain(pm[resource.PropertyKey(key)]); v.IsArray() && len(v.ArrayValue()) > 0 {
			return nil, fmt.Errorf("'%s' is not supported by mailstack's command provider", key)
		}
	}
	return in, nil
}

// sortedEnv returns the environment as sorted KEY=VALUE-ready pairs, for deterministic behaviour.
func sortedEnv(env map[string]string) [][2]string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][2]string, len(keys))
	for i, k := range keys {
		out[i] = [2]string{k, env[k]}
	}
	return out
}
