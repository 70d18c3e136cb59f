package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// bailExitCode is the exit code @pulumi/pulumi's cmd/run uses
// (nodeJSProcessExitedAfterLoggingUserActionableMessage) to say "the error was
// already shown to the user"; the engine must then not print another one.
const bailExitCode = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	opts options

	mu         sync.Mutex
	engineAddr string // from the command line, or later from Handshake
}

func newHost(opts options) *host {
	return &host{opts: opts, engineAddr: opts.engineAddr}
}

func (h *host) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddr
}

// Handshake is only sent when the engine attaches to an already running host
// (PULUMI_DEBUG_LANGUAGES); then it is the only way we learn the engine address.
func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest) (
	*pulumirpc.LanguageHandshakeResponse, error,
) {
	if req.GetEngineAddress() != "" {
		h.mu.Lock()
		h.engineAddr = req.GetEngineAddress()
		h.mu.Unlock()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// programDir is where the program lives; older engines only sent pwd.
func programDir(info *pulumirpc.ProgramInfo, pwd string) string {
	if d := info.GetProgramDirectory(); d != "" {
		return d
	}
	if pwd != "" {
		return pwd
	}
	return "."
}

func (h *host) GetRequiredPackages(_ context.Context, req *pulumirpc.GetRequiredPackagesRequest) (
	*pulumirpc.GetRequiredPackagesResponse, error,
) {
	refs, err := h.plugins(programDir(req.GetInfo(), ""))
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	for _, r := range refs {
		p := &pulumirpc.PackageDependency{Kind: "resource", Name: r.Name, Version: r.Version, Server: r.Server}
		if r.ParamName != "" {
			p.Parameterization = &pulumirpc.PackageParameterization{
				Name: r.ParamName, Version: r.ParamVersion, Value: r.ParamValue,
			}
		}
		resp.Packages = append(resp.Packages, p)
	}
	return resp, nil
}

// GetRequiredPlugins is deprecated but still what engines fall back to.
func (h *host) GetRequiredPlugins(_ context.Context, req *pulumirpc.GetRequiredPluginsRequest) (
	*pulumirpc.GetRequiredPluginsResponse, error,
) {
	refs, err := h.plugins(programDir(req.GetInfo(), req.GetPwd())) //nolint:staticcheck // older engines
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPluginsResponse{}
	for _, r := range refs {
		if r.ParamName != "" {
			continue // cannot be expressed as a plain plugin dependency
		}
		resp.Plugins = append(resp.Plugins, &pulumirpc.PluginDependency{
			Kind: "resource", Name: r.Name, Version: r.Version, Server: r.Server,
		})
	}
	return resp, nil
}

func (h *host) plugins(dir string) ([]pluginRef, error) {
	nm, ok := findNodeModules(dir)
	if !ok {
		// Not fatal here: Run reports the missing install with a clearer message.
		h.debugf(3, "no node_modules above %s; reporting no plugins", dir)
		return nil, nil
	}
	refs, err := requiredPlugins(nm)
	h.debugf(5, "plugins in %s: %+v (err=%v)", nm, refs, err)
	return refs, err
}

// runtimeOptions are the `runtime.options` of Pulumi.yaml that we honour.
type runtimeOptions struct {
	typescript bool     // register ts-node (default true)
	tsconfig   string   // tsconfig path relative to the program
	nodeargs   []string // extra arguments for node itself
}

func parseRuntimeOptions(s *structpb.Struct) runtimeOptions {
	o := runtimeOptions{typescript: true}
	m := s.AsMap()
	switch v := m["typescript"].(type) {
	case bool:
		o.typescript = v
	case string: // YAML authors sometimes quote it
		if b, err := strconv.ParseBool(v); err == nil {
			o.typescript = b
		}
	}
	if v, ok := m["tsconfig"].(string); ok {
		o.tsconfig = v
	}
	if v, ok := m["nodeargs"].(string); ok {
		o.nodeargs = strings.Fields(v)
	}
	return o
}

// nodeCommand is everything needed to start the program, minus node itself.
type nodeCommand struct {
	dir  string   // working directory
	args []string // arguments after `node`
	env  []string // KEY=VALUE pairs added to our own environment
}

// buildRunCommand turns a RunRequest into the command line and environment
// that @pulumi/pulumi's cmd/run reads (see its minimist options and
// runtime/config.js). runScript is the path of that cmd/run directory.
func buildRunCommand(req *pulumirpc.RunRequest, runScript, engineAddr, tracing string) (nodeCommand, error) {
	info := req.GetInfo()
	dir := programDir(info, req.GetPwd())
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = req.GetProgram() //nolint:staticcheck // older engines
	}
	if entry == "" {
		entry = "."
	}
	pwd := req.GetPwd()
	if pwd == "" {
		pwd = dir
	}
	// cmd/run treats a literal "." specially: it then honours package.json's
	// "main"/"exports" (our "main": "index.ts"). Any other entry point is made
	// absolute because cmd/run resolves relative ones against --pwd.
	program := entry
	if entry != "." || filepath.Clean(pwd) != filepath.Clean(dir) {
		program = filepath.Join(dir, entry)
	}
	opts := parseRuntimeOptions(info.GetOptions())

	args := append([]string{}, opts.nodeargs...)
	args = append(args, runScript,
		"--monitor="+req.GetMonitorAddress(),
		"--project="+req.GetProject(),
		"--stack="+req.GetStack(),
		"--pwd="+pwd,
		// "=" form throughout: minimist would otherwise read a negative
		// parallelism as a flag.
		"--parallel="+strconv.Itoa(int(req.GetParallel())),
	)
	if engineAddr != "" {
		args = append(args, "--engine="+engineAddr)
	}
	if org := req.GetOrganization(); org != "" {
		args = append(args, "--organization="+org)
	}
	if root := info.GetRootDirectory(); root != "" {
		args = append(args, "--root-directory="+root)
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	if tracing != "" {
		args = append(args, "--tracing="+tracing)
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	// Config travels in the environment, not in flags, so that every copy of
	// @pulumi/pulumi loaded by the program sees the same values.
	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nodeCommand{}, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nodeCommand{}, err
	}
	env := []string{
		"PULUMI_CONFIG=" + string(configJSON),
		"PULUMI_CONFIG_SECRET_KEYS=" + string(secretJSON),
		"PULUMI_NODEJS_TYPESCRIPT=" + strconv.FormatBool(opts.typescript),
	}
	if opts.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfig)
	}
	return nodeCommand{dir: pwd, args: args, env: env}, nil
}

// findRunScript locates node_modules/@pulumi/pulumi/cmd/run the way Node's
// require would from the program directory. We use the program's own copy so
// the SDK version always matches the one the program was written against.
func findRunScript(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "node_modules", "@pulumi", "pulumi", "cmd", "run")
		if _, err := os.Stat(filepath.Join(p, "index.js")); err == nil {
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("could not find @pulumi/pulumi in node_modules of %s or its parents; "+
				"run `npm ci` (or `npm install`) in the program directory first", abs)
		}
	}
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "could not find `node` on PATH: " + err.Error()}, nil
	}
	runScript, err := findRunScript(programDir(req.GetInfo(), req.GetPwd()))
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	nc, err := buildRunCommand(req, runScript, h.engine(), h.opts.tracing)
	if err != nil {
		return nil, err
	}
	h.debugf(5, "running %s %q in %s", node, nc.args, nc.dir)

	// If the engine abandons the call (cancellation), the program must not
	// keep registering resources behind its back.
	cmd := exec.CommandContext(ctx, node, nc.args...)
	cmd.Dir = nc.dir
	cmd.Env = append(os.Environ(), nc.env...) // later entries win in os/exec
	// Our stdout/stderr are pipes the engine already reads and shows to the
	// user, so the program writes straight into them.
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return runResponse(cmd.Run()), nil
}

// runResponse maps how node ended to what the engine expects.
func runResponse(err error) *pulumirpc.RunResponse {
	if err == nil {
		return &pulumirpc.RunResponse{}
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return &pulumirpc.RunResponse{Error: "could not run node: " + err.Error()}
	}
	switch code := exit.ExitCode(); code {
	case bailExitCode:
		return &pulumirpc.RunResponse{Bail: true}
	case -1:
		return &pulumirpc.RunResponse{Error: "the Node.js program was stopped: " + exit.String()}
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("the Node.js program exited with code %d", code)}
	}
}

func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("could not find `node` on PATH: %w", err)
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --version: %w", node, err)
	}
	return &pulumirpc.AboutResponse{
		Executable: node,
		Version:    strings.TrimPrefix(strings.TrimSpace(string(out)), "v"),
	}, nil
}

func (h *host) GetProgramDependencies(_ context.Context, req *pulumirpc.GetProgramDependenciesRequest) (
	*pulumirpc.GetProgramDependenciesResponse, error,
) {
	deps, err := programDependencies(
		programDir(req.GetInfo(), req.GetPwd()), //nolint:staticcheck // older engines
		req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, d := range deps {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: d.Name, Version: d.Version})
	}
	return resp, nil
}

// npmInstallArgs prefers `npm ci` when a lockfile exists: it installs exactly
// what was reviewed and never rewrites package-lock.json.
func npmInstallArgs(dir string) []string {
	for _, lock := range []string{"package-lock.json", "npm-shrinkwrap.json"} {
		if _, err := os.Stat(filepath.Join(dir, lock)); err == nil {
			return []string{"ci", "--no-audit", "--no-fund"}
		}
	}
	return []string{"install", "--no-audit", "--no-fund"}
}

func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	stream grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetDirectory() //nolint:staticcheck // older engines
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("could not find `npm` on PATH: %w", err)
	}
	args := npmInstallArgs(dir)
	cmd := exec.CommandContext(stream.Context(), npm, args...)
	cmd.Dir = dir
	// os/exec copies stdout and stderr on two goroutines, but a gRPC stream
	// allows only one Send at a time.
	var mu sync.Mutex
	send := func(r *pulumirpc.InstallDependenciesResponse) error {
		mu.Lock()
		defer mu.Unlock()
		return stream.Send(r)
	}
	cmd.Stdout = writerFunc(func(p []byte) error { return send(&pulumirpc.InstallDependenciesResponse{Stdout: p}) })
	cmd.Stderr = writerFunc(func(p []byte) error { return send(&pulumirpc.InstallDependenciesResponse{Stderr: p}) })
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm %s in %s failed: %w", args[0], dir, err)
	}
	return nil
}

// writerFunc adapts a send function to io.Writer. Send serialises the
// message before returning, so p is not retained.
type writerFunc func(p []byte) error

func (f writerFunc) Write(p []byte) (int, error) {
	if err := f(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// RuntimeOptionsPrompts is asked during `pulumi new`; we have nothing to ask.
func (h *host) RuntimeOptionsPrompts(context.Context, *pulumirpc.RuntimeOptionsRequest) (
	*pulumirpc.RuntimeOptionsResponse, error,
) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}
